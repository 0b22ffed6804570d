"""Model × model → changes, the way Atlas's `RealmDiff`/`SchemaDiff` find them.

Both sides are expected in database normal form (the desired state was run on a
dev database and inspected by the same inspector), so elements are compared
with plain equality. Tables, columns, indexes and foreign keys are matched by
name; checks by name when both have one, otherwise by expression. Renames are
not detected: a rename is a drop and an add, as in Atlas's community engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from atlas_operator.engine.changes import (
    AddCheck,
    AddColumn,
    AddForeignKey,
    AddIndex,
    AddObject,
    AddPrimaryKey,
    AddSchema,
    AddTable,
    Change,
    DropCheck,
    DropColumn,
    DropForeignKey,
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
    ModifyPartitionKey,
    ModifyPartitionOf,
    ModifyPrimaryKey,
    ModifySchema,
    ModifyTable,
    ModifyTableAttr,
    TableChange,
)
from atlas_operator.engine.diff_partitions import partitioning_changes
from atlas_operator.engine.model import (
    Check,
    Column,
    ForeignKey,
    Index,
    PrimaryKey,
    Realm,
    Schema,
    SchemaObject,
    Table,
)

E = TypeVar("E")

COLUMN_ASPECTS: tuple[str, ...] = (
    "type",
    "nullable",
    "default",
    "auto_increment",
    "identity",
    "generated",
    "comment",
    "charset",
    "collation",
    "on_update",
)


def fold_key(fold_case: bool) -> Callable[[str], str]:
    """How names compare: exactly, or case-insensitively (SQLite identifiers)."""
    return str.lower if fold_case else str


def by_key(items: Sequence[E], key: Callable[[str], str]) -> dict[str, E]:
    return {key(getattr(item, "name")): item for item in items}  # noqa: B009


def diff_realms(current: Realm, desired: Realm, *, fold_case: bool = False) -> list[Change]:
    """Realm scope: schemas missing from `desired` are dropped, new ones added."""
    key = fold_key(fold_case)
    wanted, present = by_key(desired.schemas, key), by_key(current.schemas, key)
    changes: list[Change] = []
    for schema in current.schemas:
        target = wanted.get(key(schema.name))
        if target is None:
            changes.append(DropSchema(schema))
        else:
            changes.extend(diff_schemas(schema, target, fold_case=fold_case))
    for schema in desired.schemas:
        if key(schema.name) not in present:
            changes.append(AddSchema(schema))
            changes.extend(AddTable(schema.name, table) for table in schema.tables)
            changes.extend(AddObject(schema.name, obj) for obj in schema.objects)
    changes.extend(diff_objects(None, current.objects, desired.objects))
    return changes


def diff_schemas(current: Schema, desired: Schema, *, fold_case: bool = False) -> list[Change]:
    """One schema's changes; the schema names themselves are not compared."""
    key = fold_key(fold_case)
    wanted, present = by_key(desired.tables, key), by_key(current.tables, key)
    changes: list[Change] = []
    attrs = ("charset", "collation", "comment")
    if any(getattr(current, a) != getattr(desired, a) for a in attrs):
        changes.append(ModifySchema(current, desired))
    for table in current.tables:
        target = wanted.get(key(table.name))
        if target is None:
            changes.append(DropTable(current.name, table))
            continue
        table_changes = diff_tables(table, target, fold_case=fold_case)
        if table_changes:
            changes.append(ModifyTable(desired.name, table, target, tuple(table_changes)))
    changes.extend(
        AddTable(desired.name, table) for table in desired.tables if key(table.name) not in present
    )
    dropped = {key(t.name) for t in current.tables if key(t.name) not in wanted}
    changes.extend(
        c
        for c in diff_objects(desired.name, current.objects, desired.objects)
        if not (isinstance(c, DropObject) and owner_table_dropped(c.object, dropped, key))
    )
    return changes


def owner_table_dropped(obj: SchemaObject, dropped: set[str], key: Callable[[str], str]) -> bool:
    """DROP TABLE takes its triggers, policies and owned sequences with it."""
    owner = obj.table or obj.rendering("owner_table")
    return bool(owner) and key(owner or "") in dropped


def diff_objects(
    schema: str | None, current: Sequence[SchemaObject], desired: Sequence[SchemaObject]
) -> list[Change]:
    """Objects matched by kind, table and name (a routine's name holds its arguments)."""
    wanted = {o.key: o for o in desired}
    present = {o.key for o in current}
    changes: list[Change] = []
    for obj in current:
        target = wanted.get(obj.key)
        if target is None:
            changes.append(DropObject(schema, obj))
        elif target != obj:
            changes.append(ModifyObject(schema, obj, target))
    changes.extend(AddObject(schema, o) for o in desired if o.key not in present)
    return changes


def diff_tables(current: Table, desired: Table, *, fold_case: bool = False) -> list[TableChange]:
    changes: list[TableChange] = diff_partitioning(current, desired)
    if current.comment != desired.comment:
        changes.append(ModifyTableAttr("comment", current.comment, desired.comment))
    for name in sorted({n for n, _ in current.options} | {n for n, _ in desired.options}):
        before, after = current.option(name), desired.option(name)
        if before != after:
            changes.append(ModifyTableAttr(name, before, after))
    changes.extend(diff_columns(current, desired, fold_key(fold_case)))
    changes.extend(diff_primary_keys(current, desired))
    changes.extend(diff_named(current.indexes, desired.indexes, AddIndex, DropIndex, ModifyIndex))
    changes.extend(
        diff_named(
            current.foreign_keys,
            desired.foreign_keys,
            AddForeignKey,
            DropForeignKey,
            ModifyForeignKey,
        )
    )
    changes.extend(diff_checks(current.checks, desired.checks))
    return changes


