"""Builders of PostgreSQL's types, sequences, extensions and partitions (see
engine/hcl_objects.py): `enum`, `domain`, `composite`, `sequence`, `extension`, and
`partition` (a partition of a partitioned table)."""

from __future__ import annotations

from typing import Any

from atlas_operator.engine.hcl_context import Context, Node, Ref, required
from atlas_operator.engine.hcl_syntax import HCLError, unquote

# --- PostgreSQL types, sequences and extensions -------------------------------------------


def enum_nodes(name: str, body: dict[str, Any], ctx: Context) -> list[Node]:
    where = f'enum "{name}"'
    ctx.check(body, "enum", where)
    sql = ctx.target.name(ctx.schema(body, where), name)
    values = ", ".join(ctx.target.string(unquote(v)) for v in required(body, "values", where))
    statements = [f"CREATE TYPE {sql} AS ENUM ({values})", *ctx.comment(body, f"TYPE {sql}")]
    return [Node.of("enum", name, where, statements)]


def domain_nodes(name: str, body: dict[str, Any], ctx: Context) -> list[Node]:
    where, deps = f'domain "{name}"', set[Ref]()
    ctx.check(body, "domain", where)
    sql = ctx.target.name(ctx.schema(body, where), name)
    parts = [f"CREATE DOMAIN {sql} AS {ctx.type(required(body, 'type', where), where, deps)}"]
    if "default" in body:
        parts.append(f"DEFAULT {ctx.literal(body['default'])}")
    if not body.get("null", False):  # as columns: NOT NULL unless `null = true`
        parts.append("NOT NULL")
    comments = ctx.comment(body, f"DOMAIN {sql}")
    for check, inner in ctx.children(body, "check", where, "domain.check"):
        at = f'{where}: check "{check}"' if check else f"{where}: check"
        expr = ctx.text(required(inner, "expr", at), at, deps)
        named = f"CONSTRAINT {ctx.target.ident(check)} " if check else ""
        parts.append(f"{named}CHECK ({expr})")
        if check:
            comments += ctx.comment(inner, f"CONSTRAINT {ctx.target.ident(check)} ON DOMAIN {sql}")
    statements = (" ".join(parts), *comments)
    return [Node.of("domain", name, where, statements, deps)]


def composite_nodes(name: str, body: dict[str, Any], ctx: Context) -> list[Node]:
    where, deps = f'composite "{name}"', set[Ref]()
    ctx.check(body, "composite", where)
    sql = ctx.target.name(ctx.schema(body, where), name)
    fields = []
    for field_name, inner in ctx.children(body, "field", where, "composite.field"):
        if field_name is None:
            raise HCLError(f"{where}: a field block needs a name")
        at = f'{where}: field "{field_name}"'
        parts = [ctx.target.ident(field_name), ctx.type(required(inner, "type", at), at, deps)]
        if "collate" in inner:
            parts.append(f"COLLATE {ctx.target.ident(unquote(inner['collate']))}")
        fields.append(" ".join(parts))
    statements = (f"CREATE TYPE {sql} AS ({', '.join(fields)})", *ctx.comment(body, f"TYPE {sql}"))
    return [Node.of("composite", name, where, statements, deps)]


SEQUENCE_OPTIONS = (
    ("increment", "INCREMENT BY"), ("min_value", "MINVALUE"), ("max_value", "MAXVALUE"),
    ("start", "START WITH"), ("cache", "CACHE"),
)  # fmt: skip


def sequence_nodes(name: str, body: dict[str, Any], ctx: Context) -> list[Node]:
    where, deps = f'sequence "{name}"', set[Ref]()
    ctx.check(body, "sequence", where)
    sql = ctx.target.name(ctx.schema(body, where), name)
    parts = [f"CREATE SEQUENCE {sql}"]
    if "type" in body:
        parts.append(f"AS {ctx.type(body['type'], where, deps)}")
    parts.extend(f"{clause} {body[key]}" for key, clause in SEQUENCE_OPTIONS if key in body)
    if body.get("cycle"):
        parts.append("CYCLE")
    statements = (" ".join(parts), *ctx.comment(body, f"SEQUENCE {sql}"))
    nodes = [Node.of("sequence", name, where, statements, deps)]
    if "owner" in body:
        at, owner_deps = f'{where}: attribute "owner"', {("sequence", name)}
        table, column = ctx.column(body["owner"], ("table",), at, owner_deps)
        owned = f"ALTER SEQUENCE {sql} OWNED BY {ctx.sql(table)}.{ctx.target.ident(column)}"
        nodes.append(Node.of("owner", name, where, [owned], owner_deps))
    return nodes


def extension_nodes(name: str, body: dict[str, Any], ctx: Context) -> list[Node]:
    """An extension is created in its schema; in schema scope, in the bound schema (the
    engine manages the extensions installed in the schemas in scope, so leaving it out
    would plan its drop). `comment` is what the extension says of itself (read-only in
    Atlas)."""
    where, deps = f'extension "{name}"', set[Ref]()
    ctx.check(body, "extension", where)
    schema = ctx.schema(body, where, required=False)
    at = f'{where}: attribute "depends_on"'
    ctx.references(body.get("depends_on"), ("extension",), at, deps)
    parts = [f"CREATE EXTENSION IF NOT EXISTS {ctx.target.ident(name)}"]
    if schema is not None and ctx.target.qualify:
        parts.append(f"SCHEMA {ctx.target.ident(schema)}")
    if "version" in body:
        parts.append(f"VERSION {ctx.target.string(unquote(body['version']))}")
    statement = " ".join(parts)
    return [Node.of("extension", name, where, [statement], deps)]


# --- partitions ---------------------------------------------------------------------------


def partition_nodes(name: str, body: dict[str, Any], ctx: Context) -> list[Node]:
    """A partition of a partitioned table: CREATE TABLE … PARTITION OF … FOR VALUES."""
    where, deps = f'partition "{name}"', set[Ref]()
    ctx.check(body, "partition", where)
    sql = ctx.target.name(ctx.schema(body, where), name)
    parent = ctx.reference(
        required(body, "of", where), ("table",), f'{where}: attribute "of"', deps
    )
    given = [k for k in ("range", "list", "hash") if k in body]
    if len(given) != 1:
        raise HCLError(f"{where}: a partition needs one of the blocks range, list, hash")
    bound = ctx.single(body, given[0], where, f"partition.{given[0]}")
    at = f"{where}: {given[0]}"
    if given[0] == "range":
        low, high = (", ".join(unquote(v) for v in required(bound, k, at)) for k in ("from", "to"))
        values = f"FROM ({low}) TO ({high})"
    elif given[0] == "list":
        values = f"IN ({', '.join(unquote(v) for v in required(bound, 'in', at))})"
    else:
        modulus, remainder = (required(bound, k, at) for k in ("modulus", "remainder"))
        values = f"WITH (MODULUS {modulus}, REMAINDER {remainder})"
    statements = (
        f"CREATE TABLE {sql} PARTITION OF {ctx.sql(parent)} FOR VALUES {values}",
        *ctx.comment(body, f"TABLE {sql}"),
    )
    return [Node.of("partition", name, where, statements, deps, after_tables=True)]
