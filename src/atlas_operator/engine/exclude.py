"""Exclude patterns (`--exclude`, `spec.exclude`), with Atlas's semantics.

A pattern has 1–3 dot-separated parts (a part may be double-quoted to hold a
dot); each part is a glob, optionally ending in a type selector
`[type=table|column|…]`. In realm scope the parts address schema, table and
table element; in schema scope every pattern is prefixed with the bound schema.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from atlas_operator.engine.model import Realm, Schema, SchemaObject, Table, Unmanaged

SELECTOR = re.compile(r"\[type=([a-z_|]+)\]$")


class ExcludeError(ValueError):
    """A malformed exclude pattern."""


@dataclass(frozen=True)
class Part:
    glob: str
    types: frozenset[str] | None
    """None: the part applies to every type at its level."""

    def matches(self, name: str, kind: str) -> bool:
        if self.types is not None and kind not in self.types:
            return False
        return fnmatchcase(name, self.glob)


def parse_pattern(pattern: str) -> list[Part]:
    try:
        fields = next(csv.reader([pattern], delimiter="."))
    except (csv.Error, StopIteration) as err:
        raise ExcludeError(f"invalid exclude pattern {pattern!r}: {err}") from None
    if not 1 <= len(fields) <= 3 or any(not f for f in fields):
        raise ExcludeError(f"invalid exclude pattern {pattern!r}: expected 1 to 3 parts")
    parts = []
    for text in fields:
        types = None
        selector = SELECTOR.search(text)
        if selector:
            types = frozenset(selector.group(1).split("|"))
            text = text[: selector.start()]
        parts.append(Part(glob=text.replace("[^", "[!"), types=types))
    return parts


def exclude_realm(realm: Realm, patterns: tuple[str, ...], bound: str | None) -> Realm:
    """The realm without what the patterns exclude."""
    for pattern in patterns:
        parts = parse_pattern(pattern)
        if bound is not None:
            parts = [Part(glob=bound.replace("*", "[*]"), types=None), *parts]
            if len(parts) > 3:
                raise ExcludeError(f"invalid exclude pattern {pattern!r}: too many parts")
        realm = exclude_parts(realm, parts)
    return realm


def exclude_parts(realm: Realm, parts: list[Part]) -> Realm:
    schemas = []
    for schema in realm.schemas:
        if len(parts) == 1:
            if not parts[0].matches(schema.name, "schema"):
                schemas.append(schema)
        elif fnmatchcase(schema.name, parts[0].glob):
            schemas.append(exclude_in_schema(schema, parts[1:]))
        else:
            schemas.append(schema)
    unmanaged = tuple(u for u in realm.unmanaged if not unmanaged_excluded(u, parts))
    # Objects of the database (event triggers) answer to a one-part pattern that names
    # their type: `audit*[type=event_trigger]`.
    objects = tuple(
        o
        for o in realm.objects
        if not (len(parts) == 1 and parts[0].types is not None and parts[0].matches(o.name, o.kind))
    )
    return replace(realm, schemas=tuple(schemas), unmanaged=unmanaged, objects=objects)


def unmanaged_excluded(obj: Unmanaged, parts: list[Part]) -> bool:
    """Whether a pattern covers an object the engine does not model: its schema, the
    object itself (`schema.view`), or a trigger through its table (`s.table.trigger`).
    Type selectors name the kind with underscores (`materialized_view`) or by its
    first word (`materialized`)."""
    kinds = {obj.kind.replace(" ", "_"), obj.kind.split()[0]}
    if len(parts) == 1:
        return parts[0].matches(obj.schema, "schema")
    if not fnmatchcase(obj.schema, parts[0].glob):
        return False
    if len(parts) == 2:
        return any(parts[1].matches(obj.name, kind) for kind in kinds)
    return (
        obj.table is not None
        and parts[1].matches(obj.table, "table")
        and any(parts[2].matches(obj.name, kind) for kind in kinds)
    )


def object_kinds(obj: SchemaObject) -> tuple[str, ...]:
    """The type selectors an object answers to (`materialized` also as
    `materialized_view`, enums, domains and composites also as `type`)."""
    aliases = {"materialized": ("materialized_view",), "enum": ("type",), "domain": ("type",)}
    return (obj.kind, *aliases.get(obj.kind, ()), *(("type",) if obj.kind == "composite" else ()))


def object_name(obj: SchemaObject) -> str:
    """The name a pattern matches: a routine's without its argument list."""
    return obj.rendering("name") or obj.name.split("(", 1)[0]


def object_excluded(obj: SchemaObject, parts: list[Part], gone_tables: set[str]) -> bool:
    """`schema.name` (any object) or `schema.table.name` (a trigger or policy through
    its table); an object on an excluded table goes with it."""
    if obj.table is not None and obj.table in gone_tables:
        return True
    kinds = object_kinds(obj)
    if len(parts) == 1:
        return any(parts[0].matches(object_name(obj), k) for k in kinds)
    return (
        obj.table is not None
        and fnmatchcase(obj.table, parts[0].glob)
        and any(parts[1].matches(obj.name, k) for k in kinds)
    )


def exclude_objects(schema: Schema, parts: list[Part], gone_tables: set[str]) -> Schema:
    kept = tuple(o for o in schema.objects if not object_excluded(o, parts, gone_tables))
    return replace(schema, objects=kept)


def exclude_in_schema(schema: Schema, parts: list[Part]) -> Schema:
    gone = {t.name for t in schema.tables if len(parts) == 1 and parts[0].matches(t.name, "table")}
    return exclude_objects(exclude_tables_in_schema(schema, parts), parts, gone)


def exclude_tables_in_schema(schema: Schema, parts: list[Part]) -> Schema:
    if len(parts) == 1:
        kept = tuple(t for t in schema.tables if not parts[0].matches(t.name, "table"))
        dropped = {t.name for t in schema.tables} - {t.name for t in kept}
        # Foreign keys into excluded tables go too: they reference nothing we manage.
        kept = tuple(
            replace(
                t,
                foreign_keys=tuple(
                    f
                    for f in t.foreign_keys
                    if not (f.ref_table in dropped and f.ref_schema in (None, schema.name))
                ),
            )
            for t in kept
        )
        return replace(schema, tables=kept)
    tables = tuple(
        exclude_in_table(t, parts[1]) if fnmatchcase(t.name, parts[0].glob) else t
        for t in schema.tables
    )
    return replace(schema, tables=tables)


def exclude_in_table(table: Table, part: Part) -> Table:
    columns = tuple(c for c in table.columns if not part.matches(c.name, "column"))
    gone = {c.name for c in table.columns} - {c.name for c in columns}
    indexes = tuple(
        i
        for i in table.indexes
        if not part.matches(i.name, "index") and not (set(i.columns) & gone)
    )
    fks = tuple(
        f
        for f in table.foreign_keys
        if not part.matches(f.name, "fk") and not (set(f.columns) & gone)
    )
    checks = tuple(c for c in table.checks if not (c.name and part.matches(c.name, "check")))
    pk = table.primary_key
    if pk is not None and set(pk.columns) & gone:
        pk = None
    return replace(
        table, columns=columns, indexes=indexes, foreign_keys=fks, checks=checks, primary_key=pk
    )
