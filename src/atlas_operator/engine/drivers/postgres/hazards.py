"""PostgreSQL hazards: what each planned statement locks, rewrites or loses.

Lock levels are PostgreSQL's (`ALTER TABLE` takes ACCESS EXCLUSIVE for most forms,
`CREATE INDEX` SHARE, `ADD FOREIGN KEY` SHARE ROW EXCLUSIVE on both tables). A lock is a
hazard when work proportional to the table runs under it (a rewrite, a validation scan,
an index build) or when it blocks reads (DROP INDEX); the instant ACCESS EXCLUSIVE lock of
a catalog-only ALTER is not (as in pg-schema-diff). PostgreSQL ≥ 11 is assumed: a
constant default added with a column is stored in the catalog, no rewrite.
"""

from __future__ import annotations

import re

from atlas_operator.engine.changes import (
    AddCheck,
    AddColumn,
    AddForeignKey,
    AddIndex,
    AddObject,
    AddPrimaryKey,
    Change,
    DropColumn,
    DropIndex,
    DropObject,
    DropPrimaryKey,
    DropSchema,
    DropTable,
    ModifyCheck,
    ModifyColumn,
    ModifyForeignKey,
    ModifyIndex,
    ModifyObject,
    ModifyPrimaryKey,
    ModifyTable,
    TableChange,
)
from atlas_operator.engine.drivers.base import PlannedStatement
from atlas_operator.engine.hazards import (
    ACCESS_EXCLUSIVE,
    CORRECTNESS,
    DELETES_DATA,
    INDEX_BUILD,
    INDEX_DROPPED,
    PERFORMANCE,
    SHARE_LOCK,
    SHARE_ROW_EXCLUSIVE,
    TABLE_REWRITE,
    TYPE,
    UNTRACKABLE,
    Hazard,
    IndexStatement,
    index_statement,
    is_narrowing,
    is_volatile,
    plural,
    unique,
)
from atlas_operator.engine.model import ForeignKey, Table
from atlas_operator.engine.plan import same_reference

SERIALS = ("smallserial", "serial", "bigserial", "serial2", "serial4", "serial8")


def hazards(change: Change, statement: PlannedStatement) -> tuple[Hazard, ...]:
    if isinstance(change, DropSchema):
        tables = len(change.schema.tables)
        return (
            Hazard(
                DELETES_DATA,
                f'drops schema "{change.schema.name}" with everything in it'
                f" ({plural(tables, 'table')})",
            ),
        )
    if isinstance(change, DropTable):
        return (Hazard(DELETES_DATA, dropped_table(change.table)),)
    if isinstance(change, ModifyTable):
        return table_hazards(change, statement)
    if isinstance(change, (AddObject, DropObject, ModifyObject)):
        return object_hazards(change, statement)
    return ()


def dropped_table(table: Table) -> str:
    indexes = len(table.indexes) + (table.primary_key is not None)
    return f'drops table "{table.name}" with its rows and {plural(indexes, "index")}'


# --- tables -------------------------------------------------------------------------------


def table_hazards(change: ModifyTable, statement: PlannedStatement) -> tuple[Hazard, ...]:
    table = change.after.name
    index = index_statement(statement.sql)
    if index is not None:
        return index_hazards(table, index)
    sql = " ".join(statement.sql.split()).upper()
    if not sql.startswith("ALTER TABLE"):
        return ()  # comments, the sequences of serial columns
    if " DETACH PARTITION " in sql:
        return (
            Hazard(
                ACCESS_EXCLUSIVE,
                f'detaching partition "{table}" locks it and its parent against reads'
                " and writes (DETACH PARTITION CONCURRENTLY does not)",
            ),
        )
    if " ATTACH PARTITION " in sql:
        return (
            Hazard(
                ACCESS_EXCLUSIVE,
                f'attaching partition "{table}" locks it and scans it to check its bound'
                " (unless a check constraint already implies the bound)",
            ),
        )
    if "ROW LEVEL SECURITY" in sql:
        return ()
    found: list[Hazard] = []
    for c in change.changes:
        found += clause_hazards(change.after, c)
    return unique(found)


def index_hazards(table: str, index: IndexStatement) -> tuple[Hazard, ...]:
    name = index.name
    if index.create and index.concurrently:
        return (
            Hazard(INDEX_BUILD, f'builds index "{name}" on "{table}" concurrently (writes go on)'),
            Hazard(
                PERFORMANCE,
                f'the concurrent build of "{name}" scans "{table}" twice and waits for'
                " running transactions: CPU and I/O for the whole table",
            ),
        )
    if index.create:
        return (
            Hazard(SHARE_LOCK, f'blocks writes to "{table}" until index "{name}" is built'),
            Hazard(INDEX_BUILD, f'builds index "{name}" by scanning all of "{table}"'),
        )
    dropped = Hazard(
        INDEX_DROPPED, f'drops index "{name}" of "{table}": queries using it may slow down'
    )
    if index.concurrently:
        return (dropped,)
    return (
        Hazard(
            ACCESS_EXCLUSIVE,
            f'locks "{table}" against reads and writes while index "{name}" is dropped'
            " (DROP INDEX CONCURRENTLY does not)",
        ),
        dropped,
    )


