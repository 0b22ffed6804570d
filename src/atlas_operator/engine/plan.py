"""Ordering changes so every statement finds what it needs.

The order is the one that works for every driver:
1. new schemas;
2. foreign keys that go away (so referenced columns and tables can change);
3. new tables, referenced tables first (FK cycles are broken by adding the
   cycle's keys afterwards with ALTER TABLE);
4. other table changes;
5. foreign keys that are added;
6. dropped tables, referencing tables before the tables they reference;
7. dropped schemas.
Drivers that put foreign keys inside the table definition (SQLite) ask for no
split: their table rebuild handles keys as part of the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from atlas_operator.engine.changes import (
    AddForeignKey,
    AddSchema,
    AddTable,
    Change,
    DropForeignKey,
    DropSchema,
    DropTable,
    ModifyForeignKey,
    ModifySchema,
    ModifyTable,
    TableChange,
)
from atlas_operator.engine.model import ForeignKey, Table


def order_changes(changes: Sequence[Change], *, split_foreign_keys: bool = True) -> list[Change]:
    adds_schema = [c for c in changes if isinstance(c, (AddSchema, ModifySchema))]
    drops_schema = [c for c in changes if isinstance(c, DropSchema)]
    added = [c for c in changes if isinstance(c, AddTable)]
    dropped = [c for c in changes if isinstance(c, DropTable)]
    modified = [c for c in changes if isinstance(c, ModifyTable)]

    fk_drops: list[Change] = []
    fk_adds: list[Change] = []
    main: list[Change] = []
    for change in modified:
        if not split_foreign_keys:
            main.append(change)
            continue
        drops, rest, adds = split_modify(change)
        fk_drops.extend(drops)
        main.extend(rest)
        fk_adds.extend(adds)

    created, detached = sort_created_tables(added, detach_cycles=split_foreign_keys)
    fk_adds = detached + fk_adds
    return [
        *adds_schema,
        *fk_drops,
        *created,
        *main,
        *fk_adds,
        *sort_dropped_tables(dropped, detach_cycles=split_foreign_keys),
        *drops_schema,
    ]


def split_modify(change: ModifyTable) -> tuple[list[Change], list[Change], list[Change]]:
    """One ModifyTable → (foreign-key drops, the rest, foreign-key additions)."""
    drops: list[TableChange] = []
    rest: list[TableChange] = []
    adds: list[TableChange] = []
    for c in change.changes:
        if isinstance(c, DropForeignKey):
            drops.append(c)
        elif isinstance(c, AddForeignKey):
            adds.append(c)
        elif isinstance(c, ModifyForeignKey):
            drops.append(DropForeignKey(c.before))
            adds.append(AddForeignKey(c.after))
        else:
            rest.append(c)
    return tuple_change(change, drops), tuple_change(change, rest), tuple_change(change, adds)


def tuple_change(change: ModifyTable, parts: list[TableChange]) -> list[Change]:
    return [change.with_changes(tuple(parts))] if parts else []


def table_dependencies(table: Table, schema: str) -> set[tuple[str, str]]:
    """The (schema, table) pairs a table's foreign keys reference, itself excluded."""
    refs = {(fk.ref_schema or schema, fk.ref_table) for fk in table.foreign_keys}
    refs.discard((schema, table.name))
    return refs


def sort_created_tables(
    added: list[AddTable], *, detach_cycles: bool
) -> tuple[list[Change], list[Change]]:
    """New tables in dependency order, and the FK additions detached to break cycles."""
    pending = {(c.schema, c.table.name): c for c in added}
    ordered: list[Change] = []
    detached: list[Change] = []
    while pending:
        ready = [
            key
            for key, c in pending.items()
            if not (table_dependencies(c.table, c.schema) & (pending.keys() - {key}))
        ]
        if not ready:
            if not detach_cycles:
                ordered.extend(pending.values())
                break
            # A cycle: create the first table without the keys that point into the cycle.
            key = node_on_cycle(pending)
            change = pending[key]
            inside = pending.keys() - {key}
            kept = tuple(
                f for f in change.table.foreign_keys if refers_to(f, change.schema, inside)
            )
            table = replace(
                change.table,
                foreign_keys=tuple(f for f in change.table.foreign_keys if f not in kept),
            )
            pending[key] = AddTable(change.schema, table)
            detached.append(
                ModifyTable(
                    change.schema, table, change.table, tuple(AddForeignKey(f) for f in kept)
                )
            )
            continue
        for key in ready:
            ordered.append(pending.pop(key))
    return ordered, detached


def node_on_cycle(pending: dict[tuple[str, str], AddTable]) -> tuple[str, str]:
    """A table on a dependency cycle: follow pending references until one repeats."""
    key = next(iter(pending))
    seen: set[tuple[str, str]] = set()
    while key not in seen:
        seen.add(key)
        change = pending[key]
        key = min(table_dependencies(change.table, change.schema) & pending.keys())
    return key


def refers_to(fk: ForeignKey, schema: str, keys: set[tuple[str, str]]) -> bool:
    return (fk.ref_schema or schema, fk.ref_table) in keys


def sort_dropped_tables(dropped: list[DropTable], *, detach_cycles: bool = False) -> list[Change]:
    """Referencing tables are dropped before the tables they reference.

    Tables that reference each other (a cycle) cannot all go first: with
    `detach_cycles`, the keys that point at the table dropped first are dropped
    before it (PostgreSQL refuses to drop a table another one still references)."""
    pending = {(c.schema, c.table.name): c for c in dropped}
    ordered: list[Change] = []
    while pending:
        referenced = {
            dep
            for key, c in pending.items()
            for dep in table_dependencies(c.table, c.schema)
            if dep != key
        }
        ready = [key for key in pending if key not in referenced]
        if not ready:
            ready = list(pending)[:1]
            if detach_cycles:
                ordered.extend(detach_references(pending, ready[0]))
        for key in ready:
            ordered.append(pending.pop(key))
    return ordered


def detach_references(
    pending: dict[tuple[str, str], DropTable], key: tuple[str, str]
) -> list[Change]:
    """Drops the foreign keys of the other pending tables that reference `key`."""
    detached: list[Change] = []
    for other, change in list(pending.items()):
        if other == key:
            continue
        table = change.table
        refs = tuple(f for f in table.foreign_keys if refers_to(f, change.schema, {key}))
        if not refs:
            continue
        kept = replace(table, foreign_keys=tuple(f for f in table.foreign_keys if f not in refs))
        detached.append(
            ModifyTable(change.schema, table, kept, tuple(DropForeignKey(f) for f in refs))
        )
        pending[other] = DropTable(change.schema, kept)
    return detached
