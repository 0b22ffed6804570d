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
SUPPORTED_BLOCKS = {"schema", "table"}


class HCLError(EngineError):
    """An Atlas HCL document this engine cannot evaluate."""


def parse_hcl(text: str) -> Realm:
    try:
        document = hcl2.loads(text)
    except Exception as err:  # python-hcl2 raises lark errors of many kinds
        raise HCLError(f"schema.hcl: {str(err).splitlines()[0]}") from None
    unknown = set(document) - SUPPORTED_BLOCKS
    if unknown:
        raise HCLError(
            f"schema.hcl: block(s) {', '.join(sorted(unknown))} are not supported yet "
            "(supported: schema, table)"
        )
    schemas: dict[str, Schema] = {}
    for name, body in labelled(document.get("schema", []), "schema"):
        schemas[name] = Schema(
            name=name,
            charset=string_attr(body, "charset"),
            collation=string_attr(body, "collate"),
            comment=string_attr(body, "comment"),
        )
    tables: dict[str, list[Table]] = {name: [] for name in schemas}
    for name, body in labelled(document.get("table", []), "table"):
        schema = reference_name(body.get("schema"), "schema", f'table "{name}"')
        if schema not in schemas:
            raise HCLError(f'table "{name}": schema "{schema}" is not defined')
        tables[schema].append(table_from(name, body))
    return Realm(schemas=tuple(replace(s, tables=tuple(tables[s.name])) for s in schemas.values()))


def labelled(blocks: list[dict[str, Any]], kind: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in blocks:
        for label, body in block.items():
            if label == "__is_block__":
                continue
            if "for_each" in body:
                raise HCLError(f'{kind} "{unquote(label)}": for_each is not supported')
            out.append((unquote(label), body))
    return out


def unquote(text: Any) -> str:
    value = str(text)
    if len(value) >= 2 and value[0] == value[-1] == '"':
        decoded: str = json.loads(value)
        return decoded
    return value


def string_attr(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str) and REF.match(value):
        raise HCLError(f'attribute "{name}": expressions are not supported here')
    return unquote(value)


def reference_name(value: Any, kind: str, where: str) -> str:
    """`${schema.public}` → `public` (the last segment of a reference of `kind`)."""
    match = REF.match(str(value or ""))
    if not match or not match.group(1).startswith(f"{kind}."):
        raise HCLError(f"{where}: expected a reference like {kind}.<name>, got {value!r}")
    return match.group(1).split(".")[-1].strip('"')


def column_refs(values: Any, where: str) -> tuple[str, ...]:
    if not isinstance(values, list):
        raise HCLError(f"{where}: expected a list of column references")
    return tuple(reference_name(v, "column", where) for v in values)


def table_from(name: str, body: dict[str, Any]) -> Table:
    where = f'table "{name}"'
    columns = tuple(column_from(n, b, where) for n, b in labelled(body.get("column", []), "column"))
    pk = None
    for block in body.get("primary_key", []):
        pk = PrimaryKey(columns=column_refs(block.get("columns"), f"{where}.primary_key"))
    indexes = tuple(index_from(n, b, where) for n, b in labelled(body.get("index", []), "index"))
    fks = tuple(
        foreign_key_from(n, b, where) for n, b in labelled(body.get("foreign_key", []), "fk")
    )
    checks = tuple(
        Check(name=n, expr=string_attr(b, "expr") or "")
        for n, b in labelled(body.get("check", []), "check")
    )
    return Table(
        name=name,
        columns=columns,
        primary_key=pk,
        indexes=indexes,
        foreign_keys=fks,
        checks=checks,
        comment=string_attr(body, "comment"),
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
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    match = REF.match(text)
    if match:
        call = SQL_CALL.match(match.group(1))
        return unquote(call.group(1)) if call else match.group(1)
    return "'" + unquote(text).replace("'", "''") + "'"


def column_from(name: str, body: dict[str, Any], table: str) -> Column:
    where = f'{table}.column "{name}"'
    if "type" not in body:
        raise HCLError(f"{where}: the type attribute is required")
    generated = None
    for block in body.get("as", []):
        kind = str(block.get("type", "STORED")).upper()
        generated = Generated(expr=string_attr(block, "expr") or "", stored=kind == "STORED")
    identity = None
    for block in body.get("identity", []):
        identity = Identity(
            always=str(block.get("generated", "BY_DEFAULT")).upper() == "ALWAYS",
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
        comment=string_attr(body, "comment"),
        charset=string_attr(body, "charset"),
        collation=string_attr(body, "collate"),
    )


def index_from(name: str, body: dict[str, Any], table: str) -> Index:
    where = f'{table}.index "{name}"'
    parts: list[IndexPart] = []
    if "columns" in body:
        parts.extend(IndexPart(column=c) for c in column_refs(body["columns"], where))
    for block in body.get("on", []):
        desc = bool(block.get("desc", False))
        if "expr" in block:
            parts.append(IndexPart(expr=string_attr(block, "expr"), desc=desc))
        else:
            column = reference_name(block.get("column"), "column", where)
            parts.append(IndexPart(column=column, desc=desc))
    if not parts:
        raise HCLError(f"{where}: an index needs columns or on blocks")
    method = body.get("type")
    return Index(
        name=name,
        parts=tuple(parts),
        unique=bool(body.get("unique", False)),
        method=str(method).lower() if method and str(method).upper() != "BTREE" else None,
        where=string_attr(body, "where"),
        comment=string_attr(body, "comment"),
    )


def foreign_key_from(name: str, body: dict[str, Any], table: str) -> ForeignKey:
    where = f'{table}.foreign_key "{name}"'
    refs = body.get("ref_columns") or []
    if not refs:
        raise HCLError(f"{where}: ref_columns is required")
    first = REF.match(str(refs[0]))
    path = first.group(1).split(".") if first else []
    if len(path) < 4 or path[0] != "table" or path[-2] != "column":
        raise HCLError(f"{where}: ref_columns must look like table.<name>.column.<column>")
    return ForeignKey(
        name=name,
        columns=column_refs(body.get("columns"), where),
        ref_table=path[1].strip('"'),
        ref_columns=tuple(
            str(REF.match(str(r)).group(1)).split(".")[-1]  # type: ignore[union-attr]
            for r in refs
        ),
        on_update=action(body.get("on_update")),
        on_delete=action(body.get("on_delete")),
    )


def action(value: Any) -> str:
    if value is None:
        return "NO ACTION"
    text = str(value)
    match = REF.match(text)
    return (match.group(1) if match else text).replace("_", " ").upper()


def hcl_to_sql(text: str, driver: Any, target_bound: str | None, dev_bound: str | None) -> str:
    """The DDL that creates the HCL's objects on an empty dev database of `driver`.

    In schema scope the HCL must hold exactly one schema, named like the target's
    (Atlas: "mismatched HCL and database schemas"); its tables are created
    unqualified in the dev database's own schema.
    """
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
