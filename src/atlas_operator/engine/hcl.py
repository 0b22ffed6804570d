"""Atlas HCL desired states (the common subset of engine.md §6) → schema model.

python-hcl2 parses the text; this module evaluates Atlas's blocks and references
(`schema.public`, `column.id`, `table.users.column.id`, `sql("…")`) into a Realm.
The result is then normalised like a SQL desired state: rendered as DDL, run on the
dev database and inspected, so both sides of the diff are in database normal form.
Attributes outside the subset raise `HCLError` naming the block and attribute.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import hcl2

from atlas_operator.engine.drivers.base import EngineError
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

REF = re.compile(r"^\$\{(.*)\}$", re.DOTALL)
SQL_CALL = re.compile(r'^sql\((".*")\)$', re.DOTALL)
HEREDOC = re.compile(r'^"<<-?(\w+)\n(.*?)\n?\s*\1"$', re.DOTALL)
SUPPORTED_BLOCKS = {"schema", "table"}
SOURCE = "schema.hcl"
"""How messages name the document: it may come from a file, a ConfigMap key or the spec."""


class HCLError(EngineError):
    """An Atlas HCL document this engine cannot evaluate."""


# --- the attributes and blocks of the supported subset -----------------------------------
#
# Each block kind lists its attributes with the kind of value they take, and the blocks
# it may hold. Anything else is an error naming the block: an attribute the engine would
# ignore (`unsigned = true`) or misread (`null = "yes"`) must not pass silently.

BOOL, STRING, INT, WORD, TYPE, REFERENCE, REFERENCES, LITERAL = (
    "a bool",
    "a string",
    "an integer",
    "a keyword or a string",
    'a type such as int or sql("…")',
    "a reference",
    "a list of references",
    "a literal or sql(…)",
)
ATTRIBUTES: dict[str, dict[str, str]] = {
    "schema": {"charset": STRING, "collate": STRING, "comment": STRING},
    "table": {"schema": REFERENCE, "comment": STRING},
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
}
# block kind -> {inner block kind: labelled}
BLOCKS: dict[str, dict[str, bool]] = {
    "table": {
        "column": True,
        "primary_key": False,
        "index": True,
        "foreign_key": True,
        "check": True,
    },
    "column": {"as": False, "identity": False},
    "index": {"on": False},
}
SINGLE_BLOCKS = frozenset({"primary_key", "as", "identity"})


def parse_hcl(text: str) -> Realm:
    """The realm an HCL document describes; every error names the block (and attribute)."""
    try:
        return evaluate(load_document(text))
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


def evaluate(document: dict[str, Any]) -> Realm:
    unknown = set(document) - SUPPORTED_BLOCKS
    if unknown:
        raise HCLError(
            f"{SOURCE}: block(s) {', '.join(sorted(unknown))} are not supported yet "
            "(supported: schema, table)"
        )
    schemas: dict[str, Schema] = {}
    for name, body in labelled(document.get("schema", []), "schema", ""):
        where = f'schema "{name}"'
        check_body(body, "schema", where)
        if name in schemas:
            raise HCLError(f"{where}: defined twice")
        schemas[name] = Schema(
            name=name,
            charset=string_attr(body, "charset", where),
            collation=string_attr(body, "collate", where),
            comment=string_attr(body, "comment", where),
        )
    tables: dict[str, list[Table]] = {name: [] for name in schemas}
    for name, body in labelled(document.get("table", []), "table", ""):
        where = f'table "{name}"'
        check_body(body, "table", where)
        schema = reference_name(body.get("schema"), "schema", where)
        if schema not in schemas:
            raise HCLError(f'{where}: schema "{schema}" is not defined')
        if any(t.name == name for t in tables[schema]):
            raise HCLError(f'{where}: defined twice in schema "{schema}"')
        tables[schema].append(table_from(name, body, where))
    return Realm(schemas=tuple(replace(s, tables=tuple(tables[s.name])) for s in schemas.values()))


def is_block_list(value: Any) -> bool:
    """python-hcl2's shape of blocks: a list of bodies (marked `__is_block__`), or for
    labelled blocks, of `{label: body}` mappings."""
    return isinstance(value, list) and all(is_block(item) for item in value)


def is_block(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    if item.get("__is_block__"):
        return True
    return bool(item) and all(is_block(body) for body in item.values())


def check_body(body: dict[str, Any], kind: str, where: str) -> None:
    """Every key of a block is a known attribute with a value of its kind, or a known
    inner block; the first exception is raised, naming the block and the key."""
    attributes, blocks = ATTRIBUTES.get(kind, {}), BLOCKS.get(kind, {})
    for key, value in body.items():
        if key == "__is_block__":
            continue
        if key in blocks:
            if not is_block_list(value):
                raise HCLError(f'{where}: "{key}" must be a block, not an attribute')
            if key in SINGLE_BLOCKS and len(value) > 1:
                raise HCLError(f"{where}: {key} block defined twice")
            continue
        if key not in attributes:
            noun = "block" if is_block_list(value) else "attribute"
            raise HCLError(f'{where}: unknown {noun} "{key}" (supported: {supported(kind)})')
        check_value(value, attributes[key], f'{where}: attribute "{key}"')


def supported(kind: str) -> str:
    return ", ".join([*ATTRIBUTES.get(kind, {}), *BLOCKS.get(kind, {})]) or "none"


def check_value(value: Any, expected: str, where: str) -> None:
    if not value_matches(value, expected):
        raise HCLError(f"{where} must be {expected}, got {describe(value)}")


def value_matches(value: Any, expected: str) -> bool:
    quoted = isinstance(value, str) and value.startswith('"')
    expression = isinstance(value, str) and bool(REF.match(value))
    if expected == BOOL:
        return isinstance(value, bool)
    if expected == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == STRING:
        return quoted
    if expected == WORD:
        return isinstance(value, str) and not expression
    if expected == TYPE:
        return isinstance(value, str) and not quoted
    if expected == REFERENCE:
        return expression
    if expected == REFERENCES:
        return isinstance(value, list) and all(value_matches(v, REFERENCE) for v in value)
    return isinstance(value, bool | int | float | str)  # LITERAL


def describe(value: Any) -> str:
    """The kind and a short rendering of an HCL value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"bool {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    text = str(value)
    shown = text if len(text) <= 40 else text[:37] + "…"
    if text.startswith('"'):
        return f"string {shown}"
    return f"expression {shown}" if REF.match(text) else f"keyword {shown}"


