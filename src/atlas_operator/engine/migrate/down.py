"""`migrate down`: revert applied migrations to an earlier version (reference §2, the
operator's protected `migrateDown` flow).

The state at the target version is built by replaying the directory up to that version
on the dev database; the plan from the current database to that state is applied like
a declarative change, then the reverted revisions are deleted. The directory given is
the one the revisions were applied from (the operator keeps it in its
`io.atlasgo.db.v1.<name>.latest` Secret), since the newer files may be gone from the
current one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from atlas_operator.engine.declarative import ApplyPolicy, dev_scope, execute_plan, plan_apply
from atlas_operator.engine.devrun import dev_session, inspect_dev
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.drivers.base import DatabaseError, Driver, Scope, Session
from atlas_operator.engine.exclude import exclude_realm
from atlas_operator.engine.migrate.dir import MigrateError, MigrationDir, MigrationFile
from atlas_operator.engine.migrate.executor import MigrateOptions, from_last_checkpoint, open_target
from atlas_operator.engine.migrate.revisions import DEFAULT_SCHEMA, TABLE
from atlas_operator.engine.model import Realm
from atlas_operator.engine.urls import DatabaseURL


@dataclass
class DownResult:
    current: str
    target: str
    reverted: list[str] = field(default_factory=list)
    """Versions whose revisions were removed, newest first."""
    planned: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    error: str | None = None


@contextmanager
def clean_dev(driver: Driver, dev_url: DatabaseURL, scope: Scope) -> Iterator[Session]:
    """A dev database session this run owns (engine/devrun.py): it must start empty, or
    hold only a dead run's leftovers, and is emptied afterwards."""
    with dev_session(driver, dev_url, scope, MigrateError) as dev:
        yield dev


def replay(driver: Driver, dev: Session, files: Sequence[MigrationFile]) -> None:
    for f in files:
        for statement in f.statements(driver.dialect):
            try:
                dev.execute(statement.text)
            except DatabaseError as err:
                raise MigrateError(
                    f'replaying "{f.name}" on the dev database: executing statement '
                    f'"{statement.text}": {err}'
                ) from None


def revisions_exclude(url: DatabaseURL, revisions_schema: str) -> tuple[str, ...]:
    """The exclude glob that hides the revisions table from a plan."""
    if url.schema is not None or url.driver == "sqlite":
        return (TABLE,)
    if revisions_schema == DEFAULT_SCHEMA:
        return (DEFAULT_SCHEMA,)
    return (f"{revisions_schema}.{TABLE}",)


def state_at(
    directory: MigrationDir,
    version: str,
    dev_url: DatabaseURL,
    scope: Scope,
    exclude: tuple[str, ...],
) -> Realm:
    files = from_last_checkpoint([f for f in directory.files if f.version <= version])
    driver = driver_for(dev_url)
    inspect_scope = dev_scope(driver, dev_url, scope, ApplyPolicy())
    with clean_dev(driver, dev_url, inspect_scope) as dev:
        replay(driver, dev, files)
        realm = inspect_dev(driver, dev, inspect_scope)
    return exclude_realm(realm, exclude, inspect_scope.bound)


def migrate_down(
    url: DatabaseURL,
    directory: MigrationDir,
    to_version: str,
    dev_url: DatabaseURL,
    options: MigrateOptions | None = None,
    *,
    dry_run: bool = False,
) -> DownResult:
    options = options or MigrateOptions()
    directory.validate()
    with open_target(url, options) as target:
        revisions = target.store.read_all()
        current = revisions[-1].version if revisions else ""
        result = DownResult(current=current, target=to_version)
        above = [r for r in revisions if r.version > to_version]
        if not above:
            return result
        if to_version and to_version not in {r.version for r in revisions}:
            raise MigrateError(f'migrate down: version "{to_version}" was never applied')
        missing = [
            r.version
            for r in above
            if r.hash and not any(f.version == r.version for f in directory.files)
        ]
        if missing:
            raise MigrateError(
                "migrate down: the directory does not contain the applied migrations "
                + ", ".join(missing)
                + "; pass the directory they were applied from"
            )
        exclude = revisions_exclude(url, target.store.schema)
        policy = ApplyPolicy(exclude=exclude)
        desired = state_at(directory, to_version, dev_url, target.scope, exclude)
        plan = plan_apply(target.session, target.driver, desired, policy)
        result.planned = plan.sql
        if dry_run:
            return result
        if plan.statements:
            report = execute_plan(target.session, target.driver, plan, "file")
            result.applied = report.applied
            if report.error is not None:
                result.error = f'executing statement "{report.error_stmt}": {report.error}'
                return result
        for revision in reversed(above):
            target.store.delete(revision.version)
            result.reverted.append(revision.version)
        return result
