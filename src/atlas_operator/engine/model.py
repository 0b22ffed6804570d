"""The driver-neutral schema model: realm → schemas → tables → columns, indexes, keys.

Every element is a frozen dataclass built from tuples, so models are hashable,
comparable with `==`, and serialise to one canonical JSON text (used for hashes
and for `schema inspect --format json`).

Values such as column types, defaults and check expressions are kept as the
database prints them after normalisation ("database normal form"): both sides of
a diff come from the same inspector, so plain equality is the right comparison.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar


@dataclass(frozen=True)
class Generated:
    """A generated (computed) column."""

    expr: str
    stored: bool = True


@dataclass(frozen=True)
class Identity:
    """A PostgreSQL identity column (GENERATED … AS IDENTITY)."""

    always: bool = False
    start: int = 1
    increment: int = 1
    min_value: int | None = None
    """None: the default for the type and direction."""
    max_value: int | None = None
    cache: int = 1


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    """The type as the database prints it, lower-cased (e.g. `character varying(255)`)."""
    nullable: bool = True
    default: str | None = None
    """The default expression as the database prints it; None when there is none."""
    auto_increment: bool = False
    identity: Identity | None = None
    generated: Generated | None = None
    comment: str | None = None
    charset: str | None = None
    collation: str | None = None
    on_update: str | None = None
    """MySQL `ON UPDATE` expression (`current_timestamp()`); None when there is none."""


@dataclass(frozen=True)
class IndexPart:
    """One key part of an index: a column or an expression."""

    column: str | None = None
    expr: str | None = None
    desc: bool = False
    prefix: int | None = None
    """MySQL key-part prefix length (`name(10)`)."""
    opclass: str | None = None
    """PostgreSQL operator class when not the default, with its parameters when it has
    any (`tsvector_ops(siglen=32)`)."""
    collation: str | None = None
    """PostgreSQL: the key part's collation when not the column's (expression's type's)."""
    nulls_first: bool | None = None
    """PostgreSQL: NULLS FIRST (True) / LAST (False) when not the direction's default
    (ascending sorts nulls last, descending first); None for the default."""

    def __post_init__(self) -> None:
        if (self.column is None) == (self.expr is None):
            raise ValueError("an index part is either a column or an expression")


@dataclass(frozen=True)
class Index:
    name: str
    parts: tuple[IndexPart, ...]
    unique: bool = False
    method: str | None = None
    """Access method or index type when not the default (`gin`, `hash`, `FULLTEXT`)."""
    where: str | None = None
    include: tuple[str, ...] = ()
    comment: str | None = None
    constraint: bool = False
    """PostgreSQL: the index backs a UNIQUE or EXCLUDE constraint (dropped with ALTER TABLE)."""
    nulls_not_distinct: bool = False
    """PostgreSQL 15: a unique index on which NULLs conflict (NULLS NOT DISTINCT)."""
    params: tuple[tuple[str, str], ...] = ()
    """PostgreSQL storage parameters (`WITH (fillfactor = 70)`) as (name, value) pairs in
    the order written; the diff compares them regardless of order."""
    exclusion: tuple[str, ...] = ()
    """PostgreSQL: the operators of an EXCLUDE constraint, one per key part (`&&`). An
    exclusion constraint is an Index with `constraint` set and these operators."""
    deferrable: bool = False
    """PostgreSQL: the UNIQUE or EXCLUDE constraint is DEFERRABLE."""
    initially_deferred: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(p.column for p in self.parts if p.column is not None)


@dataclass(frozen=True)
class PrimaryKey:
    columns: tuple[str, ...]
    name: str | None = None
    include: tuple[str, ...] = ()
    """PostgreSQL: INCLUDE columns of the key's index."""
    params: tuple[tuple[str, str], ...] = ()
    """PostgreSQL: storage parameters of the key's index, as in `Index.params`."""
    deferrable: bool = False
    initially_deferred: bool = False


@dataclass(frozen=True)
class ForeignKey:
    name: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    ref_schema: str | None = None
    """The referenced table's schema; None means the same schema as the table."""
    on_update: str = "NO ACTION"
    on_delete: str = "NO ACTION"
    deferrable: bool = False
    initially_deferred: bool = False
    not_valid: bool = False
    """PostgreSQL: created NOT VALID and not validated since. A valid key satisfies a
    desired NOT VALID one (the diff asks for no change then)."""
    match_full: bool = False
    """PostgreSQL: MATCH FULL (MATCH SIMPLE is the default)."""


@dataclass(frozen=True)
class Check:
    name: str | None
    expr: str
    no_inherit: bool = False
    """PostgreSQL: NO INHERIT."""
    not_valid: bool = False
    """PostgreSQL: NOT VALID, as in `ForeignKey.not_valid`."""


