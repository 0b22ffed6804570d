"""SQLite inspection: `sqlite_master`, the pragmas and the CREATE TABLE text read into
the model."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from atlas_operator.engine.drivers.base import Session
from atlas_operator.engine.drivers.sqlite.session import MAIN
from atlas_operator.engine.model import (
    Check,
    Column,
    ForeignKey,
    Generated,
    Index,
    IndexPart,
    PrimaryKey,
    Schema,
    Table,
)
from atlas_operator.engine.sqltext import (
    IDENTIFIER,
    normalize_space,
    parenthesized,
    split_top_level,
    unquote_identifier,
)

USER_TABLES = "m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"


@dataclass
class TableParts:
    """What one table's pragmas and DDL text say, gathered before building the model."""

    sql: str
    columns: list[Column] = field(default_factory=list)
    pk: list[tuple[int, str]] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    fk_rows: dict[int, list[tuple[Any, ...]]] = field(default_factory=lambda: defaultdict(list))


def inspect_main(session: Session) -> Schema:
    tables = {
        name: TableParts(sql or "")
        for name, sql in session.query(
            f"SELECT m.name, m.sql FROM sqlite_master m WHERE {USER_TABLES}"
        )
    }
    for table, _cid, name, type_, notnull, default, pk, hidden in session.query(
        'SELECT m.name, p.cid, p.name, p.type, p."notnull", p.dflt_value, p.pk, p.hidden'
        f" FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p WHERE {USER_TABLES}"
        " ORDER BY m.name, p.cid"
    ):
        parts = tables[table]
        generated = Generated("", stored=hidden == 3) if hidden in (2, 3) else None
        parts.columns.append(
            Column(
                name=name,
                type=(type_ or "").lower(),
                nullable=not notnull,
                default=default,
                generated=generated,
            )
        )
        if pk:
            parts.pk.append((pk, name))
    inspect_indexes(session, tables)
    for row in session.query(
        'SELECT m.name, f.id, f.seq, f."table", f."from", f."to", f.on_update, f.on_delete'
        f" FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE {USER_TABLES}"
        " ORDER BY m.name, f.id, f.seq"
    ):
        tables[row[0]].fk_rows[row[1]].append(row)
    return Schema(name=MAIN, tables=tuple(build_table(n, p) for n, p in sorted(tables.items())))


def inspect_indexes(session: Session, tables: dict[str, TableParts]) -> None:
    keys: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in session.query(
        'SELECT il.name, x.seqno, x.cid, x.name, x."desc", x.coll'
        " FROM sqlite_master m JOIN pragma_index_list(m.name) il"
        " JOIN pragma_index_xinfo(il.name) x WHERE " + USER_TABLES + " AND x.key = 1"
        " ORDER BY il.name, x.seqno"
    ):
        keys[row[0]].append(row)
    for table, name, unique, origin, sql in session.query(
        'SELECT m.name, il.name, il."unique", il.origin, s.sql'
        " FROM sqlite_master m JOIN pragma_index_list(m.name) il"
        " LEFT JOIN sqlite_master s ON s.type = 'index' AND s.name = il.name"
        f" WHERE {USER_TABLES} ORDER BY m.name, il.name"
    ):
        if origin == "pk":
            continue
        texts, where = index_sql_parts(sql) if sql else ([], None)
        parts = []
        for i, (_, _, cid, column, desc, _) in enumerate(keys[name]):
            if cid == -2:
                expr = strip_order(texts[i]) if i < len(texts) else ""
                parts.append(IndexPart(expr=expr, desc=bool(desc)))
            else:
                parts.append(IndexPart(column=column, desc=bool(desc)))
        tables[table].indexes.append(
            Index(
                name=name,
                parts=tuple(parts),
                unique=bool(unique),
                where=where,
                constraint=origin == "u",
            )
        )


def index_sql_parts(sql: str) -> tuple[list[str], str | None]:
    """The key-part texts and the WHERE predicate of a CREATE INDEX statement."""
    match = re.search(r"\bON\s+" + IDENTIFIER + r"\s*\(", sql, re.IGNORECASE)
    if not match:
        return [], None
    inner, end = parenthesized(sql, match.end() - 1)
    rest = sql[end:].strip()
    where = None
    if rest.upper().startswith("WHERE"):
        where = normalize_space(rest[5:].strip().rstrip(";"))
    return split_top_level(inner), where


def strip_order(part: str) -> str:
    return normalize_space(re.sub(r"\s+(ASC|DESC)\s*$", "", part, flags=re.IGNORECASE))


