"""The MySQL/MariaDB `Driver`: `GET_LOCK` locks, and the session, inspection, planning
and cleaning roles wired together."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace

from atlas_operator.engine.changes import AddObject, Change, DropObject, ModifyObject
from atlas_operator.engine.drivers.base import (
    DEV_LOCK,
    LOCK_TIMEOUT,
    Driver,
    LockTimeoutError,
    PlannedStatement,
    Scope,
    Session,
    StatementTraits,
    scoped_lock_name,
)
from atlas_operator.engine.drivers.mysql import clean, execution, sandbox
from atlas_operator.engine.drivers.mysql.body import strip_qualifier
from atlas_operator.engine.drivers.mysql.hazards import hazards as statement_hazards
from atlas_operator.engine.drivers.mysql.inspect import Inspector
from atlas_operator.engine.drivers.mysql.objects_plan import (
    ObjectPlanner,
    ObjectRules,
    created_triggers,
)
from atlas_operator.engine.drivers.mysql.plan import Planner
from atlas_operator.engine.drivers.mysql.session import (
    FLAVORS,
    MYSQL,
    MySQLSession,
    ServerInfo,
    server_info,
)
from atlas_operator.engine.hazards import Hazard
from atlas_operator.engine.model import Realm, Schema, Unmanaged
from atlas_operator.engine.plan import order_changes
from atlas_operator.engine.sandbox import Refusal
from atlas_operator.engine.statements import Dialect
from atlas_operator.engine.urls import DatabaseURL


class MySQLDriver(Driver):
    name = "mysql"
    dialect = Dialect.MYSQL
    transactional_ddl = False

    def __init__(self, flavor: str = MYSQL) -> None:
        if flavor not in FLAVORS:
            raise ValueError(f"unknown MySQL flavor {flavor!r}")
        self.flavor = flavor
        self.server: ServerInfo | None = None

    def learn(self, session: Session) -> ServerInfo:
        """Takes the flavour (and defaults) from the server the session reached."""
        info = server_info(session)
        self.server, self.flavor = info, info.flavor
        return info

    @contextmanager
    def lock(self, session: Session, name: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        """`GET_LOCK` (server-wide, released when the session ends), as Atlas takes it."""
        acquired = session.query("SELECT GET_LOCK(%s, %s)", [name, max(0, int(timeout))])
        if not acquired or acquired[0][0] != 1:
            raise LockTimeoutError(f"sql/schema: lock is held by other session ({name})")
        try:
            yield
        finally:
            session.query("SELECT RELEASE_LOCK(%s)", [name])

    def open(self, url: DatabaseURL) -> MySQLSession:
        session = MySQLSession(url)
        self.learn(session)
        return session

    def open_for_migrations(self, url: DatabaseURL) -> MySQLSession:
        session = MySQLSession(url, multi_statements=True)
        self.learn(session)
        return session

    def inspect(self, session: Session, scope: Scope) -> Realm:
        return Inspector(session, scope, self.learn(session)).realm()

    def plan(
        self,
        changes: Sequence[Change],
        scope: Scope,
        *,
        concurrent_index: tuple[bool, bool] = (False, False),
    ) -> list[PlannedStatement]:
        # concurrent_index is PostgreSQL's: InnoDB builds indexes online by itself.
        ordered = order_changes(changes)
        planner = Planner(scope, self.flavor, self.server)
        objects = ObjectPlanner(scope, self.server, created_triggers(ordered))
        statements: list[PlannedStatement] = []
        for change in ordered:
            if isinstance(change, (AddObject, DropObject, ModifyObject)):
                statements += self.with_hazards(change, objects.change(change), changes)
            else:
                statements += self.with_hazards(change, planner.change(change), changes)
        return statements

    def hazards(self, change: Change, statement: PlannedStatement) -> tuple[Hazard, ...]:
        return statement_hazards(change, statement, self.flavor, self.server)

    def dependency_rules(self) -> ObjectRules:
        return ObjectRules()

    def for_dev(self, sql: str) -> str:
        return sandbox.for_dev(sql)

    def unqualify(self, sql: str, schema: str) -> str:
        return strip_qualifier(sql, schema) if schema in sql else sql

    def settle_dev_realm(self, realm: Realm, statements: Sequence[str]) -> Realm:
        """Events get the status the desired SQL gives them (they were loaded disabled
        on the dev database, `for_dev`)."""
        states = sandbox.event_states(statements)
        if not states:
            return realm
        return replace(realm, schemas=tuple(settled(s, states) for s in realm.schemas))

    def unmanaged_objects(self, session: Session, scope: Scope) -> list[Unmanaged]:
        return clean.unmanaged_objects(session, scope)

    def server_identity(self, session: Session) -> str | None:
        # The defaults a desired state is normalised under: the server's (connect-time
        # query), the session's sql_mode (kept in objects), the database's charset and
        # collation (tables inherit them) and name folding.
        info = server_info(session)
        row = session.query(
            "SELECT @@character_set_database, @@collation_database,"
            " @@lower_case_table_names, @@SESSION.sql_mode"
        )[0]
        return repr((info, tuple(str(v) for v in row)))

    def is_clean(self, session: Session, scope: Scope) -> bool:
        return clean.is_clean(session, scope)

    def clean(self, session: Session, scope: Scope) -> None:
        clean.clean(session, scope)

    def sandbox_refusal(self, sql: str, scope: Scope) -> Refusal | None:
        return sandbox.refusal(sql, scope)

    def sandboxed(self, session: Session, scope: Scope) -> AbstractContextManager[None]:
        return sandbox.sandboxed(session, scope)

    def schema_names(self, session: Session, scope: Scope) -> list[str]:
        if scope.bound is not None:
            return [scope.bound]
        return clean.user_schemas(session, scope)

    def dev_lock_name(self, url: DatabaseURL, scope: Scope) -> str:
        """`GET_LOCK` is server-wide: a bound dev database gets a lock of its own; realm
        scope creates databases anywhere on the server, so it takes the server's."""
        return DEV_LOCK if scope.bound is None else scoped_lock_name(DEV_LOCK, scope.bound)

    def has_dev_marker(self, session: Session, scope: Scope) -> bool:
        return clean.has_marker(session, scope)

    def mark_dev(self, session: Session, scope: Scope) -> None:
        clean.mark(session, scope)

    def unmark_dev(self, session: Session, scope: Scope) -> None:
        clean.unmark(session, scope)

    def statement_traits(self, sql: str) -> StatementTraits:
        return execution.statement_traits(sql)

    def effect_fingerprint(self, session: Session, sql: str) -> str | None:
        return execution.effect_fingerprint(session, sql)


def settled(schema: Schema, states: dict[sandbox.EventKey, str]) -> Schema:
    """The schema's events with the status their statements gave them."""
    objects = []
    for obj in schema.objects:
        key = obj.name.lower()
        state = states.get((schema.name, key), states.get((None, key)))
        if obj.kind == "event" and state is not None:
            attrs = [a for a in obj.attrs if a[0] != "status"]
            if state != "ENABLED":
                attrs.append(("status", state))
            obj = replace(obj, attrs=tuple(sorted(attrs)))
        objects.append(obj)
    return replace(schema, objects=tuple(objects))