@dataclass(frozen=True)
class PartitionPart:
    """One part of a partition key (PostgreSQL): a column or an expression, with the
    collation and operator class when they are not the defaults."""

    column: str | None = None
    expr: str | None = None
    """As the database prints it, without the parentheses the key adds around it."""
    collation: str | None = None
    """The collation as printed by the database (quoted: `"C"`)."""
    opclass: str | None = None

    def __post_init__(self) -> None:
        if (self.column is None) == (self.expr is None):
            raise ValueError("a partition key part is either a column or an expression")


@dataclass(frozen=True)
class PartitionKey:
    """How a partitioned table splits its rows (Atlas's `partition` block: `type` and
    `columns` or `by` parts). Changing it, or adding or removing it, needs a new table."""

    strategy: str
    """`RANGE`, `LIST` or `HASH`."""
    parts: tuple[PartitionPart, ...]


@dataclass(frozen=True)
class PartitionOf:
    """What makes a table a partition: its parent and its bound. A partition inherits
    the parent's columns, check constraints and partitioned indexes; only its own extra
    indexes and constraints are modelled on it."""

    table: str
    bound: str
    """As the database prints it: `FOR VALUES FROM (…) TO (…)`, `FOR VALUES IN (…)`,
    `FOR VALUES WITH (modulus 4, remainder 0)` or `DEFAULT`."""
    schema: str | None = None
    """The parent's schema; None means the same schema as the partition."""


@dataclass(frozen=True)
class PartitionScheme:
    """How MySQL/MariaDB assigns rows to partitions (`PARTITION BY …`) or to the
    subpartitions of each partition (`SUBPARTITION BY …`), as SHOW CREATE TABLE prints
    it after the server normalised it."""

    method: str
    """`RANGE`, `RANGE COLUMNS`, `LIST`, `LIST COLUMNS`, `HASH`, `LINEAR HASH`, `KEY` or
    `LINEAR KEY` (subpartitions: the HASH and KEY ones only)."""
    expr: str
    """The expression (`year(`joined`)`) or the column list (`` `a`,`b` ``) between the
    parentheses; empty for `KEY ()` (the primary key's columns)."""
    algorithm: int | None = None
    """`KEY ALGORITHM = n` when the server prints it (not for its default)."""
    count: int | None = None
    """`PARTITIONS n` / `SUBPARTITIONS n` when the partitions are not listed by name
    (None: listed, or the default single one, which the server prints without a count)."""


@dataclass(frozen=True)
class SubPartition:
    """A named subpartition of a MySQL/MariaDB partition."""

    name: str
    comment: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    """Other options as printed (`MAX_ROWS`, `DATA DIRECTORY`, …): (NAME, value) pairs."""


@dataclass(frozen=True)
class Partition:
    """One partition of a MySQL/MariaDB partitioned table. Its storage engine is the
    table's (the server refuses a mix), so it is not modelled."""

    name: str
    bound: str | None = None
    """Which rows it holds, as SHOW CREATE TABLE prints it: `VALUES LESS THAN (2022)`,
    `VALUES LESS THAN MAXVALUE`, `VALUES IN (1,2)` or `DEFAULT`; None for HASH and KEY."""
    comment: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    """Other options as printed (`MAX_ROWS`, `DATA DIRECTORY`, …): (NAME, value) pairs."""
    subpartitions: tuple[SubPartition, ...] = ()
    """Named subpartitions; empty when there are none or only their count is given."""


