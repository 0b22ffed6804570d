"""The declarative flow (`schema apply`): desired state → plan → checked apply.

1. The desired SQL runs on a clean dev database scoped like the target, which is
   then inspected (database normal form) and cleaned again.
2. The target is inspected with the same inspector and the same scope.
3. The diff is filtered by `exclude` and the skip policy, ordered, and rendered.
4. Policies are checked before anything runs: destructive changes under
   `lint.destructive.error` stop the apply and name the statements.
5. The plan runs under `tx_mode`; on drivers whose DDL commits implicitly (MySQL)
   the report says which statements ran before the failing one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from typing import Literal

from atlas_operator.engine.changes import (
    Change,
    destructive_changes,
    skip_changes,
)
from atlas_operator.engine.dependencies import link_changes
from atlas_operator.engine.devrun import dev_session, inspect_dev
from atlas_operator.engine.diff import diff_realms, diff_schemas
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.drivers.base import (
    LOCK_TIMEOUT,
    SCHEMA_APPLY_LOCK,
    DatabaseError,
    Driver,
    EngineError,
    PlannedStatement,
    Scope,
    Session,
    scoped_lock_name,
)
from atlas_operator.engine.exclude import exclude_realm
from atlas_operator.engine.model import Realm, Schema
from atlas_operator.engine.sandbox import check_desired_sql, check_dev_url
from atlas_operator.engine.statecache import cached_normalise
from atlas_operator.engine.statements import SplitError, split_statements
from atlas_operator.engine.urls import DatabaseURL

TxMode = Literal["file", "all", "none"]


class DevDatabaseError(EngineError):
    """The desired state could not be loaded on the dev database."""


class DestructiveChangesError(EngineError):
    """The plan drops data and the lint policy forbids it (Atlas DS101–DS103)."""

    def __init__(self, statements: Sequence[str]) -> None:
        self.statements = list(statements)
        listed = "\n".join(f"  {s}" for s in statements)
        super().__init__(f"destructive changes detected:\n{listed}")


@dataclass(frozen=True)
class ApplyPolicy:
    """Everything of the resource (or the CLI flags) that shapes a plan."""

    schemas: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    skip: frozenset[str] = frozenset()
    concurrent_create: bool = False
    concurrent_drop: bool = False
    lint_destructive_error: bool = False
    tx_mode: TxMode = "file"


@dataclass
class Plan:
    target: DatabaseURL
    scope: Scope
    current: Realm
    desired: Realm
    changes: list[Change]
    statements: list[PlannedStatement]
    driver: Driver

    @property
    def sql(self) -> list[str]:
        return [s.sql for s in self.statements]


@dataclass
class ApplyReport:
    """What an apply did: Atlas's `Changes.Applied/Pending/Error` report."""

    plan: Plan
    applied: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    error_stmt: str | None = None
    error: str | None = None


# --- desired state ---------------------------------------------------------------------


def load_sql_on_dev(
    sql: str,
    dev_url: DatabaseURL,
    target_scope: Scope,
    policy: ApplyPolicy,
    source: str = "schema.sql",
    *,
    target: DatabaseURL | None = None,
) -> Realm:
    """Runs the desired SQL on a clean dev database and inspects the result.

    The SQL is sandboxed (engine/sandbox.py): it may only define schema objects in the
    dev database's scope, and a dev URL pointing at `target` itself is refused.

    The normalised result is cached per (dev database, scope, SQL text): an unchanged
    desired state needs no dev-database round trip on the next reconcile
    (DECISIONS.md §6). Behind this in-memory cache, a disk cache (engine/statecache.py,
    when configured) keeps results across processes: the one-shot CLI and restarts."""
    check_dev_url(dev_url, target)
    driver = driver_for(dev_url)
    scope = dev_scope(driver, dev_url, target_scope, policy)
    loaded = sql
    if target_scope.bound is not None and target_scope.bound != scope.bound:
        # The state describes the target's schema: where a query or body names it
        # (`app.users` in a view), it means the schema the state is loaded into. What a
        # statement defines is judged as written (the sandbox refuses `app.t` there).
        loaded = driver.unqualify(sql, target_scope.bound)
    digest = desired_digest(sql, loaded)
    key = (dev_url.redacted(), scope, digest)
    cached = NORMALISED_CACHE.get(key)
    if cached is None:

        def normalise() -> Realm:
            # Only on a miss: an entry exists only for SQL that passed the sandbox as
            # written (the digest covers it), so a hit has nothing left to check.
            check_desired_sql(driver, sql, scope, source)
            return normalise_on_dev(driver, loaded, dev_url, scope, source)

        cached = cached_normalise(driver, digest, dev_url, scope, normalise)
        NORMALISED_CACHE[key] = cached
        while len(NORMALISED_CACHE) > NORMALISED_CACHE_SIZE:
            NORMALISED_CACHE.pop(next(iter(NORMALISED_CACHE)))
    return exclude_realm(cached, policy.exclude, scope.bound)


