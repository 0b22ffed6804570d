"""The small interface every driver implements, and what drivers share.

A driver plays Atlas's three roles for one database family:
- *inspector*: catalog queries → `Realm` (a fixed number of queries per schema);
- *planner*: ordered changes → SQL statements, with the driver's quoting;
- *dev database*: check it is clean, and clean it after use.

A `Session` is one open connection; drivers hand them out with `open()`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from hashlib import sha256
from typing import TYPE_CHECKING, Any, Literal

from atlas_operator.engine.changes import AddTable, Change, ModifyTable
from atlas_operator.engine.hazards import Hazard
from atlas_operator.engine.model import Realm, Unmanaged
from atlas_operator.engine.statements import Dialect
from atlas_operator.engine.urls import DatabaseURL

if TYPE_CHECKING:
    from atlas_operator.engine.dependencies import DependencyRules
    from atlas_operator.engine.sandbox import Refusal


class EngineError(Exception):
    """A failure the engine reports to its caller as one clear message."""


class DatabaseError(EngineError):
    """The database refused a statement or a connection."""


class UnsupportedChangeError(EngineError):
    """The desired state needs a change this driver cannot make."""


class LockTimeoutError(EngineError):
    """Another session holds the named lock."""


SCHEMA_APPLY_LOCK = "atlas_schema_apply"
"""The declarative apply lock's prefix: the lock itself is per target schema
(`scoped_lock_name`), unlike Atlas's one server-wide name."""
LOCK_TIMEOUT = 10.0
DEV_LOCK = "atlas_dev"
"""Held by a run while it loads, inspects and cleans a dev database (engine/devrun.py)."""
DEV_LOCK_TIMEOUT = 60.0
DEV_MARKER = "atlas_dev_marker"
"""The dev-run marker: a table in a bound dev schema, a schema (database) of its own in
realm scope. Reserved: `clean` and `is_clean` never count it (engine/devrun.py)."""
LOCK_NAME_LIMIT = 64
"""MySQL's limit on `GET_LOCK` names (PostgreSQL hashes any name to its key)."""


def fnv1_32(name: str) -> int:
    """FNV-1 (not 1a) 32-bit hash: Atlas's PostgreSQL advisory-lock key of a lock name."""
    value = 0x811C9DC5
    for byte in name.encode():
        value = (value * 0x01000193) & 0xFFFFFFFF
        value ^= byte
    return value


def scoped_lock_name(base: str, part: str) -> str:
    """`base:part`, with `part` replaced by a digest when the whole would not fit
    MySQL's 64-character lock names."""
    name = f"{base}:{part}"
    if len(name) <= LOCK_NAME_LIMIT:
        return name
    room = LOCK_NAME_LIMIT - len(base) - 1
    return f"{base}:{sha256(part.encode()).hexdigest()[:room]}"


@dataclass(frozen=True)
class Scope:
    """What part of a database an operation covers.

    `bound` is the schema a URL is bound to (schema scope: unqualified DDL); when
    it is None the realm is in scope, optionally narrowed to `schemas`.
    """

    bound: str | None = None
    schemas: tuple[str, ...] = ()

    @property
    def is_schema(self) -> bool:
        return self.bound is not None

    def includes(self, schema: str) -> bool:
        if self.bound is not None:
            return schema == self.bound
        return not self.schemas or schema in self.schemas


@dataclass(frozen=True)
class PlannedStatement:
    """One statement of a plan, with Atlas's comment line (`-- Create "users" table`)."""

    sql: str
    comment: str = ""
    transactional: bool = True
    """False for statements that cannot run inside a transaction (CREATE INDEX CONCURRENTLY)."""
    hazards: tuple[Hazard, ...] = field(default=(), compare=False)
    """What the statement risks on a busy database (engine/hazards.py); not part of its
    identity: two statements with the same SQL are the same statement."""


@dataclass(frozen=True)
class StatementTraits:
    """How a migration statement behaves around transactions, as its driver sees it.

    The executor uses these to make every statement run exactly once across crashes:
    a `transactional` statement runs in one transaction with its progress record; any
    other one gets an intent record first, and a rerun asks the database whether it ran
    (`Driver.interrupted_outcome`) unless it is `repeatable`."""

    transactional: bool = True
    """It can run inside a transaction and is undone with it (no implicit commit)."""
    repeatable: bool = False
    """Running it again after it ran leaves the same state (IF NOT EXISTS, VACUUM, SET…)."""
    control: str | None = None
    """The file's own transaction control: "begin", "commit" or "rollback"."""
    session_setting: bool = False
    """It changes only session state (SET …): replayed before a file resumes part-way."""