def diff_partitioning(current: Table, desired: Table) -> list[TableChange]:
    """Partition key and partition bound changes (PostgreSQL), first: planners refuse
    the ones that cannot be made in place before anything else is rendered; then MySQL's
    partitioning changes (diff_partitions.py), in the order they run."""
    changes: list[TableChange] = []
    if current.partition != desired.partition:
        changes.append(ModifyPartitionKey(current.partition, desired.partition))
    if current.partition_of != desired.partition_of:
        changes.append(ModifyPartitionOf(current.partition_of, desired.partition_of))
    changes.extend(partitioning_changes(current.partitioning, desired.partitioning))
    return changes


def diff_columns(
    current: Table, desired: Table, key: Callable[[str], str] = str
) -> list[TableChange]:
    wanted, present = by_key(desired.columns, key), by_key(current.columns, key)
    changes: list[TableChange] = []
    for column in current.columns:
        target = wanted.get(key(column.name))
        if target is None:
            changes.append(DropColumn(column))
        elif target != column:
            changes.append(ModifyColumn(column, target, column_change_kinds(column, target)))
    changes.extend(AddColumn(c) for c in desired.columns if key(c.name) not in present)
    return changes


def column_change_kinds(before: Column, after: Column) -> frozenset[str]:
    return frozenset(a for a in COLUMN_ASPECTS if getattr(before, a) != getattr(after, a))


def diff_primary_keys(current: Table, desired: Table) -> list[TableChange]:
    before, after = current.primary_key, desired.primary_key
    if before == after:
        return []
    if before is None and after is not None:
        return [AddPrimaryKey(after)]
    if after is None and before is not None:
        return [DropPrimaryKey(before)]
    assert before is not None
    assert after is not None
    if compared_key(before) == compared_key(after):
        return []  # a name-only change: PostgreSQL cannot rename it in Atlas either
    return [ModifyPrimaryKey(before, after)]


def compared_key(key: PrimaryKey) -> PrimaryKey:
    """What a primary key comparison looks at: not the name, and the storage
    parameters in one order."""
    return replace(key, name=None, params=tuple(sorted(key.params)))


def diff_named(
    current: Sequence[E],
    desired: Sequence[E],
    add: Callable[[E], TableChange],
    drop: Callable[[E], TableChange],
    modify: Callable[[E, E], TableChange],
) -> list[TableChange]:
    """Elements matched by `name`: drops, modifications, then additions."""
    by_name = {getattr(e, "name"): e for e in desired}  # noqa: B009 - typed by protocol
    seen = set()
    changes: list[TableChange] = []
    for element in current:
        name = getattr(element, "name")  # noqa: B009
        target = by_name.get(name)
        seen.add(name)
        if target is None:
            changes.append(drop(element))
        elif not satisfies(element, target):
            changes.append(modify(element, target))
    changes.extend(add(e) for e in desired if getattr(e, "name") not in seen)  # noqa: B009
    return changes


def satisfies(current: object, desired: object) -> bool:
    """Whether `current` needs no change to be `desired`. A constraint wanted NOT VALID
    is satisfied by a valid one: NOT VALID only says existing rows were not checked,
    no reason to drop a checked constraint (the other way round, it gets validated)."""
    if current == desired:
        return True
    if isinstance(desired, (ForeignKey, Check)) and desired.not_valid:
        return replace(desired, not_valid=False) == current
    if isinstance(desired, Index) and isinstance(current, Index):
        # Storage parameters are a set: their order is only how they were written.
        return replace(desired, params=tuple(sorted(desired.params))) == replace(
            current, params=tuple(sorted(current.params))
        )
    return False


def diff_checks(current: Sequence[Check], desired: Sequence[Check]) -> list[TableChange]:
    """Checks match by name when both have one, otherwise by expression."""
    changes: list[TableChange] = []
    unmatched = list(desired)
    for check in current:
        target = match_check(check, unmatched)
        if target is None:
            changes.append(DropCheck(check))
            continue
        unmatched.remove(target)
        if not satisfies(normal_check(check), normal_check(target)):
            changes.append(ModifyCheck(check, target))
    changes.extend(AddCheck(c) for c in unmatched)
    return changes


def normal_check(check: Check) -> Check:
    """What a check comparison looks at: the expression without outer parentheses and
    the attributes; not the name (matched checks with other names are the same)."""
    return replace(check, name=None, expr=strip_parens(check.expr))


def match_check(check: Check, candidates: Sequence[Check]) -> Check | None:
    for candidate in candidates:
        if check.name and candidate.name and check.name == candidate.name:
            return candidate
    for candidate in candidates:
        # Two names that differ are two constraints (a rename is a drop and an add);
        # only an unnamed check (SQLite) is recognised by its expression.
        if check.name and candidate.name:
            continue
        if strip_parens(candidate.expr) == strip_parens(check.expr):
            return candidate
    return None


def strip_parens(expr: str) -> str:
    """`(a > 0)` → `a > 0`, only when the outer parentheses enclose the whole text."""
    text = expr.strip()
    while text.startswith("(") and text.endswith(")") and encloses_all(text):
        text = text[1:-1].strip()
    return text


def encloses_all(text: str) -> bool:
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0 and i != len(text) - 1:
                return False
    return True
