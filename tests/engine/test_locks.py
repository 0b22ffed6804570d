"""Session-scoped apply locks on real PostgreSQL and MariaDB."""

from __future__ import annotations

import contextlib

import pytest

from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.drivers.base import DatabaseError, LockTimeoutError, fnv1_32
from atlas_operator.engine.urls import parse_url
from tests.rig.services import ServiceURLs


def test_fnv1_key_matches_atlas() -> None:
    # Atlas's PostgreSQL key of its migrate lock (reference §2.4).
    assert fnv1_32("atlas_migrate_execute") == 2686470616


@pytest.mark.parametrize("server", ["postgres", "mariadb"])
def test_second_session_waits_then_fails_and_lock_dies_with_its_session(
    databases: ServiceURLs, server: str
) -> None:
    url = parse_url(getattr(databases, server))
    driver = driver_for(url)
    first, second = driver.open(url), driver.open(url)
    try:
        with (
            driver.lock(first, "atlas_test_lock"),
            pytest.raises(LockTimeoutError, match="lock is held by other session"),
            driver.lock(second, "atlas_test_lock", timeout=0.3),
        ):
            pass
        with driver.lock(second, "atlas_test_lock", timeout=0.3):
            pass
        # A session that ends (a killed process) releases what it held.
        third = driver.open(url)
        held = driver.lock(third, "atlas_test_lock")
        held.__enter__()
        third.close()  # never released: the session just goes away
        with contextlib.suppress(DatabaseError):  # unlocking on a closed session fails
            held.__exit__(None, None, None)
        with driver.lock(second, "atlas_test_lock", timeout=2):
            pass
    finally:
        first.close()
        second.close()