NORMALISED_CACHE: dict[tuple[str, Scope, str], Realm] = {}
NORMALISED_CACHE_SIZE = 256


def desired_digest(written: str, loaded: str) -> str:
    """What identifies a desired state: the SQL as loaded (what normalises) and, when
    unqualifying changed it, as written (what the sandbox judged: `app.t` and `t`
    load alike, but only one of them is allowed)."""
    digest = hashlib.sha256(loaded.encode())
    if written != loaded:
        digest.update(b"\0written\0" + written.encode())
    return digest.hexdigest()


def load_hcl_on_dev(
    text: str,
    dev_url: DatabaseURL,
    target_scope: Scope,
    policy: ApplyPolicy,
    *,
    target: DatabaseURL | None = None,
    source: str = "schema.hcl",
) -> Realm:
    """An Atlas HCL desired state, normalised through the dev database like SQL;
    errors name `source` (the file or field it came from)."""
    from atlas_operator.engine.hcl import hcl_to_sql

    driver = driver_for(dev_url)
    scope = dev_scope(driver, dev_url, target_scope, policy)
    sql = hcl_to_sql(text, driver, target_scope.bound, scope.bound, source)
    return load_sql_on_dev(sql, dev_url, target_scope, policy, source=source, target=target)


def normalise_on_dev(
    driver: Driver, sql: str, dev_url: DatabaseURL, scope: Scope, source: str
) -> Realm:
    """Loads the desired SQL into a dev database this run owns (engine/devrun.py: locked
    against concurrent runs, healed of dead runs' leftovers, marked while in use) and
    inspects it; the dev database is cleaned afterwards."""
    try:
        parsed = split_statements(sql, driver.dialect)
    except SplitError as err:
        raise EngineError(f"{source}: {err}") from None
    statements = [driver.for_dev(s.text) for s in parsed]
    lines = {
        text: sql.count("\n", 0, s.position) + 1 for text, s in zip(statements, parsed, strict=True)
    }
    with dev_session(driver, dev_url, scope, DevDatabaseError) as dev:
        with driver.sandboxed(dev, scope):  # the database's own sandbox (engine/sandbox.py)
            if not (driver.batch_scripts and run_as_one_batch(dev, statements)):
                run_in_dependency_order(dev, statements, source, lines)
        realm = inspect_dev(driver, dev, scope)
        realm = driver.settle_dev_realm(realm, [s.text for s in parsed])
        return replace(realm, unmanaged=tuple(driver.unmanaged_objects(dev, scope)))


def run_as_one_batch(dev: Session, statements: list[str]) -> bool:
    """Sends the whole file in one round trip inside a transaction; False (and nothing
    changed) when any statement fails, so the caller can go statement by statement."""
    script = "\n".join(s if s.rstrip().endswith(";") else s + ";" for s in statements)
    try:
        dev.begin()
        dev.execute(script)
        dev.commit()
    except DatabaseError:
        dev.rollback()
        return False
    return True


def run_in_dependency_order(
    dev: Session, statements: list[str], source: str, lines: dict[str, int] | None = None
) -> None:
    """Runs statements in file order; a statement that fails is retried after the others.

    A schema file is a description, not a script: a table may reference one defined
    further down. Retrying until no statement makes progress orders such files the
    way the database needs; when nothing progresses, the first failure is reported.
    """
    pending = statements
    while pending:
        failed: list[tuple[str, DatabaseError]] = []
        for statement in pending:
            try:
                dev.execute(statement)
            except DatabaseError as err:
                failed.append((statement, err))
        if len(failed) == len(pending):
            first, error = failed[0]
            # Atlas's words, then where the statement starts in the file.
            where = f" ({source} line {lines[first]})" if lines and first in lines else ""
            raise DevDatabaseError(
                f'read state from "{source}": executing statement: "{first}": {error}{where}'
            )
        pending = [statement for statement, _ in failed]


