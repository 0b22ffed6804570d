"""Dev databases that heal (issue 12, item 3) and per-target apply locks (item 4), on
real PostgreSQL, MariaDB and SQLite.

A dead run's leftovers (its marker present, its lock gone with its session) are cleaned
by the next run; content without our marker is still refused with Atlas's words; a live
run on the same dev database is waited for, never cleaned under.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from atlas_operator.engine.declarative import (
    ApplyPolicy,
    DevDatabaseError,
    apply_lock,
    apply_lock_names,
    normalise_on_dev,
    schema_apply,
)
from atlas_operator.engine.devrun import DevDatabaseBusyError, dev_session, not_clean_message
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.drivers.base import (
    DEV_MARKER,
    LOCK_NAME_LIMIT,
    SCHEMA_APPLY_LOCK,
    LockTimeoutError,
    Scope,
    scoped_lock_name,
)
from atlas_operator.engine.model import Realm
from atlas_operator.engine.urls import DatabaseURL
from tests.rig.databases import Databases, run

DESIRED = "CREATE TABLE users (id int PRIMARY KEY, name varchar(50));"
LEFTOVER = "CREATE TABLE leftover (id int PRIMARY KEY)"


def bound(url: DatabaseURL) -> DatabaseURL:
    """PostgreSQL dev URLs bound to `public` (MariaDB's are bound to their database)."""
    return url.with_schema("public") if url.driver == "postgres" else url


def dev_url(dbs: Databases, kind: str, scope: str) -> DatabaseURL:
    url = dbs.new(kind)
    return bound(url) if scope == "schema" else url


def scope_of(url: DatabaseURL) -> Scope:
    return driver_for(url).scope_of(url)


def load(url: DatabaseURL, sql: str = DESIRED) -> Realm:
    driver = driver_for(url)
    return normalise_on_dev(driver, sql, url, scope_of(url), "schema.sql")


def table_names(realm: Realm) -> set[str]:
    return {f"{s.name}.{t.name}" for s in realm.schemas for t in s.tables}


def leave_behind(url: DatabaseURL, *statements: str, marked: bool = True) -> None:
    """What a run killed after loading leaves: its marker and its objects; its session
    (and with it the lock) is gone."""
    driver = driver_for(url)
    with driver.open(url) as session:
        if marked:
            driver.mark_dev(session, scope_of(url))
        for statement in statements:
            session.execute(statement)


def settled(url: DatabaseURL) -> bool:
    """Empty and unmarked, as a run leaves its dev database."""
    driver = driver_for(url)
    scope = scope_of(url)
    with driver.open(url) as session:
        return driver.is_clean(session, scope) and not driver.has_dev_marker(session, scope)


CASES = [("postgres", "schema"), ("postgres", "realm"), ("mariadb", "schema"), ("sqlite", "")]


@pytest.mark.parametrize(("kind", "scope"), CASES)
def test_a_dead_runs_leftovers_are_cleaned_by_the_next_run(
    dbs: Databases, kind: str, scope: str
) -> None:
    url = dev_url(dbs, kind, scope)
    extra = ["CREATE SCHEMA other", "CREATE TABLE other.t (id int)"] if scope == "realm" else []
    leave_behind(url, LEFTOVER, "CREATE TABLE users (x int)", *extra)
    realm = load(url)
    assert {name.split(".")[1] for name in table_names(realm)} == {"users"}
    assert [c.name for c in realm.schemas[0].tables[0].columns] == ["id", "name"]
    assert settled(url)


@pytest.mark.parametrize(("kind", "scope"), CASES)
def test_foreign_content_is_refused_with_atlas_words(dbs: Databases, kind: str, scope: str) -> None:
    url = dev_url(dbs, kind, scope)
    leave_behind(url, LEFTOVER, marked=False)
    with pytest.raises(DevDatabaseError) as caught:
        load(url)
    assert str(caught.value) == not_clean_message(url)
    assert str(caught.value) == (
        f"the dev database {url.redacted()} is not clean: it must be empty before use"
    )
    # Nothing of it was touched, and no marker was left that would make it look ours.
    driver = driver_for(url)
    with driver.open(url) as session:
        assert not driver.has_dev_marker(session, scope_of(url))
    assert run(url, "SELECT COUNT(*) FROM leftover") == [(0,)]


@pytest.mark.parametrize(("kind", "scope"), CASES)
def test_a_run_killed_after_marking_before_loading_is_healed(
    dbs: Databases, kind: str, scope: str
) -> None:
    url = dev_url(dbs, kind, scope)
    leave_behind(url)  # marked, nothing loaded yet
    assert table_names(load(url))
    assert settled(url)


@pytest.mark.parametrize(("kind", "scope"), [("postgres", "realm"), ("mariadb", "schema")])
def test_the_marker_never_shows_in_the_desired_state(dbs: Databases, kind: str, scope: str) -> None:
    url = dev_url(dbs, kind, scope)
    realm = load(url)
    assert DEV_MARKER not in {s.name for s in realm.schemas}
    assert not any(DEV_MARKER in name for name in table_names(realm))


@pytest.mark.parametrize(("kind", "scope"), CASES)
def test_a_live_run_is_waited_for_not_cleaned_under(dbs: Databases, kind: str, scope: str) -> None:
    url = dev_url(dbs, kind, scope)
    driver = driver_for(url)
    loaded, release = threading.Event(), threading.Event()
    seen: list[set[str]] = []

    def live_run() -> None:
        with dev_session(driver, url, scope_of(url)) as dev:
            dev.execute("CREATE TABLE live (id int PRIMARY KEY)")
            loaded.set()
            release.wait(30)
            seen.append(table_names(driver.inspect(dev, scope_of(url))))

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(live_run)
        assert loaded.wait(30)
        second = pool.submit(load, url)
        time.sleep(1.0)
        assert not second.done(), "the second run did not wait for the live one"
        release.set()
        first.result(30)
        realm = second.result(60)
    assert any(name.endswith(".live") for name in seen[0]), "the live run was cleaned under"
    assert {name.split(".")[1] for name in table_names(realm)} == {"users"}
    assert settled(url)


@pytest.mark.parametrize("kind", ["postgres", "mariadb", "sqlite"])
def test_a_run_that_cannot_get_the_dev_database_says_so(dbs: Databases, kind: str) -> None:
    url = dev_url(dbs, kind, "schema")
    driver = driver_for(url)
    with (
        dev_session(driver, url, scope_of(url)),
        pytest.raises(DevDatabaseBusyError, match="is in use by another run"),
        dev_session(driver, url, scope_of(url), timeout=0.3),
    ):
        pass
    assert settled(url)


# --- per-target apply locks ---------------------------------------------------------------


def test_apply_lock_names_are_per_schema_and_fit_mysql() -> None:
    assert scoped_lock_name(SCHEMA_APPLY_LOCK, "app") == "atlas_schema_apply:app"
    long = scoped_lock_name(SCHEMA_APPLY_LOCK, "d" * 64)
    assert len(long) == LOCK_NAME_LIMIT
    assert long.startswith("atlas_schema_apply:")
    assert long != scoped_lock_name(SCHEMA_APPLY_LOCK, "d" * 63 + "e")


def test_applies_to_two_databases_of_one_server_do_not_wait_for_each_other(
    dbs: Databases,
) -> None:
    one, two, dev = dbs.new("mariadb"), dbs.new("mariadb"), dbs.new("mariadb")
    driver = driver_for(one)
    policy = ApplyPolicy()
    holder = driver.open(one)
    try:
        # Another apply holds `one` for as long as it likes …
        with apply_lock(driver, holder, scope_of(one)):
            started = time.monotonic()
            report = schema_apply(two, DESIRED, dev, policy)  # … `two` does not wait.
            assert report.error is None
            assert time.monotonic() - started < 5
            with (
                driver.open(one) as other,
                pytest.raises(LockTimeoutError),  # … while `one` waits
                apply_lock(driver, other, scope_of(one), timeout=0.3),
            ):
                pass
    finally:
        holder.close()
    # And both at once, sharing one dev database, each reach their desired state.
    with ThreadPoolExecutor(2) as pool:
        sqls = [DESIRED, DESIRED.replace("users", "accounts")]
        futures = [
            pool.submit(schema_apply, url, sql, dev, policy)
            for url, sql in zip((one, two), sqls, strict=True)
        ]
        assert [f.result(60).error for f in futures] == [None, None]
    assert run(one, "SELECT COUNT(*) FROM users") == [(0,)]
    assert run(two, "SHOW TABLES") == [("accounts",)]  # `users` dropped: not desired
    assert settled(dev)


def test_a_realm_apply_locks_every_schema_it_may_change(dbs: Databases) -> None:
    url = dbs.new("postgres")
    run(url, "CREATE SCHEMA a")
    driver = driver_for(url)
    desired = load(bound(dbs.new("postgres")))  # a realm naming `public`
    with driver.open(url) as session:
        names = apply_lock_names(driver, session, scope_of(url), desired)
        assert names == ["atlas_schema_apply:a", "atlas_schema_apply:public"]
        with (
            driver.open(bound(url)) as other,
            apply_lock(driver, other, scope_of(bound(url))),
            pytest.raises(LockTimeoutError),  # a schema-bound apply holds `public`
            apply_lock(driver, session, scope_of(url), desired, timeout=0.3),
        ):
            pass
