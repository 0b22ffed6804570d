"""MySQL/MariaDB hazards: which algorithm InnoDB's online DDL takes for each change.

`ALGORITHM=INSTANT` changes only metadata (a column added at the end — any position on
MySQL ≥ 8.0.29 —, a default, a comment, a longer VARCHAR within its length-byte class);
`INPLACE` builds indexes with writes going on (`LOCK=NONE`: IndexBuild only) or rebuilds
the table in place; `COPY` copies the table with writes blocked (a column type change,
a foreign key added with `foreign_key_checks` on, a check, a new partitioning): those
are `TableRewrite`. DDL commits implicitly: nothing here can be rolled back.
"""

from __future__ import annotations

from atlas_operator.engine.changes import (
    AddCheck,
    AddColumn,
    AddForeignKey,
    AddIndex,
    AddObject,
    AddPartitions,
    AddPrimaryKey,
    Change,
    DropColumn,
    DropIndex,
    DropObject,
    DropPartitions,
    DropPrimaryKey,
    DropSchema,
    DropTable,
    ModifyCheck,
    ModifyColumn,
    ModifyForeignKey,
    ModifyIndex,
    ModifyObject,
    ModifyPartitionCount,
    ModifyPartitioning,
    ModifyPrimaryKey,
    ModifyTable,
    ModifyTableAttr,
    ReorganizePartitions,
    TableChange,
)
from atlas_operator.engine.drivers.base import PlannedStatement
from atlas_operator.engine.drivers.mysql.session import MARIADB, ServerInfo
from atlas_operator.engine.hazards import (
    DELETES_DATA,
    INDEX_BUILD,
    INDEX_DROPPED,
    PERFORMANCE,
    SHARE_LOCK,
    TABLE_REWRITE,
    TYPE,
    Hazard,
    is_narrowing,
    is_volatile,
    plural,
    unique,
)
from atlas_operator.engine.model import Table

REBUILDING_OPTIONS = ("engine", "charset", "collation", "row_format", "key_block_size")


def hazards(
    change: Change, statement: PlannedStatement, flavor: str, server: ServerInfo | None
) -> tuple[Hazard, ...]:
    if isinstance(change, DropSchema):
        tables = len(change.schema.tables)
        return (
            Hazard(
                DELETES_DATA,
                f'drops database "{change.schema.name}" with everything in it'
                f" ({plural(tables, 'table')})",
            ),
        )
    if isinstance(change, DropTable):
        return (Hazard(DELETES_DATA, f'drops table "{change.table.name}" with its rows'),)
    if isinstance(change, ModifyTable):
        return table_hazards(change, statement, Version(flavor, server))
    if isinstance(change, (AddObject, DropObject, ModifyObject)):
        return ()  # MySQL checks routine bodies only when they run: nothing to order
    return ()


class Version:
    """What the server's version allows (the newest of the flavour when unknown)."""

    def __init__(self, flavor: str, server: ServerInfo | None) -> None:
        self.mariadb = flavor == MARIADB
        self.number = server.number if server is not None else (99, 0, 0)

    @property
    def instant_add_anywhere(self) -> bool:
        return self.number >= ((10, 4, 0) if self.mariadb else (8, 0, 29))

    @property
    def instant_add_last(self) -> bool:
        return self.number >= ((10, 3, 2) if self.mariadb else (8, 0, 12))

    @property
    def instant_drop(self) -> bool:
        return self.number >= ((10, 4, 0) if self.mariadb else (8, 0, 29))


def table_hazards(
    change: ModifyTable, statement: PlannedStatement, version: Version
) -> tuple[Hazard, ...]:
    table = change.after.name
    sql = " ".join(statement.sql.split()).upper()
    partitions = partition_hazards(change, sql)
    if partitions is not None:
        return partitions
    found: list[Hazard] = []
    for c in change.changes:
        found += clause_hazards(change.after, c, version)
    if any(h.kind == TABLE_REWRITE for h in found):
        found.append(
            Hazard(
                PERFORMANCE,
                f'the copy of "{table}" takes I/O for the whole table, and replicas apply'
                " it after it ends",
            )
        )
    return unique(found)


def partition_hazards(change: ModifyTable, sql: str) -> tuple[Hazard, ...] | None:
    """The hazards of a statement of one partition operation, None for another statement."""
    table = change.after.name
    for c in change.changes:
        if isinstance(c, DropPartitions) and " DROP PARTITION " in sql:
            names = ", ".join(f'"{p.name}"' for p in c.partitions)
            return (
                Hazard(DELETES_DATA, f'drops partition(s) {names} of "{table}" with their rows'),
            )
        if isinstance(c, ReorganizePartitions) and " REORGANIZE PARTITION " in sql:
            found = [
                Hazard(TABLE_REWRITE, f'copies the rows of the reorganized partitions of "{table}"')
            ]
            if c.loses_rows:
                found.insert(
                    0,
                    Hazard(
                        DELETES_DATA,
                        f'the new LIST values of "{table}" leave values out: their rows go',
                    ),
                )
            return tuple(found)
        if isinstance(c, ModifyPartitionCount) and (
            " COALESCE PARTITION " in sql or " ADD PARTITION PARTITIONS " in sql
        ):
            return (
                Hazard(TABLE_REWRITE, f'redistributes the rows of "{table}" over its partitions'),
            )
        if isinstance(c, AddPartitions) and " ADD PARTITION " in sql:
            return ()
    return None


