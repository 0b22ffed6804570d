"""`migrate lint`: Atlas's analyzers over new migration files (reference §4).

The directory's older files are replayed on the dev database; each new file then runs
one statement at a time, and the schema change each statement made (inspect before and
after, diff) is what the analyzers judge. Unlike Atlas's community build we also lint
MariaDB, fire MF104 only when a column really becomes NOT NULL, and flag type changes
that can lose data (MF105, ours).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from atlas_operator.engine.changes import (
    AddColumn,
    AddIndex,
    AddSchema,
    AddTable,
    Change,
    DropColumn,
    DropForeignKey,
    DropIndex,
    DropPartitions,
    DropSchema,
    DropTable,
    ModifyColumn,
    ModifyIndex,
    ModifyTable,
    ReorganizePartitions,
)
from atlas_operator.engine.declarative import ApplyPolicy, dev_scope, diff_states
from atlas_operator.engine.devrun import inspect_dev
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.drivers.base import DatabaseError, Driver, PlannedStatement, Session
from atlas_operator.engine.hazards import DELETES_DATA, LINT_CODES
from atlas_operator.engine.hazards import is_widening as is_widening  # lint.is_widening
from atlas_operator.engine.migrate.dir import MigrateError, MigrationDir, MigrationFile
from atlas_operator.engine.migrate.down import clean_dev, replay
from atlas_operator.engine.migrate.executor import from_last_checkpoint
from atlas_operator.engine.model import Realm
from atlas_operator.engine.urls import DatabaseURL

ANALYZERS = {
    "DS101": "destructive",
    "DS102": "destructive",
    "DS103": "destructive",
    "DS104": "destructive",  # ours: MySQL partitions dropped, or reorganised losing rows
    "MF101": "data_depend",
    "MF102": "data_depend",
    "MF103": "data_depend",
    "MF104": "data_depend",
    "MF105": "data_depend",
    "MY101": "data_depend",
    "LT101": "data_depend",
    "CD101": "condrop",
    # ours: the hazards of each statement (engine/hazards.py), HZ101 DeletesData … HZ110
    **{code: "hazard" for code in LINT_CODES.values()},
}
# Analyzers whose findings fail the run by default (Atlas: destructive { error = true }).
ERROR_BY_DEFAULT = frozenset({"destructive"})


@dataclass(frozen=True)
class Diagnostic:
    code: str
    text: str
    statement: str
    position: int

    @property
    def analyzer(self) -> str:
        return ANALYZERS[self.code]


@dataclass
class FileLint:
    file: MigrationFile
    diagnostics: list[Diagnostic] = field(default_factory=list)
    error: str | None = None


@dataclass
class LintReport:
    files: list[FileLint]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for f in self.files for d in f.diagnostics if d.analyzer in ERROR_BY_DEFAULT]

    @property
    def failed(self) -> bool:
        return bool(self.errors) or any(f.error for f in self.files)


@dataclass
class StatementChanges:
    text: str
    position: int
    changes: list[Change]
    nolint: list[str]


def migrate_lint(directory: MigrationDir, dev_url: DatabaseURL, latest: int = 1) -> LintReport:
    """Lints the last `latest` files of the directory on the dev database."""
    directory.validate()
    if latest < 1:
        raise MigrateError("--latest must be at least 1")
    files = list(directory.files)
    base, new = files[:-latest], files[-latest:]
    driver = driver_for(dev_url)
    scope = dev_scope(driver, dev_url, driver.scope_of(dev_url), ApplyPolicy())
    report = LintReport([])
    with clean_dev(driver, dev_url, scope) as dev:
        replay(driver, dev, from_last_checkpoint(base) if base else [])
        state = inspect_dev(driver, dev, scope)
        for f in new:
            lint = FileLint(f)
            report.files.append(lint)
            steps, state, lint.error = run_statements(driver, dev, f, state)
            if lint.error is None:
                lint.diagnostics = analyze(f, steps, driver)
    return report


def run_statements(
    driver: Driver, dev: Session, f: MigrationFile, state: Realm
) -> tuple[list[StatementChanges], Realm, str | None]:
    scope = driver.scope_of(dev.url)
    steps: list[StatementChanges] = []
    for statement in f.statements(driver.dialect):
        try:
            dev.execute(statement.text)
        except DatabaseError as err:
            return steps, state, f'executing statement "{statement.text}": {err}'
        after = inspect_dev(driver, dev, scope)
        changes = diff_states(state, after, scope, driver)
        nolint = statement.directives("nolint")
        steps.append(StatementChanges(statement.text, statement.position, changes, nolint))
        state = after
    return steps, state, None


def analyze(f: MigrationFile, steps: list[StatementChanges], driver: Driver) -> list[Diagnostic]:
    file_nolint = f.header_directives("nolint")
    if "" in file_nolint:
        return []  # a bare file-level nolint skips the whole file
    file_args = {arg for line in file_nolint for arg in line.split()}
    created = Created()
    found: list[Diagnostic] = []
    for step in steps:
        findings = step_findings(step.changes, created, driver)
        findings += hazard_findings(step, created, driver, findings)
        diagnostics = [Diagnostic(code, text, step.text, step.position) for code, text in findings]
        suppressed = set(file_args)
        for directive in step.nolint:
            suppressed |= set(directive.split()) or {"*"}
        found += [
            d
            for d in diagnostics
            if "*" not in suppressed and d.code not in suppressed and d.analyzer not in suppressed
        ]
        created.record(step.changes)
    return found


@dataclass
class Created:
    """Objects created earlier in the same file: changing them loses nothing."""

    schemas: set[str] = field(default_factory=set)
    tables: set[tuple[str, str]] = field(default_factory=set)
    columns: set[tuple[str, str, str]] = field(default_factory=set)
    foreign_keys: set[tuple[str, str, str]] = field(default_factory=set)

    def record(self, changes: list[Change]) -> None:
        for change in changes:
            if isinstance(change, AddSchema):
                self.schemas.add(change.schema.name)
            elif isinstance(change, AddTable):
                self.tables.add((change.schema, change.table.name))
            elif isinstance(change, ModifyTable):
                for nested in change.changes:
                    if isinstance(nested, AddColumn):
                        self.columns.add((change.schema, change.after.name, nested.column.name))


def hazard_findings(
    step: StatementChanges, created: Created, driver: Driver, found: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """HZ1xx: the hazards the driver sees in the statement, for the changes it made to
    objects older than the file. DeletesData is left to the destructive analyzer when it
    already reported the statement (DS101–DS104)."""
    statement = PlannedStatement(step.text)
    destructive = any(code.startswith("DS") for code, _ in found)
    hazards: list[tuple[str, str]] = []
    for change in step.changes:
        if is_new(change, created):
            continue
        for hazard in driver.hazards(change, statement):
            if hazard.kind == DELETES_DATA and destructive:
                continue
            hazards.append((LINT_CODES[hazard.kind], f"{hazard.kind}: {hazard.message}"))
    return hazards


def is_new(change: Change, created: Created) -> bool:
    """The change is to a schema or table the same file created (nothing to lock or lose)."""
    if isinstance(change, DropSchema):
        return change.schema.name in created.schemas
    if isinstance(change, (DropTable, ModifyTable)):
        table = change.table.name if isinstance(change, DropTable) else change.before.name
        return (change.schema, table) in created.tables
    return False


def step_findings(changes: list[Change], created: Created, driver: Driver) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    dropped_schemas = {c.schema.name for c in changes if isinstance(c, DropSchema)}
    for change in changes:
        if isinstance(change, DropSchema) and change.schema.name not in created.schemas:
            tables = len(change.schema.tables)
            text = (
                f'Dropping non-empty schema "{change.schema.name}" with {tables} table(s)'
                if tables
                else f'Dropping schema "{change.schema.name}"'
            )
            found.append(("DS101", text))
        elif isinstance(change, DropTable):
            if (
                change.schema in dropped_schemas
                or (change.schema, change.table.name) in created.tables
            ):
                continue
            found.append(("DS102", f'Dropping table "{change.table.name}"'))
        elif isinstance(change, ModifyTable):
            if (change.schema, change.before.name) in created.tables:
                continue
            found += table_findings(change, created, driver)
    return found


def partition_findings(change: ModifyTable) -> list[tuple[str, str]]:
    """DS104: partitions whose rows go (the table was not created in the same file)."""
    table = change.after.name
    found: list[tuple[str, str]] = []
    for c in change.changes:
        if isinstance(c, DropPartitions):
            names = [p.name for p in c.partitions]
            noun = "partition" if len(names) == 1 else "partitions"
            found.append(("DS104", f'Dropping {noun} {quoted_list(names)} of table "{table}"'))
        elif isinstance(c, ReorganizePartitions) and c.loses_rows:
            names = [p.name for p in c.before]
            found.append(
                (
                    "DS104",
                    f'Reorganizing partitions {quoted_list(names)} of table "{table}" deletes '
                    "the rows whose values no partition lists any more",
                )
            )
    return found


def quoted_list(names: list[str]) -> str:
    quoted = [f'"{n}"' for n in names]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def table_findings(change: ModifyTable, created: Created, driver: Driver) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    table = change.after.name
    dropped = [
        c.column.name
        for c in change.changes
        if isinstance(c, DropColumn)
        and (c.column.generated is None or c.column.generated.stored)
        and (change.schema, table, c.column.name) not in created.columns
    ]
    if dropped:
        noun = "column" if len(dropped) == 1 else "columns"
        found.append(("DS103", f"Dropping non-virtual {noun} {quoted_list(dropped)}"))
    found += partition_findings(change)
    added = {c.column.name for c in change.changes if isinstance(c, AddColumn)}
    dropped_unique = [
        c.index for c in change.changes if isinstance(c, DropIndex) and c.index.unique
    ]
    dropped_fk_columns = {c.column.name for c in change.changes if isinstance(c, DropColumn)}
    for nested in change.changes:
        if isinstance(nested, AddIndex) and nested.index.unique:
            existing = [c for c in nested.index.columns if c not in added]
            covered = any(
                len(old.parts) <= len(nested.index.parts) and set(old.columns) >= set(existing)
                for old in dropped_unique
            )
            if existing and not covered:
                found.append(
                    (
                        "MF101",
                        f'Adding a unique index "{nested.index.name}" on table "{table}" might '
                        f"fail in case column{'s' if len(existing) > 1 else ''} "
                        f"{quoted_list(existing)} contain{'' if len(existing) > 1 else 's'} "
                        "duplicate entries",
                    )
                )
        elif isinstance(nested, ModifyIndex) and nested.after.unique and not nested.before.unique:
            found.append(
                (
                    "MF102",
                    f'Modifying index "{nested.after.name}" on table "{table}" to unique might '
                    "fail in case of duplicate entries",
                )
            )
        elif isinstance(nested, AddColumn):
            found += added_column_findings(nested, table, driver)
        elif isinstance(nested, ModifyColumn):
            found += modified_column_findings(nested, table, driver)
        elif isinstance(nested, DropForeignKey) and not (
            set(nested.foreign_key.columns) & dropped_fk_columns
        ):
            found.append(("CD101", f'Dropping foreign-key constraint "{nested.foreign_key.name}"'))
    return found


MYSQL_IMPLICIT = [
    (re.compile(r"^(tiny|small|medium|big)?int|^decimal|^numeric|^float|^double|^bit|^bool"), "0"),
    (
        re.compile(r"^(var)?char|^(tiny|medium|long)?text|^(var)?binary|^(tiny|medium|long)?blob"),
        '""',
    ),
    (re.compile(r"^year|^time$|^timestamp"), "0"),
]


def added_column_findings(change: AddColumn, table: str, driver: Driver) -> list[tuple[str, str]]:
    column = change.column
    if column.nullable or column.default is not None or column.generated or column.auto_increment:
        return []
    if column.identity is not None:
        return []
    if driver.name == "mysql":
        for pattern, value in MYSQL_IMPLICIT:
            if pattern.match(column.type):
                return [
                    (
                        "MY101",
                        f'Adding a non-nullable "{column.type}" column "{column.name}" on table '
                        f'"{table}" without a default value implicitly sets existing rows '
                        f"with {value}",
                    )
                ]
    return [
        (
            "MF103",
            f'Adding a non-nullable "{column.type}" column "{column.name}" will fail in case '
            f'table "{table}" is not empty',
        )
    ]


def modified_column_findings(
    change: ModifyColumn, table: str, driver: Driver
) -> list[tuple[str, str]]:
    found = []
    before, after = change.before, change.after
    if before.nullable and not after.nullable:
        code = "LT101" if driver.name == "sqlite" else "MF104"
        found.append(
            (
                code,
                f'Modifying nullable column "{after.name}" to non-nullable might fail in case '
                "it contains NULL values",
            )
        )
    if "type" in change.kinds and not is_widening(before.type, after.type):
        found.append(
            (
                "MF105",
                f'Changing the type of column "{after.name}" on table "{table}" from '
                f'"{before.type}" to "{after.type}" might fail or lose data in case existing '
                "values do not fit",
            )
        )
    return found