InterruptedOutcome = Literal["ran", "not-ran", "unknown"]


def compare_fingerprints(before: str | None, now: str | None) -> InterruptedOutcome:
    """Unchanged objects mean the statement did not run; without both digests, unknown."""
    if before is None or now is None:
        return "unknown"
    return "not-ran" if now == before else "ran"


class Session(ABC):
    """One open connection to a database."""

    url: DatabaseURL

    @abstractmethod
    def execute(self, sql: str) -> None:
        """Runs one statement; raises `DatabaseError` with the database's message."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Runs a query and returns every row."""

    scripts: bool = False
    """Whether `execute_script` sends its statements in one round trip."""

    def execute_script(self, texts: Sequence[str]) -> None:
        """Runs statements in order, in one round trip where the session can; raises
        `DatabaseError` for the first failure, without saying which statement failed
        (callers that need to know run the statements one by one again)."""
        for text in texts:
            self.execute(text)

    @abstractmethod
    def begin(self) -> None: ...

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.begin()
        try:
            yield
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Driver(ABC):
    """One database family: PostgreSQL, MySQL/MariaDB or SQLite."""

    name: str
    dialect: Dialect
    transactional_ddl: bool
    """Whether DDL can be rolled back (PostgreSQL, SQLite) or commits implicitly (MySQL)."""
    batch_scripts: bool = False
    """Whether many statements can be sent as one request inside a transaction (PostgreSQL)."""
    case_insensitive_names: bool = False
    """Whether the database folds identifier case when it compares names (SQLite)."""
    locks_per_schema: bool = True
    """Whether apply locks are named per schema (False: the lock is per database
    already, as SQLite's lock file is)."""

    @abstractmethod
    def open(self, url: DatabaseURL) -> Session:
        """Connects; raises `DatabaseError` naming the redacted URL when it cannot."""

    def open_for_migrations(self, url: DatabaseURL) -> Session:
        """A session for running migration files, which may send statements in batches
        (`Session.execute_script`). Dev databases never get one: a batch is judged as a
        whole by the server, while the desired-state sandbox judges one statement."""
        return self.open(url)

    @abstractmethod
    def inspect(self, session: Session, scope: Scope) -> Realm:
        """The schemas in scope, as the database describes them."""

    @abstractmethod
    def plan(
        self,
        changes: Sequence[Change],
        scope: Scope,
        *,
        concurrent_index: tuple[bool, bool] = (False, False),
    ) -> list[PlannedStatement]:
        """Ordered statements that make the changes (qualified only in realm scope).

        `concurrent_index` is (create, drop): build or drop indexes of existing tables
        without locking writes, where the database can (PostgreSQL)."""

    @abstractmethod
    def clean(self, session: Session, scope: Scope) -> None:
        """Empties a dev database (the schemas in scope) after use."""

    @abstractmethod
    def sandbox_refusal(self, sql: str, scope: Scope) -> Refusal | None:
        """Why one statement of a desired state may not run on the dev database, or
        None when it only defines schema objects within `scope`.

        A desired schema is a description: CREATE/ALTER/DROP/COMMENT of the schema
        objects the driver knows, a short allow-list of session settings and plain
        transaction control. Everything else is refused (data changes, queries, calls,
        files, other databases or schemas, roles, privileges, server settings), judged
        from the statement's head and the names it defines, never from routine bodies.
        Every driver implements it (engine/sandbox.py walks the statements)."""

    def settle_dev_realm(self, realm: Realm, statements: Sequence[str]) -> Realm:
        """The desired state as the SQL means it, where `for_dev` loaded something
        differently on purpose (PostgreSQL's event triggers, loaded disabled)."""
        return realm

    def unqualify(self, sql: str, schema: str) -> str:
        """A schema-bound desired state without `schema.` in its qualified names, as it
        runs on the dev database: the state of schema `schema` may name it (a view
        selecting from `app.users`), and it is loaded into a dev schema of another name.
        The sandbox judges the SQL as written. Drivers whose dev schema may be named
        otherwise implement it (MySQL); the default leaves the SQL as it is."""
        return sql

    def for_dev(self, sql: str) -> str:
        """A desired-state statement as it runs on the dev database (PostgreSQL creates
        materialized views there WITH NO DATA)."""
        return sql

    @abstractmethod
    def sandboxed(self, session: Session, scope: Scope) -> AbstractContextManager[None]:
        """What the database itself enforces while a desired state loads on the dev
        `session` (SQLite's authorizer, a restricted role where the dev URL names one),
        undone on exit."""

    def hazards(self, change: Change, statement: PlannedStatement) -> tuple[Hazard, ...]:
        """What `statement`, one of the statements `plan` rendered for `change` (or a
        migration file's statement that made it), risks: locks, rewrites, lost data
        (engine/hazards.py). The default knows of none."""
        return ()

    def with_hazards(
        self,
        change: Change,
        statements: Sequence[PlannedStatement],
        created: Sequence[Change] = (),
    ) -> list[PlannedStatement]:
        """The change's statements, each carrying its hazards; none for a table the
        plan creates (`created`: the plan's changes), whose keys may come after it."""
        if isinstance(change, ModifyTable) and any(
            isinstance(c, AddTable)
            and (c.schema, c.table.name) == (change.schema, change.after.name)
            for c in created
        ):
            return list(statements)
        found = [(s, self.hazards(change, s)) for s in statements]
        return [replace(s, hazards=h) if h else s for s, h in found]

    def dependency_rules(self) -> DependencyRules:
        """What this database can change in place, for `engine/dependencies.py`."""
        from atlas_operator.engine.dependencies import DefaultRules

        return DefaultRules()

    def scope_of(self, url: DatabaseURL, schemas: Sequence[str] = ()) -> Scope:
        return Scope(bound=url.schema, schemas=tuple(schemas))

    def is_clean(self, session: Session, scope: Scope) -> bool:
        realm = self.inspect(session, scope)
        return all(
            all(table.name == DEV_MARKER for table in schema.tables) for schema in realm.schemas
        )

    def schema_names(self, session: Session, scope: Scope) -> list[str]:
        """The schemas in scope that exist (drivers answer with one catalog query)."""
        return [schema.name for schema in self.inspect(session, scope).schemas]

    # --- dev-run marker and lock (engine/devrun.py) ------------------------------------

    def dev_lock_name(self, url: DatabaseURL, scope: Scope) -> str:
        """The session lock a run holds while it uses this dev database in `scope`."""
        return DEV_LOCK

    def has_dev_marker(self, session: Session, scope: Scope) -> bool:
        """Whether a run's marker is in the dev database."""
        return False

    def mark_dev(self, session: Session, scope: Scope) -> None:
        """Writes (and commits) the marker before anything is loaded."""

    def unmark_dev(self, session: Session, scope: Scope) -> None:
        """Removes the marker, once everything else is cleaned."""

    def unmanaged_objects(self, session: Session, scope: Scope) -> list[Unmanaged]:
        """Objects in scope that `inspect` does not model (so no plan can create them)."""
        return []

    def server_identity(self, session: Session) -> str | None:
        """The server's version and the settings that change what inspection prints, as
        one cheap query reads them: part of the key of a cached desired state
        (engine/statecache.py). None: unknown, so nothing is cached."""
        return None

    @contextmanager
    def lock(self, session: Session, name: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        """A session-scoped named lock: released with the session (or the process), so a
        killed process never leaves it behind. Every driver overrides it."""
        yield

    def statement_traits(self, sql: str) -> StatementTraits:
        """How `sql` behaves around transactions (the default suits transactional DDL)."""
        return StatementTraits()

    def needs_no_transaction(self, error: DatabaseError) -> bool:
        """Whether a statement failed only because it ran inside a transaction block
        (it is then retried outside one)."""
        return False

    def effect_fingerprint(self, session: Session, sql: str) -> str | None:
        """A digest of the catalog state of the objects `sql` changes, taken before it
        runs, or None when the driver cannot tell which objects those are."""
        return None

    def interrupted_outcome(
        self, session: Session, sql: str, before: str | None
    ) -> InterruptedOutcome:
        """Whether a statement that was started, but whose completion was never
        recorded, took effect: its objects changed since the `before` fingerprint."""
        return compare_fingerprints(before, self.effect_fingerprint(session, sql))

    def before_apply(self, session: Session, statements: Sequence[PlannedStatement]) -> None:
        """Hook run before the plan's transaction starts (SQLite turns FK checks off)."""

    def before_commit(self, session: Session, statements: Sequence[PlannedStatement]) -> None:
        """Hook run inside the plan's transaction just before COMMIT; raising
        DatabaseError rolls the whole plan back (SQLite checks foreign keys here)."""

    def after_apply(self, session: Session, statements: Sequence[PlannedStatement]) -> None:
        """Hook run after the plan's transaction ends, successful or not."""
