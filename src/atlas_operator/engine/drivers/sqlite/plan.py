"""SQLite planning: ALTER TABLE where it can, the table-rebuild procedure elsewhere;
views and triggers dropped and created (objects.py), and the rules telling
`engine/dependencies.py` what a change re-creates (`ObjectRules`)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from atlas_operator.engine.changes import (
    AddColumn,
    AddIndex,
    AddObject,
    AddSchema,
    AddTable,
    Change,
    DropIndex,
    DropObject,
    DropSchema,
    DropTable,
    ModifyObject,
    ModifySchema,
    ModifyTable,
    TableChange,
)
from atlas_operator.engine.drivers.base import PlannedStatement, UnsupportedChangeError
from atlas_operator.engine.drivers.sqlite.objects import has_triggers, plan_object
from atlas_operator.engine.drivers.sqlite.session import quote
from atlas_operator.engine.model import Column, ForeignKey, Index, Realm, SchemaObject, Table

# Atlas's plan carries these around a table rebuild (sql/sqlite/migrate.go), so a printed
# plan runs as a migration. Inside a transaction they are no-ops: applying a plan, the
# driver's before_apply/after_apply switch foreign keys outside it.
FOREIGN_KEYS_OFF = PlannedStatement(
    "PRAGMA foreign_keys = off", "Disable the enforcement of foreign-keys constraints"
)
FOREIGN_KEYS_ON = PlannedStatement(
    "PRAGMA foreign_keys = on", "Enable back the enforcement of foreign-keys constraints"
)


class ObjectRules:
    """What SQLite re-creates, for `engine/dependencies.py`.

    A changed view or trigger is dropped and created at once (there is no ALTER VIEW
    or ALTER TRIGGER). SQLite keeps no link from the views and triggers naming it, so
    they stay: the change counts as in place. But DROP VIEW deletes the (INSTEAD OF)
    triggers on the view: a changed view with triggers replaces, so what depends on it
    is dropped first and created again after it. A table it rebuilds is another matter:
    the rebuild's DROP TABLE takes the table's triggers with it, and its RENAME fails
    while any view or trigger names a missing table, so every view and trigger using
    the table is dropped before the rebuild and created after it."""

    def replaces(self, before: SchemaObject, after: SchemaObject) -> bool:
        return before.kind == "view" and has_triggers(before)

    def breaks_dependents(self, change: TableChange) -> bool:
        return False  # SQLite records no column-level dependencies: rebuilds cover it

    def converts_columns(self, obj: SchemaObject) -> bool:
        return False

    def implicit_object(self, current: Realm, obj: SchemaObject) -> SchemaObject | None:
        return None

    def recreates_table(self, change: ModifyTable) -> bool:
        return rebuilds(change)


def any_rebuild(statements: Sequence[PlannedStatement]) -> bool:
    return any(s.comment.startswith('Create "new_') for s in statements)


def with_foreign_keys_off(statements: list[PlannedStatement]) -> list[PlannedStatement]:
    """The plan wrapped in the foreign-keys pragmas when it rebuilds a table."""
    if not any_rebuild(statements):
        return statements
    return [FOREIGN_KEYS_OFF, *statements, FOREIGN_KEYS_ON]


def plan_change(change: Change) -> list[PlannedStatement]:
    if isinstance(change, AddTable):
        return create_table(change.table)
    if isinstance(change, DropTable):
        return [
            PlannedStatement(
                f"DROP TABLE {quote(change.table.name)}", f'Drop "{change.table.name}" table'
            )
        ]
    if isinstance(change, ModifyTable):
        return modify_table(change)
    if isinstance(change, (AddObject, DropObject, ModifyObject)):
        return plan_object(change)
    if isinstance(change, (AddSchema, DropSchema, ModifySchema)):
        raise UnsupportedChangeError("SQLite has a single schema (main); schemas cannot change")
    raise UnsupportedChangeError(f"SQLite cannot plan {type(change).__name__}")


def create_table(table: Table, name: str | None = None) -> list[PlannedStatement]:
    table_name = name or table.name
    lines = [column_definition(c, table) for c in table.columns]
    if table.primary_key and not inline_primary_key(table):
        constraint = (
            f"CONSTRAINT {quote(table.primary_key.name)} " if table.primary_key.name else ""
        )
        cols = ", ".join(quote(c) for c in table.primary_key.columns)
        lines.append(f"{constraint}PRIMARY KEY ({cols})")
    for index in table.indexes:
        if index.constraint:
            lines.append(f"UNIQUE ({index_parts(index)})")
    for check in table.checks:
        prefix = f"CONSTRAINT {quote(check.name)} " if check.name else ""
        lines.append(f"{prefix}CHECK ({check.expr})")
    for fk in table.foreign_keys:
        lines.append(foreign_key_clause(fk))
    options = []
    if table.option("without_rowid"):
        options.append("WITHOUT ROWID")
    if table.option("strict"):
        options.append("STRICT")
    body = ",\n  ".join(lines)
    suffix = (" " + ", ".join(options)) if options else ""
    statements = [
        PlannedStatement(
            f"CREATE TABLE {quote(table_name)} (\n  {body}\n){suffix}",
            f'Create "{table_name}" table',
        )
    ]
    if name is None:
        statements.extend(create_index(table.name, i) for i in table.indexes if not i.constraint)
    return statements


def inline_primary_key(table: Table) -> bool:
    pk = table.primary_key
    if pk is None or len(pk.columns) != 1:
        return False
    column = table.column(pk.columns[0])
    return column is not None and column.auto_increment


def column_definition(column: Column, table: Table) -> str:
    parts = [quote(column.name)]
    if column.type:
        parts.append(column.type)
    if not column.nullable:
        parts.append("NOT NULL")
    if column.auto_increment and inline_primary_key(table):
        parts.append("PRIMARY KEY AUTOINCREMENT")
    if column.default is not None:
        parts.append(f"DEFAULT {column.default}")
    if column.collation:
        parts.append(f"COLLATE {column.collation}")
    if column.generated:
        kind = "STORED" if column.generated.stored else "VIRTUAL"
        parts.append(f"GENERATED ALWAYS AS ({column.generated.expr}) {kind}")
    return " ".join(parts)


def foreign_key_clause(fk: ForeignKey) -> str:
    cols = ", ".join(quote(c) for c in fk.columns)
    refs = f" ({', '.join(quote(c) for c in fk.ref_columns)})" if fk.ref_columns else ""
    clause = (
        f"CONSTRAINT {quote(fk.name)} FOREIGN KEY ({cols}) REFERENCES {quote(fk.ref_table)}{refs}"
    )
    if fk.on_update != "NO ACTION":
        clause += f" ON UPDATE {fk.on_update}"
    if fk.on_delete != "NO ACTION":
        clause += f" ON DELETE {fk.on_delete}"
    return clause


def index_parts(index: Index) -> str:
    rendered = []
    for part in index.parts:
        text = quote(part.column) if part.column is not None else f"({part.expr})"
        rendered.append(text + (" DESC" if part.desc else ""))
    return ", ".join(rendered)


def create_index(table: str, index: Index) -> PlannedStatement:
    unique = "UNIQUE " if index.unique else ""
    where = f" WHERE {index.where}" if index.where else ""
    return PlannedStatement(
        f"CREATE {unique}INDEX {quote(index.name)} ON {quote(table)} ({index_parts(index)}){where}",
        f'Create index "{index.name}" to table: "{table}"',
    )


def modify_table(change: ModifyTable) -> list[PlannedStatement]:
    if not rebuilds(change):
        return [s for c in change.changes for s in simple_statement(change.after.name, c)]
    return rebuild_table(change)


def rebuilds(change: ModifyTable) -> bool:
    """Whether the change needs the table-rebuild procedure (some part of it is beyond
    ALTER TABLE and CREATE/DROP INDEX)."""
    return not all(simple_alter(c) for c in change.changes)


def simple_alter(change: object) -> bool:
    """Changes SQLite's ALTER TABLE (or CREATE/DROP INDEX) can make in place."""
    if isinstance(change, (AddIndex, DropIndex)):
        return not change.index.constraint
    if isinstance(change, AddColumn):
        column = change.column
        constant_default = column.default is None or not re.search(
            r"\(|CURRENT_", column.default, re.IGNORECASE
        )
        return (
            constant_default
            and (column.nullable or column.default is not None)
            and not (column.generated and column.generated.stored)
            and not column.auto_increment
        )
    return False


def simple_statement(table: str, change: object) -> list[PlannedStatement]:
    if isinstance(change, AddIndex):
        return [create_index(table, change.index)]
    if isinstance(change, DropIndex):
        return [
            PlannedStatement(
                f"DROP INDEX {quote(change.index.name)}",
                f'Drop index "{change.index.name}" from table: "{table}"',
            )
        ]
    assert isinstance(change, AddColumn)
    definition = column_definition(change.column, Table(name=table))
    return [
        PlannedStatement(
            f"ALTER TABLE {quote(table)} ADD COLUMN {definition}",
            f'Add column "{change.column.name}" to table: "{table}"',
        )
    ]


def rebuild_table(change: ModifyTable) -> list[PlannedStatement]:
    """SQLite's documented 12-step procedure: new table, copy rows, drop, rename."""
    table, before = change.after, change.before
    temp = f"new_{table.name}"
    copied = [
        c.name
        for c in table.columns
        if before.column(c.name) is not None
        and c.generated is None
        and before.column(c.name).generated is None  # type: ignore[union-attr]
    ]
    cols = ", ".join(quote(c) for c in copied)
    statements = create_table(table, name=temp)
    statements.append(
        PlannedStatement(
            f"INSERT INTO {quote(temp)} ({cols}) SELECT {cols} FROM {quote(table.name)}",
            f'Copy rows from old table "{table.name}" to new temporary table "{temp}"',
        )
    )
    statements.append(
        PlannedStatement(
            f"DROP TABLE {quote(table.name)}", f'Drop "{table.name}" table after copying rows'
        )
    )
    statements.append(
        PlannedStatement(
            f"ALTER TABLE {quote(temp)} RENAME TO {quote(table.name)}",
            f'Rename temporary table "{temp}" to "{table.name}"',
        )
    )
    statements.extend(create_index(table.name, i) for i in table.indexes if not i.constraint)
    return statements
