"""Ordering changes so every statement finds what it needs.

The order is the one that works for every driver:
1. new schemas;
2. in-place changes of objects tables use (a new enum label), then the drops of
   objects no table uses (views, triggers, …; dependents first, engine/dependencies.py
   has added the re-creations a change needs);
3. partitions that change bound or parent are detached (PostgreSQL);
4. foreign keys that go away (so referenced columns and tables can change), with
   those of dropped tables whose referenced key or column changes;
5. new objects tables use (types, sequences, functions of defaults), needed first;
6. new tables, referenced tables and partitioned parents first (FK cycles are
   broken by adding the cycle's keys afterwards with ALTER TABLE);
7. other table changes;
8. foreign keys that are added, with new tables' keys on a unique key that step 7
   creates;
9. dropped tables, referencing tables before the tables they reference (partitions
   go with their dropped parent);
10. the detached partitions are attached with their new bound;
11. the other new and changed objects (views, routines, triggers, policies);
12. drops of objects tables used (after those tables changed or went);
13. dropped schemas;
14. new and changed event triggers (dropped ones go before step 1): they fire on DDL.
Drivers that put foreign keys inside the table definition (SQLite) ask for no
split: their table rebuild handles keys as part of the table.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import replace

from atlas_operator.engine.changes import (
    OBJECT_KINDS,
    AddForeignKey,
    AddIndex,
    AddObject,
    AddPrimaryKey,
    AddSchema,
    AddTable,
    Change,
    DropColumn,
    DropForeignKey,
    DropIndex,
    DropObject,
    DropPrimaryKey,
    DropSchema,
    DropTable,
    ModifyColumn,
    ModifyForeignKey,
    ModifyIndex,
    ModifyObject,
    ModifyPartitionOf,
    ModifyPrimaryKey,
    ModifySchema,
    ModifyTable,
    ObjectChange,
    TableChange,
)
from atlas_operator.engine.model import ForeignKey, ObjectRef, Table


def order_changes(changes: Sequence[Change], *, split_foreign_keys: bool = True) -> list[Change]:
    adds_schema = [c for c in changes if isinstance(c, (AddSchema, ModifySchema))]
    drops_schema = [c for c in changes if isinstance(c, DropSchema)]
    added = [c for c in changes if isinstance(c, AddTable)]
    dropped = [c for c in changes if isinstance(c, DropTable)]
    modified = [c for c in changes if isinstance(c, ModifyTable)]
    detaches, modified, attaches = split_partition_moves(modified)

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

    if split_foreign_keys:
        added, waiting = await_new_keys(added, modified)
        dropped, released = release_dropped_references(dropped, modified)
        fk_drops = released + fk_drops
        fk_adds = waiting + fk_adds
    created, detached = sort_created_tables(added, detach_cycles=split_foreign_keys)
    fk_adds = detached + fk_adds
    objects = [c for c in changes if isinstance(c, (AddObject, DropObject, ModifyObject))]
    # Event triggers fire on the plan's own DDL: the ones that go are dropped before
    # anything else, the new and changed ones set up after everything else.
    events = [c for c in objects if object_key(c).kind == "event_trigger"]
    objects = [c for c in objects if c not in events]
    events_first = [c for c in events if isinstance(c, DropObject)]
    events_last = [c for c in events if not isinstance(c, DropObject)]
    early_drops = [c for c in objects if isinstance(c, DropObject) and not c.anchored]
    late_drops = [c for c in objects if isinstance(c, DropObject) and c.anchored]
    # In-place changes of objects tables use (a new enum label, a domain's check) come
    # first: they run outside the transaction when they must and need nothing dropped.
    first = [c for c in objects if isinstance(c, ModifyObject) and c.anchored and not c.columns]
    early_creates = [
        c
        for c in objects
        if c.anchored and (isinstance(c, AddObject) or (isinstance(c, ModifyObject) and c.columns))
    ]
    late_creates = [c for c in objects if not isinstance(c, DropObject) and not c.anchored]
    return [
        *events_first,
        *adds_schema,
        *sort_objects(first, dropping=False),
        *sort_objects(early_drops, dropping=True),
        *detaches,
        *fk_drops,
        *sort_objects(early_creates, dropping=False),
        *created,
        *main,
        *fk_adds,
        *sort_dropped_tables(without_implied_drops(dropped), detach_cycles=split_foreign_keys),
        *attaches,
        # After dropped tables: a view may take the name of a table that goes away.
        *sort_objects(late_creates, dropping=False),
        *sort_objects(late_drops, dropping=True),
        *drops_schema,
        *sort_objects(events_last, dropping=False),
    ]


def object_key(change: ObjectChange) -> ObjectRef:
    obj = change.after if isinstance(change, ModifyObject) else change.object
    return ObjectRef(obj.kind, change.schema, obj.name, obj.table)


def sort_objects(changes: Sequence[ObjectChange], *, dropping: bool) -> list[Change]:
    """Object changes in dependency order: what is needed first when creating, the
    dependents first when dropping. Among those ready, the kinds' order decides (a view
    that becomes ready once another view is placed still goes before a function that
    was ready earlier); a cycle is broken in that order too."""

    def rank(index: int) -> tuple[int, str, str]:
        ref = object_key(changes[index])
        kind = OBJECT_KINDS.index(ref.kind) if ref.kind in OBJECT_KINDS else len(OBJECT_KINDS)
        return (-kind if dropping else kind, ref.schema or "", f"{ref.sub or ''}.{ref.name}")

    position = {object_key(c): i for i, c in enumerate(changes)}
    waits_for: list[set[int]] = [set() for _ in changes]  # i runs after every j in it
    for i, change in enumerate(changes):
        for need in change.needs:
            j = position.get(need)
            if j is None or j == i:
                continue
            if dropping:
                waits_for[j].add(i)  # what is needed goes after what needs it
            else:
                waits_for[i].add(j)
    followers: list[set[int]] = [set() for _ in changes]
    for i, before in enumerate(waits_for):
        for j in before:
            followers[j].add(i)
    blocking = [len(b) for b in waits_for]
    ready = [(rank(i), i) for i in range(len(changes)) if not blocking[i]]
    heapq.heapify(ready)
    done: set[int] = set()
    ordered: list[Change] = []
    while len(done) < len(changes):
        if not ready:  # a cycle: the first pending one in the kinds' order
            first = min((i for i in range(len(changes)) if i not in done), key=rank)
            heapq.heappush(ready, (rank(first), first))
        _, i = heapq.heappop(ready)
        if i in done:
            continue
        done.add(i)
        ordered.append(changes[i])
        for k in followers[i]:
            blocking[k] -= 1
            if blocking[k] == 0 and k not in done:
                heapq.heappush(ready, (rank(k), k))
    return ordered


def split_partition_moves(
    modified: list[ModifyTable],
) -> tuple[list[Change], list[ModifyTable], list[Change]]:
    """Partitions that stay partitions but change bound or parent are detached before
    anything else and attached again after everything else, so new, dropped and other
    moved partitions never overlap them in between. Returns (detaches, the rest,
    attaches)."""
    detaches: list[Change] = []
    rest: list[ModifyTable] = []
    attaches: list[Change] = []
    for change in modified:
        moves = [c for c in change.changes if is_partition_move(c)]
        others = tuple(c for c in change.changes if not is_partition_move(c))
        for move in moves:
            assert isinstance(move, ModifyPartitionOf)
            detaches.append(change.with_changes((ModifyPartitionOf(move.before, None),)))
            attaches.append(change.with_changes((ModifyPartitionOf(None, move.after),)))
        if others:
            rest.append(change.with_changes(others))
    return detaches, rest, attaches


def is_partition_move(change: TableChange) -> bool:
    return (
        isinstance(change, ModifyPartitionOf)
        and change.before is not None
        and change.after is not None
    )


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
        elif isinstance(c, ModifyForeignKey) and not same_reference(c.before, c.after):
            drops.append(DropForeignKey(c.before))
            adds.append(AddForeignKey(c.after))
        else:
            rest.append(c)
    return tuple_change(change, drops), tuple_change(change, rest), tuple_change(change, adds)


def same_reference(before: ForeignKey, after: ForeignKey) -> bool:
    """The same key but for its deferral and validity: those change in place (ALTER
    CONSTRAINT, VALIDATE CONSTRAINT), so the key is neither dropped nor added again."""

    def neutral(fk: ForeignKey) -> ForeignKey:
        return replace(fk, deferrable=False, initially_deferred=False, not_valid=False)

    return neutral(before) == neutral(after)


def tuple_change(change: ModifyTable, parts: list[TableChange]) -> list[Change]:
    return [change.with_changes(tuple(parts))] if parts else []


def await_new_keys(
    added: list[AddTable], modified: list[ModifyTable]
) -> tuple[list[AddTable], list[Change]]:
    """A new table's foreign keys on a unique key that a table modification creates
    wait for it: the database refuses a reference to a key that does not exist yet, so
    they are added with ALTER TABLE after the modifications. Returns (the new tables,
    the keys' additions)."""
    new_keys = {(c.schema, c.after.name): keys_created(c) for c in modified}
    tables: list[AddTable] = []
    waiting: list[Change] = []
    for change in added:
        waits = tuple(
            fk
            for fk in change.table.foreign_keys
            if set(fk.ref_columns) in new_keys.get(reference(fk, change.schema), [])
        )
        if not waits:
            tables.append(change)
            continue
        table = without_foreign_keys(change.table, waits)
        tables.append(AddTable(change.schema, table))
        waiting.append(
            ModifyTable(change.schema, table, change.table, tuple(AddForeignKey(f) for f in waits))
        )
    return tables, waiting


def release_dropped_references(
    dropped: list[DropTable], modified: list[ModifyTable]
) -> tuple[list[DropTable], list[Change]]:
    """A dropped table's foreign keys on columns or keys that a table modification drops
    or rebuilds are dropped before it: the database refuses to drop a key (or a column)
    that a key still references, and the table itself goes only at the end. Returns
    (the dropped tables, the keys' drops)."""
    released = {(c.schema, c.after.name): columns_released(c) for c in modified}
    tables: list[DropTable] = []
    releases: list[Change] = []
    for change in dropped:
        refs = tuple(
            fk
            for fk in change.table.foreign_keys
            if set(fk.ref_columns) & released.get(reference(fk, change.schema), set())
        )
        if not refs:
            tables.append(change)
            continue
        table = without_foreign_keys(change.table, refs)
        tables.append(DropTable(change.schema, table))
        releases.append(
            ModifyTable(change.schema, change.table, table, tuple(DropForeignKey(f) for f in refs))
        )
    return tables, releases


def reference(fk: ForeignKey, schema: str) -> tuple[str, str]:
    return (fk.ref_schema or schema, fk.ref_table)


def without_foreign_keys(table: Table, gone: tuple[ForeignKey, ...]) -> Table:
    return replace(table, foreign_keys=tuple(f for f in table.foreign_keys if f not in gone))


def keys_created(change: ModifyTable) -> list[set[str]]:
    """The column sets of the unique keys a modification creates (or re-creates)."""
    keys: list[set[str]] = []
    for c in change.changes:
        if isinstance(c, AddPrimaryKey):
            keys.append(set(c.primary_key.columns))
        elif isinstance(c, ModifyPrimaryKey):
            keys.append(set(c.after.columns))
        elif isinstance(c, (AddIndex, ModifyIndex)):
            index = c.index if isinstance(c, AddIndex) else c.after
            if index.unique:
                keys.append(set(index.columns))
    return keys


def columns_released(change: ModifyTable) -> set[str]:
    """The columns a modification drops, retypes, or drops (or rebuilds) a unique key on:
    a foreign key that references them is in the way."""
    columns: set[str] = set()
    for c in change.changes:
        if isinstance(c, DropPrimaryKey):
            columns.update(c.primary_key.columns)
        elif isinstance(c, ModifyPrimaryKey):
            columns.update(c.before.columns)
        elif isinstance(c, (DropIndex, ModifyIndex)):
            index = c.index if isinstance(c, DropIndex) else c.before
            if index.unique:
                columns.update(index.columns)
        elif isinstance(c, DropColumn):
            columns.add(c.column.name)
        elif isinstance(c, ModifyColumn) and "type" in c.kinds:
            columns.add(c.before.name)
    return columns


def table_dependencies(table: Table, schema: str) -> set[tuple[str, str]]:
    """The (schema, table) pairs a table needs first: those its foreign keys reference
    and, for a partition, its parent; itself excluded."""
    refs = {(fk.ref_schema or schema, fk.ref_table) for fk in table.foreign_keys}
    if table.partition_of is not None:
        refs.add(partition_parent(table, schema))
    refs.discard((schema, table.name))
    return refs


def partition_parent(table: Table, schema: str) -> tuple[str, str]:
    """The (schema, table) a partition belongs to (the table itself when it is none)."""
    parent = table.partition_of
    if parent is None:
        return (schema, table.name)
    return (parent.schema or schema, parent.table)


def without_implied_drops(dropped: list[DropTable]) -> list[DropTable]:
    """Dropping a partitioned table drops its partitions (and theirs): a partition whose
    parent is dropped too needs no statement of its own."""
    keys = {(c.schema, c.table.name) for c in dropped}
    return [
        c
        for c in dropped
        if c.table.partition_of is None or partition_parent(c.table, c.schema) not in keys
    ]


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
            if not kept:  # only a partition's parent closes the cycle: keys cannot help
                ordered.extend(pending.values())
                break
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
