"""Atlas HCL desired states → the SQL that creates them on a dev database.

python-hcl2 parses the text; this module evaluates Atlas's schema and table blocks and
their references (`schema.public`, `column.id`, `table.users.column.id`, `sql("…")`,
`enum.status`) into a Realm, and `hcl_objects` the other blocks (views, routines,
triggers, types, sequences, extensions, policies, partitions) into statements. The result
is normalised like a SQL desired state: run on the dev database and inspected, so both
sides of the diff are in database normal form. Attributes outside the grammar raise
`HCLError` naming the block and attribute.

The statements run in an order that works: schemas; then the objects tables may use
(extensions, types, sequences, routines); then the tables (as the driver plans them,
with PostgreSQL's partition keys and row-level security); then the objects that use
tables (views in `depends_on` order, partitions, triggers, policies, sequence owners).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import hcl2

from atlas_operator.engine.hcl_context import (
    DEPENDABLE,
    Context,
    Node,
    Ref,
    Target,
    required,
)
from atlas_operator.engine.hcl_objects import GRAMMARS, KINDS, object_nodes, order_nodes
from atlas_operator.engine.hcl_syntax import (
    BOOL,
    INT,
    LITERAL,
    REF,
    REFERENCE,
    REFERENCES,
    SOURCE,
    STRING,
    STRINGS,
    TYPE,
    WORD,
    Grammar,
    HCLError,
    check_body,
    column_refs,
    inner_blocks,
    is_block_list,
    keyword,
    labelled,
    literal,
    reference_name,
    string_attr,
    unlabelled,
    unquote,
)
from atlas_operator.engine.model import (
    Check,
    Column,
    ForeignKey,
    Generated,
    Identity,
    Index,
    IndexPart,
    PrimaryKey,
    Realm,
    Schema,
    Table,
)
from atlas_operator.engine.statements import Dialect

__all__ = ["SOURCE", "HCLError", "hcl_to_sql", "parse_desired", "parse_hcl"]

SUPPORTED_BLOCKS = ("schema", "table", *KINDS)

# --- the grammar of schemas and tables ----------------------------------------------------
#
# Each block kind lists its attributes with the kind of value they take, and the blocks
# it may hold. Anything else is an error naming the block: an attribute the engine would
# ignore (`unsigned = true`) or misread (`null = "yes"`) must not pass silently.

TABLES = Grammar(
    attributes={
        "schema": {"charset": STRING, "collate": STRING, "comment": STRING},
        "table": {"schema": REFERENCE, "comment": STRING, "depends_on": REFERENCES},
        "column": {
            "type": TYPE,
            "null": BOOL,
            "default": LITERAL,
            "auto_increment": BOOL,
            "comment": STRING,
            "charset": STRING,
            "collate": STRING,
        },
        "as": {"expr": STRING, "type": WORD},
        "identity": {"generated": WORD, "start": INT, "increment": INT},
        "primary_key": {"columns": REFERENCES},
        "index": {
            "columns": REFERENCES,
            "unique": BOOL,
            "type": WORD,
            "where": STRING,
            "comment": STRING,
        },
        "on": {"column": REFERENCE, "expr": STRING, "desc": BOOL},
        "foreign_key": {
            "columns": REFERENCES,
            "ref_columns": REFERENCES,
            "on_update": WORD,
            "on_delete": WORD,
        },
        "check": {"expr": STRING},
        "partition": {"type": WORD, "columns": REFERENCES},
        "partition.partition": {
            "values_less_than": STRINGS,
            "values_in": STRINGS,
            "comment": STRING,
        },
        "by": {"column": REFERENCE, "expr": STRING},
        "row_security": {"enabled": BOOL, "enforced": BOOL},
    },
    blocks={
        "table": (
            "column",
            "primary_key",
            "index",
            "foreign_key",
            "check",
            "partition",
            "row_security",
        ),
        "column": ("as", "identity"),
        "index": ("on",),
        "partition": ("by", "partition"),
    },
    single=frozenset({"primary_key", "as", "identity", "table.partition", "row_security"}),
)
PARTITION_TYPES = ("RANGE", "LIST", "HASH")
MYSQL_PARTITION_TYPES = ("RANGE", "LIST", "HASH", "KEY")


@dataclass(frozen=True)
class Desired:
    """What an HCL document creates: the realm of schemas and tables, the other objects
    as statements, and what the table statements need besides the driver's plan."""

    realm: Realm
    before: tuple[Node, ...] = ()
    """Objects that run before the tables (types, sequences, routines), in order."""
    after: tuple[Node, ...] = ()
    """Objects that run after the tables (views, triggers, …), in order."""
    partition_keys: tuple[tuple[str, str, str], ...] = ()
    """(where, the CREATE TABLE head the driver plans, `PARTITION BY …`) per table."""


