"""The SQLite `Driver`: `flock` locks, foreign-key handling around rebuilds, and the
session, inspection, planning and cleaning roles wired together."""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace

from atlas_operator.engine.changes import Change
from atlas_operator.engine.drivers.base import (
    LOCK_TIMEOUT,
    DatabaseError,
    Driver,
    LockTimeoutError,
    PlannedStatement,
    Scope,
    Session,
    StatementTraits,
)
from atlas_operator.engine.drivers.sqlite import clean, execution, sandbox
from atlas_operator.engine.drivers.sqlite.hazards import hazards as statement_hazards
from atlas_operator.engine.drivers.sqlite.inspect import inspect_main
from atlas_operator.engine.drivers.sqlite.objects import inspect_objects
from atlas_operator.engine.drivers.sqlite.plan import (
    ObjectRules,
    any_rebuild,
    plan_change,
    with_foreign_keys_off,
)
from atlas_operator.engine.drivers.sqlite.session import MAIN, SQLiteSession
from atlas_operator.engine.hazards import Hazard
from atlas_operator.engine.model import Realm
from atlas_operator.engine.plan import order_changes
from atlas_operator.engine.sandbox import Refusal
from atlas_operator.engine.sqltext import unquote_identifier
from atlas_operator.engine.statements import Dialect
from atlas_operator.engine.urls import DatabaseURL

MEMORY_LOCKS: dict[str, threading.Lock] = {}
MEMORY_LOCKS_GUARD = threading.Lock()


@contextmanager
def memory_lock(key: str, timeout: float) -> Iterator[None]:
    with MEMORY_LOCKS_GUARD:
        lock = MEMORY_LOCKS.setdefault(key, threading.Lock())
    if not lock.acquire(timeout=max(timeout, 0.0)):
        name = key.split(":", 1)[0]
        raise LockTimeoutError(f"sql/schema: lock is held by other session ({name})")
    try:
        yield
    finally:
        lock.release()


