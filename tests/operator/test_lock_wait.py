"""Waiting for a lock another run holds is a pending state with a short requeue, never a
failure counted toward `backoffLimit` (issue 12, item 4)."""

from __future__ import annotations

import fcntl
import os
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from atlas_operator.cli_reconcile import FileObjects
from atlas_operator.engine.devrun import DevDatabaseBusyError
from atlas_operator.engine.drivers.base import SCHEMA_APPLY_LOCK, LockTimeoutError
from atlas_operator.operator import atlasmigration, atlasschema
from atlas_operator.operator import conditions as cond
from atlas_operator.operator.context import ReconcileContext
from atlas_operator.operator.outcome import LOCK_REQUEUE, Outcome, schedule
from atlas_operator.operator.resources import AtlasMigration, AtlasSchema

SQL = "CREATE TABLE t (id int PRIMARY KEY);"


def schema_resource(tmp_path: Path, failed: int = 0, backoff_limit: int = 2) -> AtlasSchema:
    resource = AtlasSchema.model_validate(
        {
            "metadata": {"name": "s", "namespace": "default", "generation": 1},
            "spec": {
                "url": f"sqlite://{tmp_path / 'app.db'}",
                "schema": {"sql": SQL},
                "backoffLimit": backoff_limit,
            },
        }
    )
    first = atlasschema.reconcile_schema(resource, context())  # first sight: Reconciling
    resource.status = first.status
    resource.status.failed = failed
    return resource


def migration_resource(tmp_path: Path, failed: int = 0) -> AtlasMigration:
    resource = AtlasMigration.model_validate(
        {
            "metadata": {"name": "m", "namespace": "default", "generation": 1},
            "spec": {
                "url": f"sqlite://{tmp_path / 'app.db'}",
                "dir": {"local": {"1_t.sql": SQL}},
            },
        }
    )
    first = atlasmigration.reconcile_migration(resource, context())
    resource.status = first.status
    resource.status.failed = failed
    return resource


def context() -> ReconcileContext:
    return ReconcileContext(source=FileObjects([]))


def conditions(outcome: Outcome[Any]) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status.value, c.reason) for c in outcome.status.conditions or []}


@contextmanager
def held_apply_lock(database: Path) -> Iterator[None]:
    """Another process's apply: SQLite's apply lock is a `flock` on this file."""
    suffix = format(zlib.adler32(str(database).encode()), "x")
    path = os.path.join(tempfile.gettempdir(), f"{SCHEMA_APPLY_LOCK}_{suffix}.lock")
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def test_a_held_apply_lock_is_pending_reconciling_not_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resource = schema_resource(tmp_path, failed=2, backoff_limit=2)
    monkeypatch.setattr(atlasschema, "apply_lock", short_apply_lock)
    with held_apply_lock(tmp_path / "app.db"):
        outcome = schedule(atlasschema.reconcile_schema(resource, context()), 2)
    assert conditions(outcome) == {
        "Ready": ("False", "Reconciling"),
        "Reconciling": ("True", "Reconciling"),
        "Stalled": ("False", "Reconciling"),
    }
    assert outcome.message.startswith("waiting for another apply to finish: ")
    assert "lock is held by other session" in outcome.message
    assert outcome.status.failed == 2  # not counted, and not reset
    assert outcome.requeue_after == LOCK_REQUEUE
    assert cond.REASON_BACKOFF_LIMIT_EXCEEDED not in {e.reason for e in outcome.events}
    # Once the lock is free, the next pass applies.
    done = schedule(atlasschema.reconcile_schema(resource, context()), 2)
    assert done.ready
    assert done.status.failed == 0


def short_apply_lock(*args: Any, **kwargs: Any) -> Any:
    from atlas_operator.engine.declarative import apply_lock

    return apply_lock(*args, **{**kwargs, "timeout": 0.2})


def test_a_busy_dev_database_is_pending_getting_dev_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resource = schema_resource(tmp_path, failed=1)

    def busy(*args: Any, **kwargs: Any) -> Any:
        raise DevDatabaseBusyError("the dev database sqlite://db is in use by another run")

    monkeypatch.setattr(atlasschema, "load_sql_on_dev", busy)
    outcome = schedule(atlasschema.reconcile_schema(resource, context()), 2)
    assert conditions(outcome)["Ready"] == ("False", "GettingDevDB")
    assert conditions(outcome)["Stalled"] == ("False", "GettingDevDB")
    assert outcome.status.failed == 1
    assert outcome.requeue_after == LOCK_REQUEUE
    assert [(e.type, e.reason) for e in outcome.events] == [("Warning", "GettingDevDB")]


def test_other_apply_errors_still_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resource = schema_resource(tmp_path, failed=1)

    def broken(*args: Any, **kwargs: Any) -> Any:
        from atlas_operator.engine.drivers.base import DatabaseError

        raise DatabaseError("connection refused")

    monkeypatch.setattr(atlasschema, "apply_lock", broken)
    outcome = schedule(atlasschema.reconcile_schema(resource, context()), 2)
    assert conditions(outcome)["Ready"] == ("False", "ApplyingSchema")
    assert outcome.status.failed == 2


def test_a_held_migrate_lock_is_pending_reconciling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resource = migration_resource(tmp_path, failed=3)

    def locked(*args: Any, **kwargs: Any) -> Any:
        raise LockTimeoutError("sql/schema: lock is held by other session (atlas_migrate_execute)")

    monkeypatch.setattr(atlasmigration, "migrate_status", locked)
    outcome = schedule(atlasmigration.reconcile_migration(resource, context()), 2)
    assert conditions(outcome)["Ready"] == ("False", "Reconciling")
    assert outcome.message == (
        "waiting for another migration run to finish:"
        " sql/schema: lock is held by other session (atlas_migrate_execute)"
    )
    assert outcome.status.failed == 3  # over the limit of 2, yet still coming back
    assert outcome.requeue_after == LOCK_REQUEUE