def dev_scope(
    driver: Driver, dev_url: DatabaseURL, target_scope: Scope, policy: ApplyPolicy
) -> Scope:
    if target_scope.is_schema:
        dev = driver.scope_of(dev_url)
        if not dev.is_schema:
            raise DevDatabaseError(
                "the target URL is bound to a schema, so the dev URL must be bound to one too"
            )
        return dev
    return driver.scope_of(dev_url, policy.schemas)


# --- plan and apply ----------------------------------------------------------------------


def plan_apply(session: Session, driver: Driver, desired: Realm, policy: ApplyPolicy) -> Plan:
    scope = driver.scope_of(session.url, policy.schemas)
    current = exclude_realm(driver.inspect(session, scope), policy.exclude, scope.bound)
    changes = diff_states(current, desired, scope, driver, skip=policy.skip)
    statements = driver.plan(
        changes, scope, concurrent_index=(policy.concurrent_create, policy.concurrent_drop)
    )
    return Plan(session.url, scope, current, desired, changes, statements, driver)


def diff_states(
    current: Realm,
    desired: Realm,
    scope: Scope,
    driver: Driver | None = None,
    *,
    skip: frozenset[str] = frozenset(),
) -> list[Change]:
    """The changes from `current` to `desired` without the kinds `skip` names; with the
    `driver`, linked to what depends on them (engine/dependencies.py: dependents
    re-created around what breaks them). Skipping comes first: the drops and creates
    that make way for a change belong to it, so they are made when it is (whatever
    `skip` says of their kinds) and never without it."""
    fold_case = driver.case_insensitive_names if driver is not None else False
    if scope.bound is not None:
        # Schema scope: compare contents whatever each side's schema is called.
        cur = current.schemas[0] if current.schemas else Schema(scope.bound)
        des = desired.schemas[0] if desired.schemas else Schema(scope.bound)
        # The desired schema's own attributes come from the dev database, not from the
        # desired state: a schema-bound plan changes what is inside the schema only.
        des = replace(
            des, name=cur.name, charset=cur.charset, collation=cur.collation, comment=cur.comment
        )
        changes = diff_schemas(cur, des, fold_case=fold_case)
    else:
        changes = diff_realms(current, desired, fold_case=fold_case)
    changes = skip_changes(changes, skip)
    if driver is None:
        return changes
    return link_changes(
        changes, current, desired, driver.dependency_rules(), bound=scope.bound is not None
    )


def destructive_statements(plan: Plan) -> list[str]:
    """One statement per destructive change (DS101–DS103), for the lint message."""
    return [
        statement.sql
        for change in destructive_changes(plan.changes)
        for statement in plan.driver.plan([change], plan.scope)
        if not statement.sql.startswith("PRAGMA ")  # SQLite's foreign-keys switch around it
    ]


def check_policy(plan: Plan, policy: ApplyPolicy) -> None:
    if policy.lint_destructive_error:
        statements = destructive_statements(plan)
        if statements:
            raise DestructiveChangesError(statements)


def execute_plan(
    session: Session,
    driver: Driver,
    plan: Plan,
    tx_mode: TxMode,
    progress: Callable[[PlannedStatement, float], None] | None = None,
) -> ApplyReport:
    """Runs the plan; on failure the report names the failing statement and what ran.
    `progress` is told of each statement once it ran, with its duration in seconds.

    Under `file`/`all`, consecutive transactional statements share one transaction; a
    statement that cannot run in one (CREATE INDEX CONCURRENTLY, a new enum label that
    later statements use) runs on its own between them, so a failure rolls back only
    the statements since the last such one."""
    report = ApplyReport(plan=plan, pending=list(plan.sql))
    statements = plan.statements
    driver.before_apply(session, statements)
    try:
        for in_tx, segment in plan_segments(statements, tx_mode):
            if not run_segment(session, driver, segment, in_tx, report, progress):
                return report
    finally:
        driver.after_apply(session, statements)
    return report