class SQLiteDriver(Driver):
    name = "sqlite"
    dialect = Dialect.SQLITE
    transactional_ddl = True
    case_insensitive_names = True
    locks_per_schema = False  # the lock file is per database file already

    def open(self, url: DatabaseURL) -> SQLiteSession:
        return SQLiteSession(url)

    def scope_of(self, url: DatabaseURL, schemas: Sequence[str] = ()) -> Scope:
        return Scope(bound=MAIN)

    @contextmanager
    def lock(self, session: Session, name: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        """An exclusive `flock` on `$TMPDIR/<name>_<adler32 of the database>.lock`: the
        kernel drops it with the process, so a killed applier leaves no stale lock. An
        in-memory database lives in this process only: a lock in memory is enough (and
        leaves no file behind for every randomly named dev database)."""
        target = session.url.sqlite_target()[0]
        if session.url.memory:
            with memory_lock(f"{name}:{target}", timeout):
                yield
            return
        suffix = format(zlib.adler32(target.encode()), "x")
        path = os.path.join(tempfile.gettempdir(), f"{name}_{suffix}.lock")
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            deadline, delay = time.monotonic() + timeout, 0.025
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeoutError(
                            f"sql/schema: lock is held by other session ({name})"
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
            # Atlas's lock file holds its expiry in Unix nanoseconds.
            os.ftruncate(fd, 0)
            os.write(fd, str(time.time_ns() + int(timeout * 1e9)).encode())
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def inspect(self, session: Session, scope: Scope) -> Realm:
        schema = inspect_main(session)
        objects, dependencies = inspect_objects(session, [t.name for t in schema.tables])
        return Realm(
            schemas=(replace(schema, objects=tuple(objects)),), dependencies=tuple(dependencies)
        )

    def plan(
        self,
        changes: Sequence[Change],
        scope: Scope,
        *,
        concurrent_index: tuple[bool, bool] = (False, False),
    ) -> list[PlannedStatement]:
        return with_foreign_keys_off(
            [
                s
                for change in order_changes(changes, split_foreign_keys=False)
                for s in self.with_hazards(change, plan_change(change), changes)
            ]
        )

    def hazards(self, change: Change, statement: PlannedStatement) -> tuple[Hazard, ...]:
        return statement_hazards(change, statement)

    def dependency_rules(self) -> ObjectRules:
        return ObjectRules()

    def is_clean(self, session: Session, scope: Scope) -> bool:
        return clean.is_clean(session)

    def clean(self, session: Session, scope: Scope) -> None:
        clean.clean(session, scope)

    def sandbox_refusal(self, sql: str, scope: Scope) -> Refusal | None:
        return sandbox.refusal(sql, scope)

    def sandboxed(self, session: Session, scope: Scope) -> AbstractContextManager[None]:
        return sandbox.sandboxed(session, scope)

    def server_identity(self, session: Session) -> str | None:
        return f"sqlite {session.query('SELECT sqlite_version()')[0][0]}"

    def schema_names(self, session: Session, scope: Scope) -> list[str]:
        return [MAIN]

    def has_dev_marker(self, session: Session, scope: Scope) -> bool:
        return clean.has_marker(session)

    def mark_dev(self, session: Session, scope: Scope) -> None:
        clean.mark(session)

    def unmark_dev(self, session: Session, scope: Scope) -> None:
        clean.unmark(session)

    def before_apply(self, session: Session, statements: Sequence[PlannedStatement]) -> None:
        # A rebuild drops and recreates a table; with foreign keys on, the DROP would
        # delete (or cascade) rows of referencing tables. The pragma is a no-op inside a
        # transaction, so it is switched here, and checked with foreign_key_check below.
        if not isinstance(session, SQLiteSession):
            return
        rebuild = any_rebuild(statements)
        if rebuild:
            session.fk_was_on = bool(session.query("PRAGMA foreign_keys")[0][0])  # type: ignore[attr-defined]
            session.execute("PRAGMA foreign_keys = off")
        # A rebuild's DROP TABLE, and a DROP VIEW, take the triggers on them along.
        if rebuild or any(drops_view(s.sql) for s in statements):
            session.objects_before = views_and_triggers(session)  # type: ignore[attr-defined]

    def before_commit(self, session: Session, statements: Sequence[PlannedStatement]) -> None:
        before: set[tuple[str, str, str]] | None = getattr(session, "objects_before", None)
        if before is not None:
            session.objects_before = None  # type: ignore[attr-defined]
            refuse_lost_objects(before, views_and_triggers(session), statements)
        # With the pragma off during a rebuild, rows that no longer satisfy a foreign
        # key would slip through silently; the check makes the plan fail instead.
        if getattr(session, "fk_was_on", False):
            violations = session.query("PRAGMA foreign_key_check")
            if violations:
                table, rowid, parent, _ = violations[0]
                raise DatabaseError(
                    f"foreign key violation after table rebuild: {len(violations)} row(s),"
                    f" first in table {table!r} (rowid {rowid}) referencing {parent!r}"
                )

    def after_apply(self, session: Session, statements: Sequence[PlannedStatement]) -> None:
        if hasattr(session, "objects_before"):
            session.objects_before = None
        if getattr(session, "fk_was_on", False):
            session.execute("PRAGMA foreign_keys = on")
            session.fk_was_on = False  # type: ignore[attr-defined]

    def statement_traits(self, sql: str) -> StatementTraits:
        return execution.statement_traits(sql)

    def needs_no_transaction(self, error: DatabaseError) -> bool:
        return execution.needs_no_transaction(error)


def views_and_triggers(session: Session) -> set[tuple[str, str, str]]:
    """(type, name, table) of every table, view and trigger, names lower-cased."""
    rows = session.query(
        "SELECT type, lower(name), lower(tbl_name) FROM sqlite_master"
        " WHERE type IN ('table', 'view', 'trigger')"
    )
    return {(str(kind), str(name), str(table)) for kind, name, table in rows}


def refuse_lost_objects(
    before: set[tuple[str, str, str]],
    after: set[tuple[str, str, str]],
    statements: Sequence[PlannedStatement],
) -> None:
    """A rebuilt table takes its triggers with it, as a dropped view does, and the plan
    re-creates those it manages; one it does not manage (excluded) would be lost without
    a word, so the plan fails (and rolls back) naming it instead. (A trigger whose table
    or view the plan drops for good goes with it, as the desired state says.)"""
    relations = {name for kind, name, _ in after if kind != "trigger"}
    dropped = {
        (kind, name)
        for kind, name, table in before - after
        if kind != "table"
        and (kind == "view" or table in relations)
        and not any(dropped_by(s.sql, kind, name) for s in statements)
    }
    if dropped:
        names = ", ".join(f"{kind} {name}" for kind, name in sorted(dropped))
        raise DatabaseError(
            f"rebuilding a table or re-creating a view would drop {names}, which this plan"
            " does not manage (excluded?): nothing was applied; include it in the desired"
            " state or re-create it after the apply"
        )


def drops_view(sql: str) -> bool:
    return [w.upper() for w in sql.split(None, 2)[:2]] == ["DROP", "VIEW"]


def dropped_by(sql: str, kind: str, name: str) -> bool:
    words = sql.split(None, 2)
    return (
        len(words) == 3
        and words[0].upper() == "DROP"
        and words[1].lower() == kind
        and unquote_identifier(words[2]).lower() == name
    )