def clause_hazards(table: Table, c: TableChange, version: Version) -> list[Hazard]:
    name = table.name
    if isinstance(c, AddColumn):
        return added_column(table, c, version)
    if isinstance(c, DropColumn):
        found = []
        if c.column.generated is None or c.column.generated.stored:
            found.append(
                Hazard(DELETES_DATA, f'drops column "{c.column.name}" of "{name}" and its values')
            )
        if not version.instant_drop:
            found.append(
                Hazard(TABLE_REWRITE, f'"{name}" is rebuilt without column "{c.column.name}"')
            )
        return found
    if isinstance(c, ModifyColumn):
        return modified_column(name, c)
    if isinstance(c, (AddIndex, ModifyIndex)):
        index = c.index if isinstance(c, AddIndex) else c.after
        found = []
        if isinstance(c, ModifyIndex):
            found.append(dropped_index(name, c.before.name))
        if index.method in ("FULLTEXT", "SPATIAL"):
            found.append(
                Hazard(
                    SHARE_LOCK,
                    f'blocks writes to "{name}" while {index.method} index "{index.name}" is built',
                )
            )
        found.append(
            Hazard(
                INDEX_BUILD,
                f'builds index "{index.name}" on "{name}" in place (ALGORITHM=INPLACE,'
                " LOCK=NONE: writes go on)",
            )
        )
        return found
    if isinstance(c, DropIndex):
        return [dropped_index(name, c.index.name)]
    if isinstance(c, (AddPrimaryKey, ModifyPrimaryKey, DropPrimaryKey)):
        what = "a dropped" if isinstance(c, DropPrimaryKey) else "a new"
        found = [Hazard(TABLE_REWRITE, f'"{name}" is rebuilt around {what} primary key')]
        if not isinstance(c, AddPrimaryKey):
            found.append(dropped_index(name, "PRIMARY"))
        if isinstance(c, DropPrimaryKey):
            found[0] = Hazard(
                TABLE_REWRITE,
                f'"{name}" is copied without its primary key (ALGORITHM=COPY: writes blocked)',
            )
        return found
    if isinstance(c, (AddForeignKey, ModifyForeignKey)):
        fk = c.foreign_key if isinstance(c, AddForeignKey) else c.after
        return [
            Hazard(
                TABLE_REWRITE,
                f'adding foreign key "{fk.name}" with foreign_key_checks on copies "{name}"'
                " (ALGORITHM=COPY: writes blocked)",
            )
        ]
    if isinstance(c, (AddCheck, ModifyCheck)):
        return [
            Hazard(
                TABLE_REWRITE,
                f'adding a check copies "{name}" to validate its rows (ALGORITHM=COPY: writes'
                " blocked)",
            )
        ]
    if isinstance(c, ModifyPartitioning):
        return [
            Hazard(
                TABLE_REWRITE,
                f'the rows of "{name}" are copied into the new partitioning (writes blocked)',
            )
        ]
    if isinstance(c, ModifyTableAttr) and c.name in REBUILDING_OPTIONS:
        return [Hazard(TABLE_REWRITE, f'changing {c.name} rebuilds "{name}"')]
    return []


def dropped_index(table: str, index: str) -> Hazard:
    return Hazard(
        INDEX_DROPPED, f'drops index "{index}" of "{table}": queries using it may slow down'
    )


def added_column(table: Table, c: AddColumn, version: Version) -> list[Hazard]:
    column = c.column
    label = f'column "{column.name}"'
    last = bool(table.columns) and table.columns[-1].name == column.name
    instant = version.instant_add_anywhere or (version.instant_add_last and last)
    if column.generated is not None and column.generated.stored:
        why = f"stored generated {label} is computed for every row"
    elif column.auto_increment:
        why = f"auto-increment {label} is numbered for every row"
    elif is_volatile(column.default):
        why = f"{label} gets its default evaluated for every row"
    elif not instant:
        where = "at the end " if not last else ""
        why = f"{label} is added {where}by a rebuild (ALGORITHM=INSTANT does not apply here)"
    else:
        return []
    return [Hazard(TABLE_REWRITE, f'"{table.name}" is rebuilt: {why}')]


def modified_column(table: str, c: ModifyColumn) -> list[Hazard]:
    before, after = c.before, c.after
    label = f'column "{after.name}"'
    found: list[Hazard] = []
    if "generated" in c.kinds and after.generated is not None and before.generated is None:
        found.append(Hazard(DELETES_DATA, f"the values of {label} are replaced by computed ones"))
    if "type" in c.kinds and is_narrowing(before.type, after.type):
        found.append(
            Hazard(
                DELETES_DATA,
                f'{label} of "{table}" narrows from {before.type} to {after.type}: values that'
                " do not fit are truncated (or fail the statement in strict sql_mode)",
            )
        )
    rebuilt = c.kinds & {"type", "nullable", "generated", "charset", "collation"}
    if "type" in rebuilt and in_place_varchar(before.type, after.type):
        rebuilt = rebuilt - {"type"}
    if rebuilt:
        what = ", ".join(sorted(rebuilt))
        found.append(
            Hazard(
                TABLE_REWRITE,
                f'changing the {what} of {label} copies "{table}" (ALGORITHM=COPY: writes blocked)'
                if "type" in rebuilt
                else f'changing the {what} of {label} rebuilds "{table}"',
            )
        )
    return found


def in_place_varchar(before: str, after: str) -> bool:
    """A longer VARCHAR whose length prefix keeps its size (both under 256 bytes in
    utf8mb4, or both over) is extended in place without a copy."""
    b, a = TYPE.match(before.lower()), TYPE.match(after.lower())
    if b is None or a is None or b.group(1) != "varchar" or a.group(1) != "varchar":
        return False
    if b.group(2) is None or a.group(2) is None:
        return False
    b_len, a_len = int(b.group(2)), int(a.group(2))
    return a_len >= b_len and (a_len * 4 < 256) == (b_len * 4 < 256)