def plan_segments(
    statements: Sequence[PlannedStatement], tx_mode: TxMode
) -> list[tuple[bool, list[PlannedStatement]]]:
    """(in a transaction, statements) runs: one per statement under `none`."""
    if tx_mode == "none":
        return [(False, [s]) for s in statements]
    segments: list[tuple[bool, list[PlannedStatement]]] = []
    for statement in statements:
        if not statement.transactional:
            segments.append((False, [statement]))
        elif segments and segments[-1][0]:
            segments[-1][1].append(statement)
        else:
            segments.append((True, [statement]))
    return segments


def run_segment(
    session: Session,
    driver: Driver,
    segment: list[PlannedStatement],
    in_tx: bool,
    report: ApplyReport,
    progress: Callable[[PlannedStatement, float], None] | None,
) -> bool:
    """Runs one segment, moving its statements from pending to applied; False (and the
    report names the failure) when it failed."""
    done: list[str] = []
    if in_tx:
        session.begin()
    for statement in segment:
        started = time.monotonic()
        try:
            session.execute(statement.sql)
        except DatabaseError as err:
            report.error_stmt, report.error = statement.sql, str(err)
            if in_tx:
                session.rollback()
                if driver.transactional_ddl:
                    undo(report, done)
            return False
        if progress is not None:
            progress(statement, time.monotonic() - started)
        done.append(statement.sql)
        report.applied.append(statement.sql)
        report.pending.pop(0)
    if in_tx:
        try:
            driver.before_commit(session, segment)
        except DatabaseError as err:
            report.error_stmt, report.error = "COMMIT", str(err)
            session.rollback()
            undo(report, done)
            return False
        session.commit()
    return True


def undo(report: ApplyReport, rolled_back: list[str]) -> None:
    """Statements of a rolled-back transaction go back to pending."""
    if rolled_back:
        del report.applied[len(report.applied) - len(rolled_back) :]
        report.pending[:0] = rolled_back


def schema_apply(
    target: DatabaseURL,
    desired_sql: str,
    dev_url: DatabaseURL,
    policy: ApplyPolicy,
    *,
    dry_run: bool = False,
) -> ApplyReport:
    """The whole declarative flow for SQL desired states."""
    driver = driver_for(target)
    scope = driver.scope_of(target, policy.schemas)
    desired = load_sql_on_dev(desired_sql, dev_url, scope, policy, target=target)
    with driver.open(target) as session, apply_lock(driver, session, scope, desired):
        plan = plan_apply(session, driver, desired, policy)
        check_policy(plan, policy)
        if dry_run or not plan.statements:
            return ApplyReport(plan=plan, pending=list(plan.sql))
        return execute_plan(session, driver, plan, policy.tx_mode)


# --- the apply lock ----------------------------------------------------------------------


def apply_lock_names(
    driver: Driver, session: Session, scope: Scope, desired: Realm | None = None
) -> list[str]:
    """One lock per schema the apply may change (issue 12, item 4): the bound schema, or
    in realm scope every schema in scope that exists or that the desired state names.
    Atlas takes one server-wide `atlas_schema_apply` (MySQL `GET_LOCK` is global), so
    applies to unrelated databases of one server waited for each other."""
    if not driver.locks_per_schema:
        return [SCHEMA_APPLY_LOCK]
    names = set(driver.schema_names(session, scope))
    if scope.bound is None and desired is not None:
        names.update(s.name for s in desired.schemas if scope.includes(s.name))
    return sorted({scoped_lock_name(SCHEMA_APPLY_LOCK, name) for name in names})


@contextmanager
def apply_lock(
    driver: Driver,
    session: Session,
    scope: Scope,
    desired: Realm | None = None,
    timeout: float = LOCK_TIMEOUT,
) -> Iterator[None]:
    """Holds the apply locks of the target's schemas (session-scoped: a killed applier
    leaves none) around inspect, plan and apply. Locks are taken in name order; in realm
    scope, schemas that appear while waiting are locked too, before anything is planned.
    Raises `LockTimeoutError` when another apply keeps one past `timeout`."""
    deadline = time.monotonic() + timeout
    held: set[str] = set()
    with ExitStack() as stack:
        while True:
            wanted = [n for n in apply_lock_names(driver, session, scope, desired) if n not in held]
            if not wanted:
                break
            for name in wanted:
                left = max(0.0, deadline - time.monotonic())
                stack.enter_context(driver.lock(session, name, left))
                held.add(name)
        yield