def parse_hcl(text: str) -> Realm:
    """The realm an HCL document describes (its other objects checked as for
    PostgreSQL); every error names the block (and attribute)."""
    return parse_desired(text, Target(Dialect.POSTGRES, qualify=True)).realm


def parse_desired(text: str, target: Target) -> Desired:
    """Everything an HCL document creates, with SQL for `target`."""
    try:
        return evaluate(load_document(text), target)
    except HCLError as err:
        message = str(err)
        if message.startswith(f"{SOURCE}:"):
            raise
        raise HCLError(f"{SOURCE}: {message}") from None


def load_document(text: str) -> dict[str, Any]:
    """python-hcl2's dict of the text, after refusing attributes defined twice in one
    block (python-hcl2 would silently keep the last one)."""
    try:
        tree = hcl2.parses_to_tree(text)
    except Exception as err:  # python-hcl2 raises lark errors of many kinds
        raise HCLError(f"{SOURCE}: {first_line(err)}") from None
    refuse_redefined_attributes(tree)
    try:
        document: dict[str, Any] = hcl2.serialize(hcl2.transform(tree))
    except Exception as err:  # a construct the transformer does not handle
        raise HCLError(f"{SOURCE}: {first_line(err)}") from None
    return document


def first_line(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def refuse_redefined_attributes(tree: Any) -> None:
    for body in tree.iter_subtrees():
        if body.data != "body":
            continue
        seen: set[str] = set()
        for child in body.children:
            if getattr(child, "data", None) != "attribute":
                continue
            name = "".join(str(token) for token in child.children[0].scan_values(lambda _: True))
            if name in seen:
                line = getattr(child.meta, "line", "?")
                raise HCLError(f'{SOURCE}: line {line}: attribute "{name}" is defined twice')
            seen.add(name)


def evaluate(document: dict[str, Any], target: Target) -> Desired:
    unknown = set(document) - set(SUPPORTED_BLOCKS)
    if unknown:
        raise HCLError(
            f"{SOURCE}: block(s) {', '.join(sorted(unknown))} are not supported yet "
            f"(supported: {', '.join(SUPPORTED_BLOCKS)})"
        )
    for key, value in document.items():
        if not is_block_list(value):
            raise HCLError(f'{SOURCE}: "{key}" must be a block, not a top-level attribute')
    ctx = Context(document, target, GRAMMARS[target.dialect], tuple(KINDS))
    schemas = schemas_from(document)
    tables = Tables({s.name: [] for s in schemas})
    for name, body in labelled(document.get("table", []), "table", ""):
        tables.add(name, body, ctx)
    before, after = order_nodes([*tables.nodes, *object_nodes(document, ctx)], tables.deps)
    realm = Realm(schemas=tuple(replace(s, tables=tuple(tables.of[s.name])) for s in schemas))
    return Desired(realm, tuple(before), tuple(after), tuple(tables.keys))


def schemas_from(document: dict[str, Any]) -> list[Schema]:
    schemas: dict[str, Schema] = {}
    for name, body in labelled(document.get("schema", []), "schema", ""):
        where = f'schema "{name}"'
        check_body(body, "schema", where, TABLES)
        if name in schemas:
            raise HCLError(f"{where}: defined twice")
        schemas[name] = Schema(
            name=name,
            charset=string_attr(body, "charset", where),
            collation=string_attr(body, "collate", where),
            comment=string_attr(body, "comment", where),
        )
    return list(schemas.values())


# --- tables -------------------------------------------------------------------------------


@dataclass
class Tables:
    """The document's tables per schema, and what their statements need besides the
    driver's plan: row-level security (nodes), partition keys and their dependencies."""

    of: dict[str, list[Table]]
    nodes: list[Node] = field(default_factory=list)
    keys: list[tuple[str, str, str]] = field(default_factory=list)
    deps: list[tuple[str, frozenset[Ref]]] = field(default_factory=list)
    """(where, the blocks it needs first) per table: column types and `depends_on`."""

    def add(self, name: str, body: dict[str, Any], ctx: Context) -> None:
        where, deps = f'table "{name}"', set[Ref]()
        check_body(body, "table", where, TABLES)
        schema = reference_name(body.get("schema"), "schema", where)
        if schema not in self.of:
            raise HCLError(f'{where}: schema "{schema}" is not defined')
        if any(t.name == name for t in self.of[schema]):
            raise HCLError(f'{where}: defined twice in schema "{schema}"')
        table = table_from(name, body, where, ctx, deps)
        self.of[schema].append(table)
        ctx.references(body.get("depends_on"), DEPENDABLE, f'{where}: attribute "depends_on"', deps)
        self.deps.append((where, frozenset(deps)))
        sql = ctx.target.name(schema, name)
        key = partition_key(body, where, table, ctx)
        if key is not None:
            self.keys.append((where, f"CREATE TABLE {sql} (", key))
        self.nodes.extend(row_security(body, where, sql, name, ctx))


def table_from(name: str, body: dict[str, Any], where: str, ctx: Context, deps: set[Ref]) -> Table:
    """The table; `deps` gets the types its columns reference (enums, domains, …)."""
    columns = tuple(
        column_from(n, b, where, ctx, deps) for n, b in inner_blocks(body, "column", where, TABLES)
    )
    pk = None
    for block in unlabelled(body, "primary_key", where, TABLES):
        pk = PrimaryKey(columns=column_refs(block.get("columns"), f"{where}: primary_key"))
    indexes = tuple(index_from(n, b, where) for n, b in inner_blocks(body, "index", where, TABLES))
    fks = tuple(
        foreign_key_from(n, b, where) for n, b in inner_blocks(body, "foreign_key", where, TABLES)
    )
    checks = tuple(
        Check(name=n, expr=string_attr(b, "expr", f'{where}: check "{n}"') or "")
        for n, b in inner_blocks(body, "check", where, TABLES)
    )
    return Table(
        name=name,
        columns=columns,
        primary_key=pk,
        indexes=indexes,
        foreign_keys=fks,
        checks=checks,
        comment=string_attr(body, "comment", where),
    )


def column_default(value: Any) -> str:
    """HCL values → SQL literals: strings quoted, `sql("expr")` raw, numbers and bools as is."""
    return literal(value, lambda text: "'" + text.replace("'", "''") + "'")


def column_from(
    name: str, body: dict[str, Any], table: str, ctx: Context, deps: set[Ref]
) -> Column:
    where = f'{table}: column "{name}"'
    if "type" not in body:
        raise HCLError(f"{where}: the type attribute is required")
    generated = None
    for block in unlabelled(body, "as", where, TABLES):
        kind = unquote(block.get("type", "STORED")).upper()
        expr = string_attr(block, "expr", f"{where}: as") or ""
        generated = Generated(expr=expr, stored=kind == "STORED")
    identity = None
    for block in unlabelled(body, "identity", where, TABLES):
        identity = Identity(
            always=unquote(block.get("generated", "BY_DEFAULT")).upper() == "ALWAYS",
            start=int(block.get("start", 1)),
            increment=int(block.get("increment", 1)),
        )
    return Column(
        name=name,
        type=ctx.type(body["type"], f'{where}: attribute "type"', deps),
        # Atlas HCL columns are NOT NULL unless `null = true`.
        nullable=bool(body.get("null", False)),
        default=column_default(body["default"]) if "default" in body else None,
        auto_increment=bool(body.get("auto_increment", False)),
        identity=identity,
        generated=generated,
        comment=string_attr(body, "comment", where),
        charset=string_attr(body, "charset", where),
        collation=string_attr(body, "collate", where),
    )


def index_from(name: str, body: dict[str, Any], table: str) -> Index:
    where = f'{table}: index "{name}"'
    parts: list[IndexPart] = []
    if "columns" in body:
        parts.extend(IndexPart(column=c) for c in column_refs(body["columns"], where))
    for block in unlabelled(body, "on", where, TABLES):
        desc = bool(block.get("desc", False))
        if "expr" in block:
            parts.append(IndexPart(expr=string_attr(block, "expr", f"{where}: on"), desc=desc))
        else:
            column = reference_name(block.get("column"), "column", f"{where}: on")
            parts.append(IndexPart(column=column, desc=desc))
    if not parts:
        raise HCLError(f"{where}: an index needs columns or on blocks")
    method = unquote(body["type"]) if "type" in body else None
    return Index(
        name=name,
        parts=tuple(parts),
        unique=bool(body.get("unique", False)),
        method=method.lower() if method and method.upper() != "BTREE" else None,
        where=string_attr(body, "where", where),
        comment=string_attr(body, "comment", where),
    )


def foreign_key_from(name: str, body: dict[str, Any], table: str) -> ForeignKey:
    where = f'{table}: foreign_key "{name}"'
    refs = body.get("ref_columns") or []
    if not refs:
        raise HCLError(f"{where}: ref_columns is required")
    paths = [str(REF.match(r).group(1)).split(".") for r in refs]  # type: ignore[union-attr]
    first = paths[0]
    if len(first) < 4 or first[0] != "table" or first[-2] != "column":
        raise HCLError(f"{where}: ref_columns must look like table.<name>.column.<column>")
    return ForeignKey(
        name=name,
        columns=column_refs(body.get("columns"), where),
        ref_table=first[1].strip('"'),
        ref_columns=tuple(path[-1] for path in paths),
        on_update=action(body.get("on_update")),
        on_delete=action(body.get("on_delete")),
    )


def action(value: Any) -> str:
    if value is None:
        return "NO ACTION"
    return unquote(value).replace("_", " ").upper()


def partition_key(body: dict[str, Any], where: str, table: Table, ctx: Context) -> str | None:
    """`PARTITION BY RANGE ("a", (floor(b)))` of a `partition` block (PostgreSQL)."""
    blocks = unlabelled(body, "partition", where, TABLES)
    if not blocks:
        return None
    at = f"{where}: partition"
    if ctx.target.dialect == Dialect.MYSQL:
        return mysql_partitioning(blocks[0], at, table, ctx)
    if ctx.target.dialect != Dialect.POSTGRES:
        raise HCLError(f"{at}: table partitioning is supported on PostgreSQL and MySQL only")
    block = blocks[0]
    if "partition" in block:
        raise HCLError(
            f"{at}: a PostgreSQL table's partitions are top-level partition blocks"
            ' (partition "name" {{ of = table.x … }})'
        )
    kind = keyword(required(block, "type", at), PARTITION_TYPES, f'{at}: attribute "type"')
    columns = list(column_refs(block["columns"], at)) if "columns" in block else []
    by = unlabelled(block, "by", at, TABLES)
    if bool(columns) == bool(by):
        raise HCLError(f"{at}: give the key as columns or as by blocks (one of them)")
    parts = [ctx.target.ident(c) for c in columns]
    for part in by:
        if ("column" in part) == ("expr" in part):
            raise HCLError(f"{at}: by: give a column or an expr (one of them)")
        if "expr" in part:
            parts.append(f"({unquote(part['expr'])})")
        else:
            columns.append(reference_name(part["column"], "column", f"{at}: by"))
            parts.append(ctx.target.ident(columns[-1]))
    for column in columns:
        if table.column(column) is None:
            raise HCLError(f'{at}: column "{column}" is not defined in the table')
    return f"PARTITION BY {kind} ({', '.join(parts)})"


def mysql_partitioning(block: dict[str, Any], at: str, table: Table, ctx: Context) -> str:
    """`PARTITION BY …` of Atlas's MySQL `partition` block: the key as `columns` (RANGE
    COLUMNS, LIST COLUMNS, KEY; one column for HASH) or one `by` part (an expression or a
    column, for RANGE, LIST and HASH), then the partitions as `partition "name"` blocks
    with `values_less_than` (RANGE), `values_in` (LIST) and `comment`. LINEAR variants,
    KEY ALGORITHM, `PARTITIONS n` and subpartitions have no HCL here: write them in SQL."""
    kind = keyword(required(block, "type", at), MYSQL_PARTITION_TYPES, f'{at}: attribute "type"')
    columns = list(column_refs(block["columns"], at)) if "columns" in block else []
    by = unlabelled(block, "by", at, TABLES)
    if bool(columns) == bool(by) or len(by) > 1:
        raise HCLError(f"{at}: give the key as columns or as one by block (one of them)")
    for column in columns:
        if table.column(column) is None:
            raise HCLError(f'{at}: column "{column}" is not defined in the table')
    listed = ",".join(ctx.target.ident(c) for c in columns)
    if by:
        if ("column" in by[0]) == ("expr" in by[0]):
            raise HCLError(f"{at}: by: give a column or an expr (one of them)")
        if kind == "KEY":
            raise HCLError(f"{at}: KEY partitioning takes columns, not an expression")
        expr = by[0].get("expr")
        key = (
            unquote(expr)
            if expr
            else ctx.target.ident(reference_name(by[0]["column"], "column", at))
        )
        head = f"{kind} ({key})"
    elif kind in ("RANGE", "LIST"):
        head = f"{kind} COLUMNS({listed})"
    elif kind == "HASH" and len(columns) > 1:
        raise HCLError(f"{at}: HASH partitioning takes one column or an expression")
    else:
        head = f"{kind} ({listed})"
    parts = [
        mysql_partition(n, b, kind, bool(columns), at, ctx)
        for n, b in inner_blocks(block, "partition", at, TABLES, spec="partition.partition")
    ]
    if kind in ("RANGE", "LIST") and not parts:
        raise HCLError(f'{at}: {kind} partitioning needs its partition "name" blocks')
    return f"PARTITION BY {head}" + (f" ({', '.join(parts)})" if parts else "")


def mysql_partition(
    name: str, body: dict[str, Any], kind: str, by_columns: bool, at: str, ctx: Context
) -> str:
    """One `PARTITION name VALUES …` of a MySQL `partition` block."""
    where = f'{at}: partition "{name}"'
    wanted = {"RANGE": "values_less_than", "LIST": "values_in"}.get(kind)
    for attr in ("values_less_than", "values_in"):
        if attr in body and attr != wanted:
            raise HCLError(f'{where}: attribute "{attr}" does not apply to {kind} partitioning')
    if wanted is not None and wanted not in body:
        raise HCLError(f'{where}: attribute "{wanted}" is required')
    sql = f"PARTITION {ctx.target.ident(name)}"
    if wanted is not None:
        values = [unquote(v) for v in body[wanted]]
        clause = "VALUES LESS THAN" if kind == "RANGE" else "VALUES IN"
        if kind == "RANGE" and not by_columns and values == ["MAXVALUE"]:
            sql += f" {clause} MAXVALUE"  # RANGE (expr) takes it bare
        else:
            sql += f" {clause} ({', '.join(values)})"
    comment = string_attr(body, "comment", where)
    if comment is not None:
        sql += f" COMMENT {ctx.target.string(comment)}"
    return sql


def row_security(body: dict[str, Any], where: str, sql: str, name: str, ctx: Context) -> list[Node]:
    """ALTER TABLE … ENABLE / FORCE ROW LEVEL SECURITY of a `row_security` block."""
    blocks = unlabelled(body, "row_security", where, TABLES)
    if not blocks:
        return []
    if ctx.target.dialect != Dialect.POSTGRES:
        raise HCLError(f"{where}: row_security is supported on PostgreSQL only")
    flags = (("enabled", "ENABLE"), ("enforced", "FORCE"))
    statements = tuple(
        f"ALTER TABLE {sql} {verb} ROW LEVEL SECURITY" for key, verb in flags if blocks[0].get(key)
    )
    if not statements:
        return []
    return [Node.of("row_security", name, where, statements, [("table", name)], after_tables=True)]


def hcl_to_sql(
    text: str,
    driver: Any,
    target_bound: str | None,
    dev_bound: str | None,
    source: str = SOURCE,
) -> str:
    """The DDL that creates the HCL's objects on an empty dev database of `driver`.

    In schema scope the HCL must hold exactly one schema, named like the target's
    (Atlas: "mismatched HCL and database schemas"); its tables are created
    unqualified in the dev database's own schema. Errors name `source` (the file)."""
    try:
        return render_hcl(text, driver, target_bound, dev_bound)
    except HCLError as err:
        message = str(err)
        if source != SOURCE and message.startswith(f"{SOURCE}:"):
            raise HCLError(source + message[len(SOURCE) :]) from None
        raise


def render_hcl(text: str, driver: Any, target_bound: str | None, dev_bound: str | None) -> str:
    from atlas_operator.engine.changes import AddSchema, ModifySchema
    from atlas_operator.engine.diff import diff_realms, diff_schemas
    from atlas_operator.engine.drivers.base import Scope

    desired = parse_desired(text, Target(driver.dialect, qualify=target_bound is None))
    realm = desired.realm
    if target_bound is not None:
        if len(realm.schemas) != 1:
            raise HCLError(
                f"schema.hcl: the target is bound to schema {target_bound!r}, so the HCL must "
                f"define exactly one schema (found {len(realm.schemas)})"
            )
        (schema,) = realm.schemas
        if schema.name != target_bound and not driver.case_insensitive_names:
            raise HCLError(
                f'mismatched HCL and database schemas: "{schema.name}" <> "{target_bound}"'
            )
        bound = dev_bound or target_bound
        scope = Scope(bound=bound)
        changes = diff_schemas(Schema(bound), replace(schema, name=bound))
    else:
        scope = Scope()
        changes = [
            c
            for c in diff_realms(Realm(), realm)
            # `public` exists on every clean PostgreSQL dev database.
            if not (isinstance(c, AddSchema) and c.schema.name == "public")
        ]
    schema_changes = [c for c in changes if isinstance(c, AddSchema | ModifySchema)]
    table_changes = [c for c in changes if not isinstance(c, AddSchema | ModifySchema)]
    tables = [s.sql for s in driver.plan(table_changes, scope)]
    statements = [
        *(s.sql for s in driver.plan(schema_changes, scope)),
        *(s for node in desired.before for s in node.statements),
        *with_partition_keys(tables, desired.partition_keys),
        *(s for node in desired.after for s in node.statements),
    ]
    return "\n".join(s.rstrip().rstrip(";") + ";" for s in statements)


def with_partition_keys(statements: list[str], keys: tuple[tuple[str, str, str], ...]) -> list[str]:
    """The driver's CREATE TABLE statements, with their `PARTITION BY` appended."""
    out = list(statements)
    for where, head, key in keys:
        found = [i for i, sql in enumerate(out) if sql.startswith(head)]
        if len(found) != 1:
            raise HCLError(f"{SOURCE}: {where}: partition: no CREATE TABLE to add the key to")
        out[found[0]] = f"{out[found[0]]} {key}"
    return out