def labelled(blocks: Any, kind: str, parent: str) -> list[tuple[str, dict[str, Any]]]:
    """`(label, body)` of each `kind "label" {…}` block; duplicates are errors."""
    out: list[tuple[str, dict[str, Any]]] = []
    prefix = f"{parent}: " if parent else ""
    for block in blocks:
        for label, body in block.items():
            if label == "__is_block__":
                continue
            name = unquote(label, f'{prefix}{kind} "{label}"')
            where = f'{prefix}{kind} "{name}"'
            if not isinstance(body, dict) or not body.get("__is_block__"):
                raise HCLError(f"{where}: expected a block with one label")
            if "for_each" in body:
                raise HCLError(f"{where}: for_each is not supported")
            if parent and any(n == name for n, _ in out):
                raise HCLError(f"{where}: defined twice")
            out.append((name, body))
    return out


def unquote(text: Any, where: str = "") -> str:
    """A string value's text: python-hcl2 keeps the quotes (and heredoc markers)."""
    value = str(text)
    heredoc = HEREDOC.match(value)
    if heredoc:
        return heredoc.group(2)
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            decoded: str = json.loads(value)
        except ValueError:
            # HCL escapes are a superset of JSON's (\uNNNNNNNN, ${…}); keep the text as is.
            return value[1:-1]
        return decoded
    return value


def string_attr(body: dict[str, Any], name: str, where: str = "") -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str) and REF.match(value):
        raise HCLError(f'{where}: attribute "{name}": expressions are not supported here')
    return unquote(value)


