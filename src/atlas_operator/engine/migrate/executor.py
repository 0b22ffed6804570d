"""`migrate apply` and `migrate status`: which files are pending and running them
(reference §2.4–§2.7), compatible with revisions written by Atlas.

Every run holds the session-scoped lock `atlas_migrate_execute` (the same name and
PostgreSQL key as Atlas, so Atlas and we exclude each other). After every statement the
revision row records how many statements ran and a cumulative hash of them, so a run
that died part-way resumes at the next statement, and refuses if what ran was edited.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Literal

from atlas_operator import __version__
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.drivers.base import (
    LOCK_TIMEOUT,
    DatabaseError,
    Driver,
    Scope,
    Session,
)
from atlas_operator.engine.migrate.dir import HashFile, MigrateError, MigrationDir, MigrationFile
from atlas_operator.engine.migrate.revisions import (
    BASELINE,
    DEFAULT_SCHEMA,
    EXECUTED,
    RESOLVED,
    TABLE,
    Revision,
    RevisionStore,
    revisions_schema,
)
from atlas_operator.engine.migrate.runner import (
    FileResult,
    FileRun,
    HistoryChangedError,
    InterruptedStatementError,
    Resolution,
    statement_sums,
)
from atlas_operator.engine.urls import DatabaseURL

__all__ = [
    "FileResult",
    "HistoryChangedError",
    "InterruptedStatementError",
    "statement_sums",
]

MIGRATE_LOCK = "atlas_migrate_execute"
OWN_VERSION_PREFIX = "atlas-operator-py "
OPERATOR_VERSION = f"{OWN_VERSION_PREFIX}v{__version__}"
ExecOrder = Literal["linear", "linear-skip", "non-linear"]
TxMode = Literal["file", "all", "none"]


class NotCleanError(MigrateError):
    pass


class HistoryNonLinearError(MigrateError):
    pass


@dataclass(frozen=True)
class MigrateOptions:
    baseline: str | None = None
    allow_dirty: bool = False
    """Start on a non-clean database without a baseline: every file is pending (Atlas's
    `--allow-dirty`; mutually exclusive with `baseline`)."""
    exec_order: ExecOrder = "linear"
    tx_mode: TxMode = "file"
    revisions_schema: str | None = None
    amount: int = 0
    """Apply at most this many pending files (0: all)."""
    dry_run: bool = False
    lock_timeout: float = LOCK_TIMEOUT
    operator_version: str = OPERATOR_VERSION
    interrupted: Resolution = "check"
    """How to treat a statement an earlier run left interrupted (see `runner`)."""


@dataclass
class ApplyResult:
    current: str
    """The last applied version before the run ("" when none)."""
    pending: list[MigrationFile]
    files: list[FileResult] = field(default_factory=list)
    error: str | None = None

    @property
    def target(self) -> str:
        return self.pending[-1].version if self.pending else self.current

    @property
    def applied_version(self) -> str:
        """The last version fully applied by the end of the run."""
        done = [r.file.version for r in self.files if r.error is None]
        return done[-1] if done else self.current

    @property
    def message(self) -> str:
        if not self.pending:
            return "No migration files to execute"
        since = f" from {self.current}" if self.current else ""
        return f"Migrated to version {self.target}{since} ({len(self.pending)} migrations in total)"


@dataclass
class Status:
    available: list[MigrationFile]
    pending: list[MigrationFile]
    applied: list[Revision]
    out_of_order: list[MigrationFile] = field(default_factory=list)

    @property
    def current(self) -> str:
        return self.applied[-1].version if self.applied else "No migration applied yet"

    @property
    def next(self) -> str:
        return self.pending[0].version if self.pending else "Already at latest version"

    @property
    def last_error(self) -> Revision | None:
        last = self.applied[-1] if self.applied else None
        return last if last is not None and last.error else None

    @property
    def status(self) -> str:
        return "PENDING" if self.pending or self.out_of_order else "OK"


# --- pending files ---------------------------------------------------------------------


def last_index(files: list[MigrationFile], accept: object) -> int:
    for index in range(len(files) - 1, -1, -1):
        if accept(files[index]):  # type: ignore[operator]
            return index
    return -1


def from_last_checkpoint(files: list[MigrationFile]) -> list[MigrationFile]:
    index = last_index(files, lambda f: f.is_checkpoint)
    return files[index:] if index >= 0 else list(files)


def out_of_order_message(files: list[MigrationFile]) -> str:
    names = ", ".join(f.name for f in files)
    verb = "was" if len(files) == 1 else "were"
    noun = "file" if len(files) == 1 else "files"
    return (
        f"migration {noun} {names} {verb} added out of order. "
        "See: https://atlasgo.io/versioned/apply#non-linear-error"
    )


@dataclass
class Pending:
    files: list[MigrationFile]
    out_of_order: list[MigrationFile] = field(default_factory=list)
    baseline: Revision | None = None


def pending_after(
    revisions: list[Revision], directory: MigrationDir, exec_order: ExecOrder
) -> Pending:
    """Atlas's `Executor.Pending` for a database with revisions (reference §2.5)."""
    every = list(directory.files)
    migrations = [f for f in every if not f.is_checkpoint]
    last = revisions[-1]
    partial = last.is_partial and not last.type & RESOLVED
    checkpoint = next((f for f in every if f.is_checkpoint and f.version == last.version), None)
    if partial and checkpoint is not None:
        after = every.index(checkpoint) + 1
        return Pending([checkpoint] + [f for f in every[after:] if not f.is_checkpoint])
    if not migrations:
        return Pending([])
    if partial:
        index = last_index(migrations, lambda f: f.version == last.version)
        if index < 0:
            raise MigrateError(
                f'sql/migrate: missing migration: revision "{last.version}" is partially '
                "applied but migration file was not found"
            )
    else:
        index = last_index(migrations, lambda f: f.version <= last.version)
        if index < 0:
            return Pending(migrations)
        index += 1
    pending = migrations[index:]
    if exec_order == "linear-skip":
        return Pending(pending)
    applied_versions = {r.version for r in revisions}
    first = next(
        (i for i, f in enumerate(migrations[:index]) if f.version >= revisions[0].version), index
    )
    skipped = [f for f in migrations[first:index] if f.version not in applied_versions]
    if skipped and exec_order == "non-linear":
        return Pending(skipped + pending)
    return Pending(pending, out_of_order=skipped)