def build_table(name: str, parts: TableParts) -> Table:
    ddl = parse_create_table(parts.sql)
    columns = tuple(
        replace(
            column,
            generated=replace(column.generated, expr=ddl.generated.get(column.name, ""))
            if column.generated
            else None,
            auto_increment=column.name in ddl.autoincrement,
            collation=ddl.collations.get(column.name),
        )
        for column in parts.columns
    )
    primary_key = None
    if parts.pk:
        primary_key = PrimaryKey(columns=tuple(c for _, c in sorted(parts.pk)), name=ddl.pk_name)
    fks = []
    for _fk_id, rows in sorted(parts.fk_rows.items()):
        cols = tuple(r[4] for r in rows)
        ref_table = rows[0][3]
        ref_cols = tuple(r[5] for r in rows)
        if any(c is None for c in ref_cols):  # references the parent's primary key implicitly
            ref_cols = ()
        fk_name = ddl.fk_names.get(cols) or f"{name}_{'_'.join(cols)}_fkey"
        fks.append(
            ForeignKey(
                name=fk_name,
                columns=cols,
                ref_table=ref_table,
                ref_columns=ref_cols,
                on_update=rows[0][6],
                on_delete=rows[0][7],
            )
        )
    return Table(
        name=name,
        columns=columns,
        primary_key=primary_key,
        indexes=tuple(parts.indexes),
        foreign_keys=tuple(sorted(fks, key=lambda f: f.name)),
        checks=tuple(ddl.checks),
        options=tuple(sorted(ddl.options)),
    )


@dataclass
class ParsedDDL:
    checks: list[Check] = field(default_factory=list)
    generated: dict[str, str] = field(default_factory=dict)
    autoincrement: set[str] = field(default_factory=set)
    collations: dict[str, str] = field(default_factory=dict)
    fk_names: dict[tuple[str, ...], str] = field(default_factory=dict)
    pk_name: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)


CONSTRAINT_START = re.compile(
    r"^(CONSTRAINT\s+(?P<name>" + IDENTIFIER + r")\s+)?(?P<kind>PRIMARY|UNIQUE|CHECK|FOREIGN)\b",
    re.IGNORECASE,
)


def parse_create_table(sql: str) -> ParsedDDL:
    """Reads from CREATE TABLE text what the pragmas do not report."""
    parsed = ParsedDDL()
    open_index = sql.find("(")
    if open_index < 0:
        return parsed
    body, end = parenthesized(sql, open_index)
    tail = sql[end:].upper()
    if "WITHOUT ROWID" in tail:
        parsed.options.append(("without_rowid", "true"))
    if re.search(r"\bSTRICT\b", tail):
        parsed.options.append(("strict", "true"))
    for item in split_top_level(body):
        constraint = CONSTRAINT_START.match(item)
        if constraint:
            parse_table_constraint(item, constraint, parsed)
        else:
            parse_column_definition(item, parsed)
    return parsed


def parse_table_constraint(item: str, match: re.Match[str], parsed: ParsedDDL) -> None:
    name = unquote_identifier(match.group("name")) if match.group("name") else None
    kind = match.group("kind").upper()
    rest = item[match.end() :]
    if kind == "CHECK":
        inner, _ = parenthesized(rest, rest.index("("))
        parsed.checks.append(Check(name=name, expr=normalize_space(inner)))
    elif kind == "FOREIGN" and name:
        inner, _ = parenthesized(rest, rest.index("("))
        cols = tuple(unquote_identifier(c) for c in split_top_level(inner))
        parsed.fk_names[cols] = name
    elif kind == "PRIMARY":
        parsed.pk_name = name


def parse_column_definition(item: str, parsed: ParsedDDL) -> None:
    match = re.match(IDENTIFIER, item.strip())
    if not match:
        return
    column = unquote_identifier(match.group(0))
    rest = item.strip()[match.end() :]
    for check in re.finditer(
        r"(?:CONSTRAINT\s+(" + IDENTIFIER + r")\s+)?\bCHECK\s*\(", rest, re.IGNORECASE
    ):
        inner, _ = parenthesized(rest, check.end() - 1)
        name = unquote_identifier(check.group(1)) if check.group(1) else None
        parsed.checks.append(Check(name=name, expr=normalize_space(inner)))
    generated = re.search(r"\b(?:GENERATED\s+ALWAYS\s+)?AS\s*\(", rest, re.IGNORECASE)
    if generated:
        inner, _ = parenthesized(rest, generated.end() - 1)
        parsed.generated[column] = normalize_space(inner)
    if re.search(r"\bAUTOINCREMENT\b", rest, re.IGNORECASE):
        parsed.autoincrement.add(column)
    collate = re.search(r"\bCOLLATE\s+(" + IDENTIFIER + ")", rest, re.IGNORECASE)
    if collate:
        parsed.collations[column] = unquote_identifier(collate.group(1))
    fk = re.search(r"(?:CONSTRAINT\s+(" + IDENTIFIER + r")\s+)?\bREFERENCES\b", rest, re.IGNORECASE)
    if fk and fk.group(1):
        parsed.fk_names[(column,)] = unquote_identifier(fk.group(1))