def reference_name(value: Any, kind: str, where: str) -> str:
    """`${schema.public}` → `public` (the last segment of a reference of `kind`)."""
    match = REF.match(str(value or "")) if isinstance(value, str) else None
    if not match or not match.group(1).startswith(f"{kind}."):
        raise HCLError(f"{where}: expected a reference like {kind}.<name>, got {describe(value)}")
    return match.group(1).split(".")[-1].strip('"')


def column_refs(values: Any, where: str) -> tuple[str, ...]:
    if not isinstance(values, list):
        raise HCLError(f"{where}: expected a list of column references")
    return tuple(reference_name(v, "column", where) for v in values)


def inner_blocks(body: dict[str, Any], kind: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    """The labelled `kind` blocks of a body, each checked against the subset."""
    found = labelled(body.get(kind, []), kind, where)
    for name, inner in found:
        check_body(inner, kind, f'{where}: {kind} "{name}"')
    return found


def unlabelled(body: dict[str, Any], kind: str, where: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = body.get(kind, [])
    for block in blocks:
        check_body(block, kind, f"{where}: {kind}")
    return blocks


def table_from(name: str, body: dict[str, Any], where: str) -> Table:
    columns = tuple(column_from(n, b, where) for n, b in inner_blocks(body, "column", where))
    pk = None
    for block in unlabelled(body, "primary_key", where):
        pk = PrimaryKey(columns=column_refs(block.get("columns"), f"{where}: primary_key"))
    indexes = tuple(index_from(n, b, where) for n, b in inner_blocks(body, "index", where))
    fks = tuple(foreign_key_from(n, b, where) for n, b in inner_blocks(body, "foreign_key", where))
    checks = tuple(
        Check(name=n, expr=string_attr(b, "expr", f'{where}: check "{n}"') or "")
        for n, b in inner_blocks(body, "check", where)
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


def column_type(value: Any, where: str) -> str:
    text = str(value)
    match = REF.match(text)
    if match:
        text = match.group(1)
        call = SQL_CALL.match(text)
        if call:
            return unquote(call.group(1))
        if text.startswith("enum."):
            raise HCLError(f"{where}: enum types are not supported yet")
    return text


def column_default(value: Any) -> str:
    """HCL values → SQL literals: strings quoted, `sql("expr")` raw, numbers and bools as is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    match = REF.match(text)
    if match:
        call = SQL_CALL.match(match.group(1))
        return unquote(call.group(1)) if call else match.group(1)
    return "'" + unquote(text).replace("'", "''") + "'"


def column_from(name: str, body: dict[str, Any], table: str) -> Column:
    where = f'{table}: column "{name}"'
    if "type" not in body:
        raise HCLError(f"{where}: the type attribute is required")
    generated = None
    for block in unlabelled(body, "as", where):
        kind = unquote(block.get("type", "STORED")).upper()
        expr = string_attr(block, "expr", f"{where}: as") or ""
        generated = Generated(expr=expr, stored=kind == "STORED")
    identity = None
    for block in unlabelled(body, "identity", where):
        identity = Identity(
            always=unquote(block.get("generated", "BY_DEFAULT")).upper() == "ALWAYS",
            start=int(block.get("start", 1)),
            increment=int(block.get("increment", 1)),
        )
    return Column(
        name=name,
        type=column_type(body["type"], where),
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
    for block in unlabelled(body, "on", where):
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
    from atlas_operator.engine.changes import AddSchema
    from atlas_operator.engine.diff import diff_realms, diff_schemas
    from atlas_operator.engine.drivers.base import Scope

    realm = parse_hcl(text)
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
        changes = diff_schemas(Schema(bound), replace(schema, name=bound))
        statements = driver.plan(changes, Scope(bound=bound))
    else:
        changes = [
            c
            for c in diff_realms(Realm(), realm)
            # `public` exists on every clean PostgreSQL dev database.
            if not (isinstance(c, AddSchema) and c.schema.name == "public")
        ]
        statements = driver.plan(changes, Scope())
    return "\n".join(s.sql.rstrip(";") + ";" for s in statements)