# --- running ---------------------------------------------------------------------------


@dataclass
class Target:
    """An open target database with its revisions store."""

    driver: Driver
    session: Session
    url: DatabaseURL
    store: RevisionStore
    explicit_schema: bool

    @property
    def scope(self) -> Scope:
        return self.driver.scope_of(self.url)


@contextmanager
def open_target(
    url: DatabaseURL, options: MigrateOptions, *, lock: bool = True
) -> Iterator[Target]:
    driver = driver_for(url)
    with driver.open_for_migrations(url) as session:
        schema = revisions_schema(driver, url, options.revisions_schema)
        target = Target(
            driver,
            session,
            url,
            RevisionStore(session, driver, schema),
            options.revisions_schema is not None,
        )
        if not lock:
            yield target
            return
        with driver.lock(session, MIGRATE_LOCK, options.lock_timeout):
            yield target


def check_clarity(target: Target) -> None:
    """Refuses when a schema-bound URL would miss revisions kept in their own schema."""
    if target.explicit_schema or target.url.schema is None or target.driver.name == "sqlite":
        return
    store = target.store
    if not store.table_exists() and store.table_exists(DEFAULT_SCHEMA):
        raise MigrateError(
            f"ambiguous revision table: the connected schema {target.url.schema!r} has no "
            f"{TABLE} table, but schema {DEFAULT_SCHEMA!r} has one. Set the revisions "
            f"schema (--revisions-schema / spec.revisionsSchema) to {DEFAULT_SCHEMA!r} to "
            "keep using it, or to the connected schema to start a new history there"
        )


def not_clean_reason(target: Target) -> str | None:
    """Why the database is not clean for a first run (Atlas's `CheckClean`), or None."""
    realm = target.driver.inspect(target.session, target.scope)
    revisions = target.store.schema
    tables: list[str] = []
    for schema in realm.schemas:
        names = [
            t.name for t in schema.tables if not (schema.name == revisions and t.name == TABLE)
        ]
        bound = target.url.schema is not None or target.driver.name == "sqlite"
        if not bound and schema.name not in ("public", revisions):
            return f'found schema "{schema.name}"'
        tables += [f'found table "{name}" in schema "{schema.name}"' for name in names]
    if len(tables) == 1:
        return tables[0]
    if tables:
        return f"found multiple tables: {len(tables)}"
    return None


def written_by_us(revision: Revision) -> bool:
    return revision.operator_version.startswith(OWN_VERSION_PREFIX)


def check_applied_unchanged(revisions: list[Revision], directory: MigrationDir) -> None:
    """Refuses a directory whose applied files were edited and re-hashed, where the
    revisions prove it.

    Atlas never checks the `hash` column, and its executor keeps the hash of a file's
    first attempt when it resumes the file after a failure: a file that failed part-way,
    was fixed, re-hashed and resumed by Atlas keeps the old hash, and nothing else in
    the row tells (the error and `partial_hashes` are cleared on completion). So a row
    last written by anyone else (`operator_version` "Atlas CLI …") may legitimately
    differ. Our own executor rewrites the hash when a file completes, so our rows hold
    the directory's hash as it was when the file was fully applied: a difference there
    proves an applied file was edited since. Hashes are cumulative (an edit changes
    every later file's hash too), so the edited file is one of the differing files
    after the last matching row; the first of them is named. Only in linear order: a
    file inserted out of order (non-linear) changes every later hash legitimately."""
    by_version = {
        MigrationFile(name, b"").version: (name, h) for name, h in directory.computed_sum().entries
    }
    first_differing: str | None = None
    for revision in revisions:
        if revision.type & EXECUTED == 0 or revision.is_partial or not revision.hash:
            continue
        name, current = by_version.get(revision.version, ("", revision.hash))
        if current == revision.hash:
            first_differing = None
            continue
        first_differing = first_differing or name
        if written_by_us(revision):
            raise HistoryChangedError(
                f'migration file "{first_differing}" was changed after it was applied: its '
                "atlas.sum hash differs from the one recorded in the revisions table. "
                "Applied files must not be edited; add a new migration file instead"
            )


def is_stale_failure(revision: Revision, directory: MigrationDir) -> bool:
    """The error row of a rolled-back file (nothing of it ran) whose file was removed
    from the directory: it records no change to the database, so it is dropped rather
    than reported as a missing partially-applied migration."""
    return (
        revision.error is not None
        and revision.applied == 0
        and revision.is_partial
        and not any(f.version == revision.version for f in directory.files)
    )


def compute_pending(
    target: Target, directory: MigrationDir, options: MigrateOptions
) -> tuple[list[Revision], Pending]:
    revisions = target.store.read_all()
    stale = [r for r in revisions if is_stale_failure(r, directory)]
    if stale and not options.dry_run:
        for revision in stale:
            target.store.delete(revision.version)
    revisions = [r for r in revisions if r not in stale]
    if revisions:
        pending = pending_after(revisions, directory, options.exec_order)
        if options.exec_order == "linear":
            if pending.out_of_order:
                raise HistoryNonLinearError(out_of_order_message(pending.out_of_order))
            check_applied_unchanged(revisions, directory)
        return revisions, pending
    reason = not_clean_reason(target)
    if reason and not options.baseline and not options.allow_dirty:
        raise NotCleanError(
            f"sql/migrate: connected database is not clean: {reason}. "
            "baseline version or allow-dirty is required"
        )
    migrations = [f for f in directory.files if not f.is_checkpoint]
    if options.baseline:
        index = last_index(migrations, lambda f: f.version == options.baseline)
        if index < 0:
            raise MigrateError(f'baseline version "{options.baseline}" not found')
        base = migrations[index]
        baseline = Revision(
            base.version,
            base.description,
            type=BASELINE,
            operator_version=options.operator_version,
        )
        return revisions, Pending(migrations[index + 1 :], baseline=baseline)
    return revisions, Pending(from_last_checkpoint(list(directory.files)))


def migrate_apply(
    url: DatabaseURL, directory: MigrationDir, options: MigrateOptions | None = None
) -> ApplyResult:
    """Applies the pending files; a statement failure is returned in the result (and
    recorded in the revisions table), anything that stops the run earlier is raised."""
    options = options or MigrateOptions()
    if options.amount < 0:
        raise MigrateError("the number of migrations to apply must be at least 1")
    if options.baseline and options.allow_dirty:
        raise MigrateError("sql/migrate: baseline and allow-dirty are mutually exclusive")
    sums = directory.validate()
    with open_target(url, options) as target:
        check_clarity(target)
        if not options.dry_run:
            target.store.ensure_table()
        revisions, pending = compute_pending(target, directory, options)
        if pending.baseline is not None and not options.dry_run:
            target.store.write(pending.baseline)
            revisions.append(pending.baseline)
        files = pending.files[: options.amount] if options.amount else pending.files
        current = next((r.version for r in reversed(revisions) if not r.is_partial), "")
        result = ApplyResult(current=current, pending=files)
        if options.dry_run:
            for f in files:
                result.files.append(
                    FileResult(f, [s.text for s in f.statements(target.driver.dialect)])
                )
            return result
        run_files(target, files, sums, options, result)
        return result


def file_tx_modes(files: list[MigrationFile], tx_mode: TxMode) -> list[str]:
    modes = []
    for f in files:
        mode = f.tx_mode()
        if tx_mode == "all" and mode is not None and mode != "all":
            raise MigrateError(
                f'cannot set txmode directive to "{mode}" in "{f.name}" when txmode "all" '
                "is set globally"
            )
        modes.append(mode or tx_mode)
    return modes


def file_runs(
    target: Target, files: list[MigrationFile], sums: HashFile, options: MigrateOptions
) -> list[FileRun]:
    runs = []
    for f in files:
        file_hash = sums.hash_of(f.name)
        if file_hash is None:
            raise MigrateError(f"sql/migrate: checksum not found for file {f.name!r}")
        run = FileRun(
            target.driver,
            target.session,
            target.store,
            f,
            file_hash,
            FileResult(f),
            options.operator_version,
            options.interrupted,
        )
        if options.tx_mode == "all" and run.has_own_transactions():
            raise MigrateError(
                f'"{f.name}" controls its own transactions (BEGIN/COMMIT), so it cannot run '
                'inside the single transaction of txmode "all"; use txmode "file" or "none"'
            )
        runs.append(run)
    return runs


def run_files(
    target: Target,
    files: list[MigrationFile],
    sums: HashFile,
    options: MigrateOptions,
    result: ApplyResult,
) -> None:
    """Runs the files in order and stops at the first failure (see `runner`): wrapped in
    transactions where the database can roll DDL back, step by step elsewhere."""
    modes = file_tx_modes(files, options.tx_mode)
    runs = file_runs(target, files, sums, options)
    session, atomic = target.session, target.driver.transactional_ddl
    outer = atomic and options.tx_mode == "all" and bool(files)
    if outer:
        session.begin()
    for position, (run, mode) in enumerate(zip(runs, modes, strict=True)):
        result.files.append(run.report)
        started = time.monotonic()
        run.load_revision()
        run.resume()
        wrapped = atomic and mode in ("file", "all") and not run.has_own_transactions()
        if wrapped and mode == "file":
            session.begin()
        if wrapped:
            ok = run_wrapped(run, commit=mode == "file", first=position == 0 or mode == "file")
        else:
            ok = run.run_steps(group=mode != "none")
        run.report.seconds = time.monotonic() - started
        if not ok:
            result.error = (
                f'sql/migrate: executing statement "{run.report.error_stmt}" from version '
                f'"{run.file.version}": {run.report.error}'
            )
            return
    if outer:
        commit_or_fail(target, runs[-1], result)


def run_wrapped(run: FileRun, *, commit: bool, first: bool) -> bool:
    """A file inside a transaction. On failure everything since the transaction began
    is rolled back; the row then records the error with the file's state at its start.
    When earlier files were rolled back with it (`all`), nothing is kept, or the next
    run would skip them."""
    ok = run.run_wrapped()
    if ok and commit:
        try:
            run.session.commit()
        except DatabaseError as err:  # deferred constraints are checked at COMMIT
            ok = run.fail(len(run.texts) - 1, err)
    if ok:
        return True
    run.rollback_quietly()
    if first:
        run.record_failure(run.at_start)
    return False


def commit_or_fail(target: Target, last: FileRun, result: ApplyResult) -> None:
    try:
        target.session.commit()
    except DatabaseError as err:
        last.fail(len(last.texts) - 1, err)
        result.error = f"sql/migrate: committing the migration transaction: {err}"


# --- status ----------------------------------------------------------------------------


def migrate_status(
    url: DatabaseURL, directory: MigrationDir, options: MigrateOptions | None = None
) -> Status:
    """What `migrate status` reports; reads without the lock and creates nothing."""
    options = options or MigrateOptions()
    directory.validate()
    with open_target(url, options, lock=False) as target:
        check_clarity(target)
        if not target.store.table_exists():
            return Status(list(directory.files), from_last_checkpoint(list(directory.files)), [])
        revisions = [r for r in target.store.read_all() if not is_stale_failure(r, directory)]
        if not revisions:
            _, pending = compute_pending(target, directory, replace(options, dry_run=True))
            return Status(list(directory.files), pending.files, [])
        found = pending_after(revisions, directory, options.exec_order)
        return Status(list(directory.files), found.files, revisions, found.out_of_order)
