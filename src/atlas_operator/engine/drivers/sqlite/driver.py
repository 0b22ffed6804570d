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
from atlas_operator.engine.drivers.sqlite.inspect import inspect_main
from atlas_operator.engine.drivers.sqlite.plan import (
    any_rebuild,
    plan_change,
    with_foreign_keys_off,
)
from atlas_operator.engine.drivers.sqlite.session import MAIN, SQLiteSession
from atlas_operator.engine.model import Realm, Unmanaged
from atlas_operator.engine.plan import order_changes
from atlas_operator.engine.sandbox import Refusal
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
        return Realm(schemas=(inspect_main(session),))

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
                for s in plan_change(change)
            ]
        )

    def unmanaged_objects(self, session: Session, scope: Scope) -> list[Unmanaged]:
        return clean.unmanaged_objects(session, scope)

    def clean(self, session: Session, scope: Scope) -> None:
        clean.clean(session, scope)

    def sandbox_refusal(self, sql: str, scope: Scope) -> Refusal | None:
        return sandbox.refusal(sql, scope)

    def sandboxed(self, session: Session, scope: Scope) -> AbstractContextManager[None]:
        return sandbox.sandboxed(session, scope)

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
        if isinstance(session, SQLiteSession) and any_rebuild(statements):
            session.fk_was_on = bool(session.query("PRAGMA foreign_keys")[0][0])  # type: ignore[attr-defined]
            session.execute("PRAGMA foreign_keys = off")

    def before_commit(self, session: Session, statements: Sequence[PlannedStatement]) -> None:
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
        if getattr(session, "fk_was_on", False):
            session.execute("PRAGMA foreign_keys = on")
            session.fk_was_on = False  # type: ignore[attr-defined]

    def statement_traits(self, sql: str) -> StatementTraits:
        return execution.statement_traits(sql)

    def needs_no_transaction(self, error: DatabaseError) -> bool:
        return execution.needs_no_transaction(error)
