"""Schema changes: what the diff finds and the planner renders.

Top-level changes act on schemas and tables; a `ModifyTable` carries the
table-level changes. Each change knows its `policy.diff.skip` key, so the skip
policy is one filter over kinds rather than a check in every diff step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from atlas_operator.engine.model import (
    Check,
    Column,
    ForeignKey,
    Index,
    ObjectRef,
    Partition,
    Partitioning,
    PartitionKey,
    PartitionOf,
    PrimaryKey,
    Schema,
    SchemaObject,
    Table,
)


@dataclass(frozen=True)
class AddColumn:
    column: Column
    skip_key = "add_column"


@dataclass(frozen=True)
class DropColumn:
    column: Column
    skip_key = "drop_column"


@dataclass(frozen=True)
class ModifyColumn:
    before: Column
    after: Column
    kinds: frozenset[str]
    """What changed: a subset of {type, null, default, comment, generated, identity,
    auto_increment, collation}."""
    skip_key = "modify_column"


@dataclass(frozen=True)
class AddIndex:
    index: Index
    skip_key = "add_index"


@dataclass(frozen=True)
class DropIndex:
    index: Index
    skip_key = "drop_index"


@dataclass(frozen=True)
class ModifyIndex:
    before: Index
    after: Index
    skip_key = "modify_index"


@dataclass(frozen=True)
class AddForeignKey:
    foreign_key: ForeignKey
    skip_key = "add_foreign_key"


@dataclass(frozen=True)
class DropForeignKey:
    foreign_key: ForeignKey
    skip_key = "drop_foreign_key"


@dataclass(frozen=True)
class ModifyForeignKey:
    before: ForeignKey
    after: ForeignKey
    skip_key = "modify_foreign_key"


@dataclass(frozen=True)
class AddPrimaryKey:
    primary_key: PrimaryKey
    skip_key = None  # not skippable, as in Atlas


@dataclass(frozen=True)
class DropPrimaryKey:
    primary_key: PrimaryKey
    skip_key = None


@dataclass(frozen=True)
class ModifyPrimaryKey:
    before: PrimaryKey
    after: PrimaryKey
    skip_key = None


@dataclass(frozen=True)
class AddCheck:
    check: Check
    skip_key = None


@dataclass(frozen=True)
class DropCheck:
    check: Check
    skip_key = None


@dataclass(frozen=True)
class ModifyCheck:
    before: Check
    after: Check
    skip_key = None


@dataclass(frozen=True)
class ModifyTableAttr:
    """A table comment or option changed (`name` is `comment` or an option name)."""

    name: str
    before: str | None
    after: str | None
    skip_key = "modify_table"


@dataclass(frozen=True)
class ModifyPartitionKey:
    """A table's partition key changed, appeared or went away (PostgreSQL): never
    possible in place, so planners refuse it (Atlas: "drop and add is required")."""

    before: PartitionKey | None
    after: PartitionKey | None
    skip_key = None


@dataclass(frozen=True)
class ModifyPartitionOf:
    """A partition's bound or parent changed, or a table became or stopped being a
    partition (PostgreSQL: detach and attach again when it stays a partition)."""

    before: PartitionOf | None
    after: PartitionOf | None
    skip_key = None


@dataclass(frozen=True)
class ModifyPartitioning:
    """MySQL: a table gets partitioning, loses it (`REMOVE PARTITIONING`), or is
    partitioned anew because its scheme changed (`PARTITION BY …`). The rows are copied
    into the new layout; none is lost (the server refuses a row no partition takes)."""

    before: Partitioning | None
    after: Partitioning | None
    skip_key = None


@dataclass(frozen=True)
class AddPartitions:
    """MySQL: partitions added after the last one (`ADD PARTITION (…)`)."""

    partitions: tuple[Partition, ...]
    skip_key = None


@dataclass(frozen=True)
class DropPartitions:
    """MySQL: RANGE or LIST partitions dropped (`DROP PARTITION …`), with their rows."""

    partitions: tuple[Partition, ...]
    skip_key = None


@dataclass(frozen=True)
class ReorganizePartitions:
    """MySQL: adjacent partitions replaced by others covering their rows (`REORGANIZE
    PARTITION … INTO (…)`): a split, a merge, moved bounds, a changed comment.

    `loses_rows`: LIST partitions whose new value lists leave values out; the server
    silently deletes the rows holding them."""

    before: tuple[Partition, ...]
    after: tuple[Partition, ...]
    loses_rows: bool = False
    skip_key = None


@dataclass(frozen=True)
class ModifyPartitionCount:
    """MySQL: the number of HASH or KEY partitions changes (`ADD PARTITION PARTITIONS n`,
    `COALESCE PARTITION n`, which drops the last ones); the rows are redistributed."""

    before: int
    after: int
    skip_key = None


PARTITION_CHANGES = (
    ModifyPartitioning,
    AddPartitions,
    DropPartitions,
    ReorganizePartitions,
    ModifyPartitionCount,
)


TableChange = (
    AddColumn
    | DropColumn
    | ModifyColumn
    | AddIndex
    | DropIndex
    | ModifyIndex
    | AddForeignKey
    | DropForeignKey
    | ModifyForeignKey
    | AddPrimaryKey
    | DropPrimaryKey
    | ModifyPrimaryKey
    | AddCheck
    | DropCheck
    | ModifyCheck
    | ModifyTableAttr
    | ModifyPartitionKey
    | ModifyPartitionOf
    | ModifyPartitioning
    | AddPartitions
    | DropPartitions
    | ReorganizePartitions
    | ModifyPartitionCount
)


@dataclass(frozen=True)
class AddSchema:
    schema: Schema
    skip_key = "add_schema"


@dataclass(frozen=True)
class DropSchema:
    schema: Schema
    skip_key = "drop_schema"


@dataclass(frozen=True)
class ModifySchema:
    before: Schema
    after: Schema
    skip_key = "modify_schema"


@dataclass(frozen=True)
class AddTable:
    schema: str
    table: Table
    skip_key = "add_table"


@dataclass(frozen=True)
class DropTable:
    schema: str
    table: Table
    skip_key = "drop_table"


@dataclass(frozen=True)
class ModifyTable:
    schema: str
    before: Table
    after: Table
    changes: tuple[TableChange, ...]
    skip_key = "modify_table"

    def with_changes(self, changes: tuple[TableChange, ...]) -> ModifyTable:
        return ModifyTable(self.schema, self.before, self.after, changes)


OBJECT_KINDS = (
    "extension",
    "collation",
    "enum",
    "domain",
    "composite",
    "sequence",
    "view",
    "materialized",
    "function",
    "procedure",
    "trigger",
    "event",
    "policy",
    "event_trigger",
)
"""Object kinds in creation order when no recorded dependency decides (Atlas's type
selectors). Routines come after views: a view records the functions it calls, but a
function body naming a view records nothing, and is checked when created."""


@dataclass(frozen=True)
class ColumnUse:
    """A table column whose type is a schema object, with its desired default."""

    schema: str
    table: str
    column: str
    type: str
    """The column's desired type (`e`, `e[]`)."""
    default: str | None = None


@dataclass(frozen=True)
class AddObject:
    """A view, routine, trigger, sequence, type, policy, collation, extension or event
    trigger to create. `recreate`: it exists and was dropped first because something it
    depends on is replaced (not a user-visible add)."""

    schema: str | None
    object: SchemaObject
    recreate: bool = False
    needs: tuple[ObjectRef, ...] = field(default=(), compare=False)
    """What it depends on (engine/dependencies.py), for ordering."""
    anchored: bool = field(default=False, compare=False)
    """Tables depend on it, so it is created before them."""

    @property
    def skip_key(self) -> str:
        return f"add_{self.object.kind}"


@dataclass(frozen=True)
class DropObject:
    schema: str | None
    object: SchemaObject
    recreate: bool = False
    """Dropped only to be created again after a change it depends on (not destructive)."""
    needs: tuple[ObjectRef, ...] = field(default=(), compare=False)
    anchored: bool = field(default=False, compare=False)
    """Tables depend on it, so it is dropped after them."""

    @property
    def skip_key(self) -> str:
        return f"drop_{self.object.kind}"


@dataclass(frozen=True)
class ModifyObject:
    schema: str | None
    before: SchemaObject
    after: SchemaObject
    needs: tuple[ObjectRef, ...] = field(default=(), compare=False)
    anchored: bool = field(default=False, compare=False)
    columns: tuple[ColumnUse, ...] = field(default=(), compare=False)
    """Table columns of the type, converted to the new one when it is replaced (an enum
    that loses a label): the type is renamed away, created anew, the columns cast to it
    and the old one dropped."""

    @property
    def skip_key(self) -> str:
        return f"modify_{self.after.kind}"


ObjectChange = AddObject | DropObject | ModifyObject

Change = AddSchema | DropSchema | ModifySchema | AddTable | DropTable | ModifyTable | ObjectChange

SKIP_KEYS = (
    "add_schema",
    "drop_schema",
    "modify_schema",
    "add_table",
    "drop_table",
    "modify_table",
    "add_column",
    "drop_column",
    "modify_column",
    "add_index",
    "drop_index",
    "modify_index",
    "add_foreign_key",
    "drop_foreign_key",
    "modify_foreign_key",
    *(f"{verb}_{kind}" for kind in OBJECT_KINDS for verb in ("add", "drop", "modify")),
)


def skip_changes(changes: list[Change], skip: frozenset[str]) -> list[Change]:
    """Removes the change kinds named by `policy.diff.skip` keys, at every level."""
    unknown = skip - set(SKIP_KEYS)
    if unknown:
        raise ValueError(f"unknown diff skip kind(s): {', '.join(sorted(unknown))}")
    kept: list[Change] = []
    for change in changes:
        if change.skip_key in skip:
            continue
        if isinstance(change, ModifyTable):
            nested = tuple(c for c in change.changes if c.skip_key not in skip)
            if not nested:
                continue
            change = change.with_changes(nested)
        kept.append(change)
    return kept


DESTRUCTIVE = (DropSchema, DropTable)


def destructive_changes(changes: list[Change]) -> list[Change]:
    """Changes that lose data: dropped schemas, tables and (non-generated) columns, a
    column that becomes generated (its values are replaced by computed ones), dropped
    partitions and LIST partitions reorganised without some of their values (MySQL),
    and dropped schema objects (not those only re-created).

    A dropped column comes back as a ModifyTable holding only that drop, so each
    finding can be rendered as a statement of its own for the lint message."""
    found: list[Change] = []
    for change in changes:
        if isinstance(change, DESTRUCTIVE):
            found.append(change)
        elif isinstance(change, DropObject) and not change.recreate:
            # Dropping a view, routine, type or sequence loses what only it held (a
            # sequence's position, a materialized view's rows, code nobody else has).
            found.append(change)
        elif isinstance(change, ModifyTable):
            found.extend(
                change.with_changes((c,))
                for c in change.changes
                if (isinstance(c, DropColumn) and c.column.generated is None)
                or loses_partition_rows(c)
                or (
                    isinstance(c, ModifyColumn)
                    and c.before.generated is None
                    and c.after.generated is not None
                )
            )
    return found


def loses_partition_rows(change: TableChange) -> bool:
    """A dropped partition deletes its rows; so does a LIST reorganisation that leaves
    values out (the server drops the rows holding them without a word)."""
    if isinstance(change, DropPartitions):
        return True
    return isinstance(change, ReorganizePartitions) and change.loses_rows