@dataclass(frozen=True)
class Partitioning:
    """MySQL/MariaDB table partitioning: the scheme, the partitions in order, and the
    subpartitioning of each partition. Partitions can be added, dropped and reorganised
    in place, the scheme only changes by partitioning the table anew (a copy that keeps
    the rows); engine/diff_partitions.py decides which."""

    by: PartitionScheme
    partitions: tuple[Partition, ...] = ()
    """Empty when only a count is given (`by.count`): HASH and KEY."""
    sub: PartitionScheme | None = None


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...] = ()
    primary_key: PrimaryKey | None = None
    indexes: tuple[Index, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    checks: tuple[Check, ...] = ()
    comment: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    """Driver table options that matter for the diff (MySQL engine, charset, collation;
    SQLite `WITHOUT ROWID`, `STRICT`), as sorted (name, value) pairs."""
    partition: PartitionKey | None = None
    """PostgreSQL: the key of a partitioned table; None for other tables."""
    partition_of: PartitionOf | None = None
    """PostgreSQL: the parent and bound of a partition (which may itself be partitioned)."""
    partitioning: Partitioning | None = None
    """MySQL/MariaDB: how the table is partitioned; None when it is not (and on the
    other drivers, whose partitioning is `partition` / `partition_of`)."""

    def column(self, name: str) -> Column | None:
        return find(self.columns, name)

    def index(self, name: str) -> Index | None:
        return find(self.indexes, name)

    def foreign_key(self, name: str) -> ForeignKey | None:
        return find(self.foreign_keys, name)

    def option(self, name: str) -> str | None:
        return dict(self.options).get(name)


@dataclass(frozen=True)
class Schema:
    name: str
    tables: tuple[Table, ...] = ()
    charset: str | None = None
    collation: str | None = None
    comment: str | None = None
    objects: tuple[SchemaObject, ...] = ()
    """Views, routines, triggers, sequences, types and policies, sorted by key."""

    def table(self, name: str) -> Table | None:
        return find(self.tables, name)


@dataclass(frozen=True)
class ObjectRef:
    """Names an element for dependency tracking: a table (optionally one of its columns,
    `sub`) or a schema object (`kind` as in `SchemaObject.kind`)."""

    kind: str
    schema: str | None
    name: str
    sub: str | None = None


@dataclass(frozen=True)
class SchemaObject:
    """A schema object other than a table: view, materialized view, function, procedure,
    trigger, sequence, enum, domain, composite type, policy and extension (in the schema
    it is installed in).

    `definition` is the object in the database's normal form (what `==` compares), so
    formatting never causes a change. `attrs` are the compared pieces the driver plans
    changes in place from (labels, options, …); `source` holds what the driver renders
    statements from but that must not count as a change (a routine's body as written)."""

    kind: str
    """Atlas's type selector name: view, materialized, function, procedure, trigger,
    sequence, enum, domain, composite, policy, extension."""
    name: str
    """The object's name; a routine's is `name(identity arguments)`."""
    table: str | None = None
    """The table a trigger or policy is on."""
    definition: str = ""
    attrs: tuple[tuple[str, str], ...] = ()
    comment: str | None = None
    source: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def attr(self, name: str) -> str | None:
        return dict(self.attrs).get(name)

    def rendering(self, name: str) -> str | None:
        return dict(self.source).get(name)

    @property
    def key(self) -> tuple[str, str | None, str]:
        """What identifies the object within its schema (triggers and policies by table)."""
        return (self.kind, self.table, self.name)

    def describe(self) -> str:
        on = f" on {self.table}" if self.table else ""
        return f"{self.kind} {self.name}{on}"


@dataclass(frozen=True)
class Dependency:
    """`dependent` cannot exist without `referenced` (a view on a table's column, a
    trigger on its function, a column of an enum type, …)."""

    dependent: ObjectRef
    referenced: ObjectRef


@dataclass(frozen=True)
class Unmanaged:
    """An object in scope that the engine does not model yet (a view, trigger, function,
    sequence, type, extension, ...): reported to the user, never planned (DECISIONS §3.5)."""

    kind: str
    schema: str
    name: str
    table: str | None = None
    """The table a trigger belongs to."""

    def describe(self, qualified: bool) -> str:
        name = f"{self.schema}.{self.name}" if qualified else self.name
        return f"{self.kind} {name}" + (f" on {self.table}" if self.table else "")


@dataclass(frozen=True)
class Realm:
    schemas: tuple[Schema, ...] = ()
    attrs: tuple[tuple[str, str], ...] = field(default=())
    unmanaged: tuple[Unmanaged, ...] = ()
    """Objects the desired state creates that the engine cannot manage yet. They count
    in the hash, so adding one is noticed, and are named in the status message."""
    objects: tuple[SchemaObject, ...] = ()
    """Objects of the database rather than of a schema (PostgreSQL event triggers),
    modelled in realm scope only."""
    dependencies: tuple[Dependency, ...] = field(default=(), compare=False)
    """What depends on what, as the database records it (ordering only: not compared)."""

    def schema(self, name: str) -> Schema | None:
        return find(self.schemas, name)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = to_json(self)
        return data

    def canonical_json(self) -> str:
        """One stable text per model: sorted keys, no whitespace, elements in model order."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    def sha256(self) -> bytes:
        return hashlib.sha256(self.canonical_json().encode()).digest()


N = TypeVar("N")


def find(items: Iterable[N], name: str) -> N | None:
    """The element called `name` (elements have a `name` attribute)."""
    for item in items:
        if getattr(item, "name", None) == name:
            return item
    return None


def to_json(value: Any) -> Any:
    """A model element as plain JSON data, leaving out fields that hold their default
    and fields that take no part in comparisons (rendered SQL, dependencies)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if not f.compare or item == field_default(f):
                continue
            out[f.name] = to_json(item)
        return out
    if isinstance(value, tuple):
        return [to_json(item) for item in value]
    return value


def field_default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING
