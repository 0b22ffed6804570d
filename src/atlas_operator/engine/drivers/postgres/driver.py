"""The PostgreSQL `Driver`: advisory locks, and the session, inspection, planning and
cleaning roles wired together."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace

from atlas_operator.engine.changes import Change
from atlas_operator.engine.drivers.base import (
    LOCK_TIMEOUT,
    DatabaseError,
    Driver,
    InterruptedOutcome,
    LockTimeoutError,
    PlannedStatement,
    Scope,
    Session,
    StatementTraits,
    fnv1_32,
)
from atlas_operator.engine.drivers.postgres import clean, execution, hazards, sandbox
from atlas_operator.engine.drivers.postgres.inspect import inspect_realm, user_schemas
from atlas_operator.engine.drivers.postgres.objects_plan import ObjectRules
from atlas_operator.engine.drivers.postgres.plan import Planner
from atlas_operator.engine.drivers.postgres.session import PostgresSession
from atlas_operator.engine.hazards import Hazard
from atlas_operator.engine.model import Realm, Unmanaged
from atlas_operator.engine.plan import order_changes
from atlas_operator.engine.sandbox import Refusal
from atlas_operator.engine.sqltext import unquote_identifier
from atlas_operator.engine.statements import Dialect
from atlas_operator.engine.urls import DatabaseURL


class PostgresDriver(Driver):
    name = "postgres"
    dialect = Dialect.POSTGRES
    transactional_ddl = True
    batch_scripts = True

    @contextmanager
    def lock(self, session: Session, name: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        """`pg_try_advisory_lock` on Atlas's FNV-1 key, retried with backoff until `timeout`."""
        key = fnv1_32(name)
        deadline = time.monotonic() + timeout
        delay = 0.025
        while not session.query("SELECT pg_try_advisory_lock(%s)", [key])[0][0]:
            if time.monotonic() >= deadline:
                raise LockTimeoutError(f"sql/schema: lock is held by other session ({name})")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        try:
            yield
        finally:
            session.query("SELECT pg_advisory_unlock(%s)", [key])

    def open(self, url: DatabaseURL) -> PostgresSession:
        return PostgresSession(url)

    def inspect(self, session: Session, scope: Scope) -> Realm:
        return inspect_realm(session, scope)

    def plan(
        self,
        changes: Sequence[Change],
        scope: Scope,
        *,
        concurrent_index: tuple[bool, bool] = (False, False),
    ) -> list[PlannedStatement]:
        planner = Planner(scope, concurrent_index)
        return [
            s
            for change in order_changes(changes)
            for s in self.with_hazards(change, planner.change(change), changes)
        ]

    def hazards(self, change: Change, statement: PlannedStatement) -> tuple[Hazard, ...]:
        return hazards.hazards(change, statement)

    def dependency_rules(self) -> ObjectRules:
        return ObjectRules()

    def unmanaged_objects(self, session: Session, scope: Scope) -> list[Unmanaged]:
        return clean.unmanaged_objects(session, scope)

    def server_identity(self, session: Session) -> str | None:
        # The version, and the database's encoding and collation (what text types and
        # collatable expressions normalise to).
        row = session.query(
            "SELECT version(), current_setting('server_encoding'), datcollate, datctype"
            " FROM pg_database WHERE datname = current_database()"
        )[0]
        return repr(tuple(str(v) for v in row))

    def is_clean(self, session: Session, scope: Scope) -> bool:
        return clean.is_clean(session, scope)

    def clean(self, session: Session, scope: Scope) -> None:
        clean.clean(session, scope)

    def sandbox_refusal(self, sql: str, scope: Scope) -> Refusal | None:
        return sandbox.refusal(sql, scope)

    def for_dev(self, sql: str) -> str:
        return sandbox.for_dev(sql)

    def settle_dev_realm(self, realm: Realm, statements: Sequence[str]) -> Realm:
        """Event triggers get the state the desired SQL gives them (they were loaded
        disabled on the dev database)."""
        states = {
            unquote_identifier(n) if n.startswith('"') else n.lower(): state
            for n, state in sandbox.event_trigger_states(statements).items()
        }
        objects = tuple(
            replace(o, attrs=with_enabled(o.attrs, states[o.name]))
            if o.kind == "event_trigger" and o.name in states
            else o
            for o in realm.objects
        )
        return replace(realm, objects=objects)

    def sandboxed(self, session: Session, scope: Scope) -> AbstractContextManager[None]:
        return sandbox.sandboxed(session, scope)

    def schema_names(self, session: Session, scope: Scope) -> list[str]:
        return [name for name, _ in user_schemas(session) if scope.includes(name)]

    # Advisory locks are local to the database, so the default `dev_lock_name` (one
    # lock per dev database, whatever the scope) needs no database in its name: realm
    # and schema-bound runs on one database exclude each other, as they must (a realm
    # clean drops every schema).

    def has_dev_marker(self, session: Session, scope: Scope) -> bool:
        return clean.has_marker(session, scope)

    def mark_dev(self, session: Session, scope: Scope) -> None:
        clean.mark(session, scope)

    def unmark_dev(self, session: Session, scope: Scope) -> None:
        clean.unmark(session, scope)

    def statement_traits(self, sql: str) -> StatementTraits:
        return execution.statement_traits(sql)

    def needs_no_transaction(self, error: DatabaseError) -> bool:
        return execution.needs_no_transaction(error)

    def effect_fingerprint(self, session: Session, sql: str) -> str | None:
        return execution.effect_fingerprint(session, sql)

    def interrupted_outcome(
        self, session: Session, sql: str, before: str | None
    ) -> InterruptedOutcome:
        return execution.interrupted_outcome(session, sql, before)


def with_enabled(attrs: tuple[tuple[str, str], ...], state: str) -> tuple[tuple[str, str], ...]:
    """Attributes with `enabled` set (left out for the default, `O`)."""
    kept = [a for a in attrs if a[0] != "enabled"]
    if state != "O":
        kept.append(("enabled", state))
    return tuple(sorted(kept))
