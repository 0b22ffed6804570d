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
    """PostgreSQL: the index backs a UNIQUE constraint (dropped with ALTER TABLE)."""

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(p.column for p in self.parts if p.column is not None)


@dataclass(frozen=True)
class PrimaryKey:
    columns: tuple[str, ...]
    name: str | None = None


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


@dataclass(frozen=True)
class Check:
    name: str | None
    expr: str


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

    def table(self, name: str) -> Table | None:
        return find(self.tables, name)


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
    """A model element as plain JSON data, leaving out fields that hold their default."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item == field_default(f):
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