def clause_hazards(table: Table, c: TableChange) -> list[Hazard]:
    name = table.name
    if isinstance(c, AddColumn):
        return added_column(name, c)
    if isinstance(c, DropColumn):
        if c.column.generated is not None:
            return []
        return [Hazard(DELETES_DATA, f'drops column "{c.column.name}" of "{name}" and its values')]
    if isinstance(c, ModifyColumn):
        return modified_column(name, c)
    if isinstance(c, (AddIndex, ModifyIndex)):
        added = c.index if isinstance(c, AddIndex) else c.after
        found = []
        if isinstance(c, ModifyIndex) and c.before.constraint:
            found += dropped_constraint_index(name, c.before.name)
        if added.constraint:
            found += built_under_lock(name, f'constraint "{added.name}"')
        return found
    if isinstance(c, DropIndex):
        return dropped_constraint_index(name, c.index.name) if c.index.constraint else []
    if isinstance(c, (AddPrimaryKey, ModifyPrimaryKey)):
        found = []
        if isinstance(c, ModifyPrimaryKey):
            found += dropped_constraint_index(name, "primary key")
        return found + built_under_lock(name, "primary key")
    if isinstance(c, DropPrimaryKey):
        return dropped_constraint_index(name, "primary key")
    if isinstance(c, AddForeignKey):
        return added_foreign_key(name, c.foreign_key)
    if isinstance(c, ModifyForeignKey) and not same_reference(c.before, c.after):
        return added_foreign_key(name, c.after)
    if isinstance(c, (AddCheck, ModifyCheck)):
        check = c.check if isinstance(c, AddCheck) else c.after
        if check.not_valid:
            return []
        label = f'check "{check.name}"' if check.name else "a check"
        return [
            Hazard(
                ACCESS_EXCLUSIVE,
                f'adding {label} scans "{name}" with it locked against reads and writes'
                " (NOT VALID, then VALIDATE, does not)",
            )
        ]
    return []


def rewrite(table: str, why: str) -> list[Hazard]:
    return [
        Hazard(ACCESS_EXCLUSIVE, f'locks "{table}" against reads and writes while {why}'),
        Hazard(TABLE_REWRITE, f'{why}: "{table}" and its indexes are written anew'),
    ]


def added_column(table: str, c: AddColumn) -> list[Hazard]:
    column = c.column
    label = f'column "{column.name}"'
    if column.generated is not None and column.generated.stored:
        return rewrite(table, f"stored generated {label} is computed for every row")
    if column.identity is not None or column.type.lower() in SERIALS:
        return rewrite(table, f"{label} draws a sequence value for every row")
    if is_volatile(column.default):
        return rewrite(table, f"{label} gets its volatile default {column.default} on every row")
    return []


def modified_column(table: str, c: ModifyColumn) -> list[Hazard]:
    before, after = c.before, c.after
    label = f'column "{after.name}"'
    found: list[Hazard] = []
    if "generated" in c.kinds and after.generated is not None:
        if before.generated is None:
            found.append(
                Hazard(DELETES_DATA, f"the values of {label} are replaced by computed ones")
            )
        found += rewrite(table, f"{label} is computed anew")
    if "type" in c.kinds:
        if is_narrowing(before.type, after.type):
            found.append(narrowed(table, label, before.type, after.type))
        if not binary_coercible(before.type, after.type):
            found += rewrite(table, f"{label} changes from {before.type} to {after.type}")
    elif "collation" in c.kinds:
        found.append(
            Hazard(
                ACCESS_EXCLUSIVE,
                f'locks "{table}" while the indexes on {label} are rebuilt for its collation',
            )
        )
    if "nullable" in c.kinds and not after.nullable:
        found.append(
            Hazard(
                ACCESS_EXCLUSIVE,
                f'SET NOT NULL on {label} scans "{table}" with it locked against reads and writes',
            )
        )
    return found


