"""SQLite hazards. SQLite locks the whole database for a write, so locks are no hazard
of their own; what matters is the table rebuild (new table, copy the rows, drop the old
one, rename), which copies every row and loses the values of dropped columns. SQLite
does not enforce declared lengths, so a narrower type loses nothing."""

from __future__ import annotations

from atlas_operator.engine.changes import (
    AddIndex,
    Change,
    DropColumn,
    DropIndex,
    DropTable,
    ModifyIndex,
    ModifyTable,
)
from atlas_operator.engine.drivers.base import PlannedStatement
from atlas_operator.engine.hazards import (
    DELETES_DATA,
    INDEX_BUILD,
    INDEX_DROPPED,
    TABLE_REWRITE,
    Hazard,
    index_statement,
)


def hazards(change: Change, statement: PlannedStatement) -> tuple[Hazard, ...]:
    if isinstance(change, DropTable):
        return (Hazard(DELETES_DATA, f'drops table "{change.table.name}" with its rows'),)
    if not isinstance(change, ModifyTable):
        return ()
    from atlas_operator.engine.drivers.sqlite.plan import rebuilds

    table = change.after.name
    sql = " ".join(statement.sql.split()).upper()
    index = index_statement(statement.sql)
    if not rebuilds(change) or index is not None:
        if index is None:
            return ()
        if not index.create:
            return (
                Hazard(
                    INDEX_DROPPED, f'drops index "{index.name}": queries using it may slow down'
                ),
            )
        added = any(
            isinstance(c, (AddIndex, ModifyIndex)) and index_name(c) == index.name
            for c in change.changes
        )
        if not added:
            return ()  # an index the rebuild only re-creates
        return (Hazard(INDEX_BUILD, f'builds index "{index.name}" by scanning all of "{table}"'),)
    if not sql.startswith("INSERT INTO"):
        return ()  # the rebuild's other steps only move what the copy wrote
    found = [
        Hazard(
            TABLE_REWRITE,
            f'"{table}" is rebuilt: every row is copied into a new table, which replaces it',
        )
    ]
    dropped = [
        c.column.name
        for c in change.changes
        if isinstance(c, DropColumn) and c.column.generated is None
    ]
    if dropped:
        names = ", ".join(f'"{n}"' for n in dropped)
        found.insert(
            0, Hazard(DELETES_DATA, f'the copy of "{table}" leaves out dropped column(s) {names}')
        )
    return tuple(found)


def index_name(c: AddIndex | DropIndex | ModifyIndex | object) -> str | None:
    if isinstance(c, AddIndex):
        return c.index.name
    if isinstance(c, ModifyIndex):
        return c.after.name
    return None