def narrowed(table: str, label: str, before: str, after: str) -> Hazard:
    """PostgreSQL refuses values that do not fit (the statement fails), except numeric
    scales, which it rounds."""
    if before.lower().startswith(("numeric", "decimal")):
        return Hazard(
            DELETES_DATA,
            f'{label} of "{table}" narrows from {before} to {after}: values are rounded',
        )
    return Hazard(
        CORRECTNESS,
        f'{label} of "{table}" narrows from {before} to {after}: a value that does not fit'
        " makes the statement fail",
    )


STRINGS = ("character varying", "varchar", "text")


def binary_coercible(before: str, after: str) -> bool:
    """Whether PostgreSQL changes the type without rewriting the table: a longer or
    unlimited varchar, varchar to text, a numeric of more precision with the same
    scale (known cases; anything else is taken to rewrite)."""
    b, a = TYPE.match(before.lower().strip()), TYPE.match(after.lower().strip())
    if b is None or a is None:
        return before.lower() == after.lower()
    b_name, b_len, b_scale, _ = b.groups()
    a_name, a_len, a_scale, _ = a.groups()
    if b_name in STRINGS and a_name in STRINGS:
        if a_name == "text" or a_len is None:
            return True
        return b_name != "text" and b_len is not None and int(a_len) >= int(b_len)
    if b_name in ("numeric", "decimal") and a_name in ("numeric", "decimal"):
        if a_len is None:
            return True
        return (
            b_len is not None
            and int(a_len) >= int(b_len)
            and int(a_scale or 0) == int(b_scale or 0)
        )
    return b_name == a_name and b_len == a_len and b_scale == a_scale


def built_under_lock(table: str, what: str) -> list[Hazard]:
    return [
        Hazard(ACCESS_EXCLUSIVE, f'locks "{table}" against reads and writes while {what} is built'),
        Hazard(INDEX_BUILD, f'builds the index of {what} by scanning all of "{table}"'),
    ]


def dropped_constraint_index(table: str, what: str) -> list[Hazard]:
    name = what if what == "primary key" else f'constraint "{what}"'
    return [
        Hazard(ACCESS_EXCLUSIVE, f'locks "{table}" against reads and writes to drop {name}'),
        Hazard(INDEX_DROPPED, f"drops the index of {name}: queries using it may slow down"),
    ]


def added_foreign_key(table: str, fk: ForeignKey) -> list[Hazard]:
    tables = f'"{table}"' if fk.ref_table == table else f'"{table}" and "{fk.ref_table}"'
    if fk.not_valid:
        return [
            Hazard(
                SHARE_ROW_EXCLUSIVE,
                f'adding foreign key "{fk.name}" NOT VALID briefly blocks writes to {tables}',
            )
        ]
    return [
        Hazard(
            SHARE_ROW_EXCLUSIVE,
            f'blocks writes to {tables} while every row of "{table}" is checked for foreign'
            f' key "{fk.name}" (NOT VALID, then VALIDATE, does not)',
        )
    ]


# --- objects ------------------------------------------------------------------------------

SQL_LANGUAGE = re.compile(r"\bLANGUAGE\s+'?sql\b'?", re.IGNORECASE)
ROUTINES = ("function", "procedure")


def object_hazards(
    change: AddObject | DropObject | ModifyObject, statement: PlannedStatement
) -> tuple[Hazard, ...]:
    obj = change.after if isinstance(change, ModifyObject) else change.object
    found: list[Hazard] = []
    if isinstance(change, DropObject) and not change.recreate:
        if obj.kind == "sequence":
            found.append(Hazard(DELETES_DATA, f'drops sequence "{obj.name}" and its position'))
        elif obj.kind == "materialized":
            found.append(Hazard(DELETES_DATA, f'drops materialized view "{obj.name}" and its rows'))
    converts = isinstance(change, ModifyObject) and bool(change.columns) and obj.kind == "enum"
    if converts and " ".join(statement.sql.split()).upper().startswith("ALTER TABLE"):
        found.append(
            Hazard(
                CORRECTNESS,
                f'enum "{obj.name}" is re-created without some of its labels: a row'
                " holding one makes the conversion fail",
            )
        )
        found += rewrite_for_type(statement, obj.name)
    if obj.kind in ROUTINES and not SQL_LANGUAGE.search(obj.definition):
        found.append(
            Hazard(
                UNTRACKABLE,
                f'the body of {obj.kind} "{obj.name}" may use tables and routines PostgreSQL'
                " does not track: the plan cannot order it after them",
            )
        )
    return unique(found)


def rewrite_for_type(statement: PlannedStatement, type_name: str) -> list[Hazard]:
    match = re.match(r"\s*ALTER\s+TABLE\s+(\S+)", statement.sql, re.IGNORECASE)
    table = (match.group(1) if match else "the table").split(".")[-1].strip('"')
    return rewrite(table, f'its columns of type "{type_name}" are converted')
