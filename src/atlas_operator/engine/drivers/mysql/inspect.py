"""MySQL/MariaDB inspection: information_schema queries read into the model (`Realm`)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from atlas_operator.engine.diff import strip_parens
from atlas_operator.engine.drivers.base import Scope, Session
from atlas_operator.engine.drivers.mysql.objects import ObjectInspector
from atlas_operator.engine.drivers.mysql.partitions import partitioning_of, split_create_table
from atlas_operator.engine.drivers.mysql.session import (
    MARIADB,
    MYSQL,
    MySQLSession,
    ServerInfo,
    decode,
    quote,
    quote_string,
    text_rows,
)
from atlas_operator.engine.drivers.mysql.showcreate import IndexClauses, index_clauses
from atlas_operator.engine.model import (
    Check,
    Column,
    ForeignKey,
    Generated,
    Index,
    IndexPart,
    Partitioning,
    PrimaryKey,
    Realm,
    Schema,
    Table,
)

SYSTEM_SCHEMAS = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
# Types whose literal defaults MySQL 8 prints bare and that must stay bare (numbers).
NUMERIC_TYPES = frozenset(
    {
        "tinyint",
        "smallint",
        "mediumint",
        "int",
        "integer",
        "bigint",
        "decimal",
        "numeric",
        "float",
        "double",
        "real",
        "bool",
        "boolean",
        "year",
    }
)
CURRENT_TIMESTAMP = re.compile(
    r"(?:current_timestamp|now|localtime|localtimestamp)(?:\((\d*)\))?", re.IGNORECASE
)
ON_UPDATE = re.compile(r"\bon update\s+(\S+)", re.IGNORECASE)
# SHOW CREATE TABLE statements per MariaDB compound statement (a few dozen kB of text).
SHOW_CREATE_BATCH = 500


@dataclass
class TableBuild:
    """One table's rows from every query, gathered before the model is built."""

    name: str
    collation: str | None
    comment: str | None
    options: list[tuple[str, str]]
    columns: list[Column] = field(default_factory=list)
    primary_key: PrimaryKey | None = None
    indexes: list[Index] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    json_checks: set[str] = field(default_factory=set)
    """MariaDB column-level checks that are exactly `json_valid(<column>)`."""
    partitioned: bool = False
    """TABLES.CREATE_OPTIONS says `partitioned`: SHOW CREATE TABLE tells how."""
    partitioning: Partitioning | None = None


TableKey = tuple[str, str]


class Inspector:
    """Reads a scope with six queries: schemata, tables, checks, columns, indexes, keys;
    plus, for the tables that are partitioned or have a B-tree or hash secondary index,
    SHOW CREATE TABLE (`show_create_details`): on MariaDB one more statement per 500 such
    tables, on MySQL one per table."""

    def __init__(self, session: Session, scope: Scope, server: ServerInfo) -> None:
        self.session = session
        self.scope = scope
        self.server = server
        self.flavor = server.flavor

    def rows(self, sql: str, names: Sequence[str]) -> list[tuple[Any, ...]]:
        """Runs a query whose `{names}` placeholder lists the schemas in scope."""
        placeholders = ", ".join(["%s"] * len(names))
        return text_rows(self.session, sql.format(names=placeholders), names)

    def realm(self) -> Realm:
        schemas = self.schemata()
        names = [s.name for s in schemas]
        tables = self.tables(names, {s.name: s.collation for s in schemas}) if names else {}
        if tables:
            self.checks(names, tables)
            self.columns(names, tables)
            self.statistics(names, tables)
            self.show_create_details(tables)
            self.foreign_keys(names, tables)
        by_schema: dict[str, list[Table]] = defaultdict(list)
        for (schema, _), build in sorted(tables.items()):
            by_schema[schema].append(finish_table(build))
        objects = ObjectInspector(self.session, self.scope, self.server, names, set(tables)).read()
        return Realm(
            schemas=tuple(
                Schema(
                    name=s.name,
                    tables=tuple(by_schema[s.name]),
                    objects=tuple(objects.by_schema[s.name]),
                    charset=s.charset if s.collation != self.server.collation else None,
                    collation=s.collation if s.collation != self.server.collation else None,
                    comment=s.comment,
                )
                for s in schemas
            ),
            dependencies=tuple(objects.dependencies),
        )

    def schemata(self) -> list[SchemaRow]:
        comment = "SCHEMA_COMMENT" if self.server.has_schema_comments else "NULL"
        sql = (
            "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME, "
            f"{comment} FROM information_schema.SCHEMATA"
        )
        if self.scope.bound is not None:
            rows = text_rows(self.session, sql + " WHERE SCHEMA_NAME = %s", [self.scope.bound])
        else:
            rows = text_rows(self.session, sql + " ORDER BY SCHEMA_NAME")
        return [
            SchemaRow(name, charset, collation, comment or None)
            for name, charset, collation, comment in rows
            if self.scope.bound is not None
            or (name not in SYSTEM_SCHEMAS and self.scope.includes(name))
        ]

    def tables(self, names: list[str], defaults: dict[str, str]) -> dict[TableKey, TableBuild]:
        tables: dict[TableKey, TableBuild] = {}
        for schema, name, engine, collation, comment, create_options in self.rows(
            "SELECT TABLE_SCHEMA, TABLE_NAME, ENGINE, TABLE_COLLATION, TABLE_COMMENT,"
            " CREATE_OPTIONS FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA IN ({names}) AND TABLE_TYPE = 'BASE TABLE'"
            " ORDER BY TABLE_SCHEMA, TABLE_NAME",
            names,
        ):
            options: list[tuple[str, str]] = []
            if engine and engine.lower() != self.server.default_engine.lower():
                options.append(("engine", engine))
            if collation and collation != defaults.get(schema):
                options += [("charset", charset_of(collation)), ("collation", collation)]
            options += declared_options(create_options)
            build = TableBuild(name, collation, comment or None, sorted(options))
            build.partitioned = "partitioned" in (create_options or "").lower().split()
            tables[(schema, name)] = build
        return tables

    def checks(self, names: list[str], tables: dict[TableKey, TableBuild]) -> None:
        if not self.server.supports_checks:
            return
        if self.flavor == MARIADB:
            # MariaDB keeps the table name here, and the level: column-level checks are
            # named after their column (JSON's implicit json_valid check among them).
            sql = (
                "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE, LEVEL"
                " FROM information_schema.CHECK_CONSTRAINTS"
                " WHERE CONSTRAINT_SCHEMA IN ({names})"
            )
        else:
            # MySQL 8 names checks per schema; the table comes from TABLE_CONSTRAINTS.
            sql = (
                "SELECT t.TABLE_SCHEMA, t.TABLE_NAME, c.CONSTRAINT_NAME, c.CHECK_CLAUSE, 'Table'"
                " FROM information_schema.CHECK_CONSTRAINTS c"
                " JOIN information_schema.TABLE_CONSTRAINTS t"
                " ON t.CONSTRAINT_SCHEMA = c.CONSTRAINT_SCHEMA"
                " AND t.CONSTRAINT_NAME = c.CONSTRAINT_NAME AND t.CONSTRAINT_TYPE = 'CHECK'"
                " WHERE t.TABLE_SCHEMA IN ({names})"
            )
        for schema, table, name, clause, level in self.rows(sql, names):
            build = tables.get((schema, table))
            if build is None:
                continue
            expr = clause if self.flavor == MARIADB else unescape(clause)
            if level == "Column" and expr == f"json_valid({quote(name)})":
                build.json_checks.add(name)
            build.checks.append(Check(name=name, expr=expr))

    def columns(self, names: list[str], tables: dict[TableKey, TableBuild]) -> None:
        for row in self.rows(
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE,"
            " COLUMN_DEFAULT, EXTRA, GENERATION_EXPRESSION, COLUMN_COMMENT,"
            " CHARACTER_SET_NAME, COLLATION_NAME"
            " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN ({names})"
            " ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION",
            names,
        ):
            build = tables.get((row[0], row[1]))
            if build is not None:
                build.columns.append(column_from_row(ColumnRow(*row[2:]), build, self.flavor))

    def statistics(self, names: list[str], tables: dict[TableKey, TableBuild]) -> None:
        expression = "EXPRESSION" if self.server.has_index_expressions else "NULL"
        grouped: dict[tuple[str, str, str], list[IndexRow]] = defaultdict(list)
        for row in self.rows(
            "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME,"
            f" {expression}, COLLATION, SUB_PART, INDEX_TYPE, INDEX_COMMENT"
            " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN ({names})"
            " ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
            names,
        ):
            grouped[(row[0], row[1], row[2])].append(IndexRow(*row[3:]))
        for (schema, table, name), parts in grouped.items():
            build = tables.get((schema, table))
            if build is None:
                continue
            if name == "PRIMARY":
                build.primary_key = PrimaryKey(columns=tuple(p.column or "" for p in parts))
            else:
                build.indexes.append(index_from_rows(name, parts, self.flavor))

    def show_create_details(self, tables: dict[TableKey, TableBuild]) -> None:
        """What only SHOW CREATE TABLE tells, for the tables that need it, in one batch.

        - `USING …` and KEY_BLOCK_SIZE of B-tree and hash indexes, as written
          (showcreate.py): asked about tables that have such an index, not those with
          none, or with only a primary key or FULLTEXT/SPATIAL keys (whose kind the
          catalog tells). Whether an index's clauses are read depends on its own kind
          alone, so the two sides of a diff read the same ones.
        - The partitioning of partitioned tables (partitions.py says why not from
          information_schema.PARTITIONS).
        """
        keys = [
            k
            for k, b in tables.items()
            if b.partitioned or any(has_hidden_clauses(i) for i in b.indexes)
        ]
        for key, text in self.show_create_tables(keys).items():
            build = tables[key]
            definition, _ = split_create_table(text)
            written = index_clauses(definition)
            build.indexes = [with_clauses(i, written.get(i.name)) for i in build.indexes]
            if build.partitioned:
                build.partitioning = partitioning_of(text)

    def show_create_tables(self, keys: list[TableKey]) -> dict[TableKey, str]:
        """SHOW CREATE TABLE of each table: on MariaDB batched, SHOW_CREATE_BATCH tables
        per compound statement (one round trip each, no multi-statement connection
        needed); on MySQL, which has no compound statements outside stored programs,
        one query per table."""
        if self.flavor == MARIADB and isinstance(self.session, MySQLSession):
            return self.show_create_batched(self.session, keys)
        texts: dict[TableKey, str] = {}
        for key in keys:
            rows = text_rows(self.session, self.show_create(key))
            if rows:
                texts[key] = str(rows[0][1])
        return texts

    def show_create(self, key: TableKey) -> str:
        """The statement for one table. A desired state may have set sql_mode on the
        dev session, and MariaDB's NO_KEY_OPTIONS (in ORACLE, MSSQL, … modes) hides the
        very clauses read here: MariaDB runs it with the server's plain output settings."""
        show = f"SHOW CREATE TABLE {qualified(key)}"
        if self.flavor == MARIADB:
            return f"SET STATEMENT sql_mode='', sql_quote_show_create=1 FOR {show}"
        return show  # MySQL 8 has no NO_KEY_OPTIONS; ANSI_QUOTES is understood

    def show_create_batched(
        self, session: MySQLSession, keys: list[TableKey]
    ) -> dict[TableKey, str]:
        texts: dict[TableKey, str] = {}
        for start in range(0, len(keys), SHOW_CREATE_BATCH):
            chunk = keys[start : start + SHOW_CREATE_BATCH]
            body = " ".join(f"{self.show_create(key)};" for key in chunk)
            # One result set per SHOW, in order, then the block's own empty one.
            sets = session.query_sets(f"BEGIN NOT ATOMIC {body} END")
            for key, rows in zip(chunk, sets, strict=False):
                if rows:
                    texts[key] = str(decode(rows[0][1]))
        return texts

    def foreign_keys(self, names: list[str], tables: dict[TableKey, TableBuild]) -> None:
        grouped: dict[tuple[str, str, str], list[tuple[Any, ...]]] = defaultdict(list)
        for row in self.rows(
            "SELECT k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME,"
            " k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME,"
            " r.UPDATE_RULE, r.DELETE_RULE"
            " FROM information_schema.TABLE_CONSTRAINTS t"
            " JOIN information_schema.KEY_COLUMN_USAGE k"
            " ON k.CONSTRAINT_SCHEMA = t.CONSTRAINT_SCHEMA AND k.TABLE_NAME = t.TABLE_NAME"
            " AND k.CONSTRAINT_NAME = t.CONSTRAINT_NAME"
            " JOIN information_schema.REFERENTIAL_CONSTRAINTS r"
            " ON r.CONSTRAINT_SCHEMA = t.CONSTRAINT_SCHEMA AND r.TABLE_NAME = t.TABLE_NAME"
            " AND r.CONSTRAINT_NAME = t.CONSTRAINT_NAME"
            " WHERE t.CONSTRAINT_TYPE = 'FOREIGN KEY' AND t.TABLE_SCHEMA IN ({names})"
            " ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
            names,
        ):
            grouped[(row[0], row[1], row[2])].append(row)
        for (schema, table, name), rows in grouped.items():
            build = tables.get((schema, table))
            if build is None:
                continue
            ref_schema = rows[0][4]
            build.foreign_keys.append(
                ForeignKey(
                    name=name,
                    columns=tuple(r[3] for r in rows),
                    ref_table=rows[0][5],
                    ref_columns=tuple(r[6] for r in rows),
                    ref_schema=None if ref_schema == schema else ref_schema,
                    on_update=rows[0][7],
                    on_delete=rows[0][8],
                )
            )


@dataclass(frozen=True)
class SchemaRow:
    name: str
    charset: str
    collation: str
    comment: str | None


@dataclass(frozen=True)
class ColumnRow:
    """One information_schema.COLUMNS row (from COLUMN_NAME on)."""

    name: str
    type: str
    nullable: str
    default: str | None
    extra: str
    generation: str | None
    comment: str | None
    charset: str | None
    collation: str | None


@dataclass(frozen=True)
class IndexRow:
    """One information_schema.STATISTICS row (from NON_UNIQUE on): one key part."""

    non_unique: int
    column: str | None
    expression: str | None
    collation: str | None
    sub_part: int | None
    index_type: str
    comment: str | None


def declared_options(create_options: str | None) -> list[tuple[str, str]]:
    """ROW_FORMAT and KEY_BLOCK_SIZE as declared, from TABLES.CREATE_OPTIONS.

    CREATE_OPTIONS lists what CREATE/ALTER TABLE wrote (`row_format=DYNAMIC
    key_block_size=8`), which is what SHOW CREATE TABLE prints; TABLES.ROW_FORMAT is
    the format in use, InnoDB's default one included, and would pin it on every table.
    """
    options: list[tuple[str, str]] = []
    for item in (create_options or "").split():
        name, _, value = item.partition("=")
        if name.lower() == "row_format" and value:
            options.append(("row_format", value.upper()))
        elif name.lower() == "key_block_size" and value not in ("", "0"):
            options.append(("key_block_size", value))
    return options


def qualified(key: TableKey) -> str:
    return f"{quote(key[0])}.{quote(key[1])}"


def has_hidden_clauses(index: Index) -> bool:
    """B-tree and hash keys: the catalog tells neither an explicit USING nor the
    key's own KEY_BLOCK_SIZE (`index_from_rows` leaves B-tree's method None)."""
    return index.method in (None, "HASH")


def with_clauses(index: Index, written: IndexClauses | None) -> Index:
    """The index with its written clauses: `method` is the USING clause as written
    (None: none was, whatever type the engine then uses), `params` its own
    KEY_BLOCK_SIZE. An index whose line was not understood keeps the catalog's view."""
    if written is None or not has_hidden_clauses(index):
        return index
    size = written.key_block_size
    return replace(
        index,
        method=written.using,
        params=(("key_block_size", str(size)),) if size else (),
    )


def charset_of(collation: str) -> str:
    """Every collation name starts with its character set (`utf8mb4_bin` → utf8mb4)."""
    return collation.split("_", 1)[0]


def column_from_row(row: ColumnRow, build: TableBuild, flavor: str) -> Column:
    column_type = lower_outside_quotes(row.type)
    extra = row.extra or ""
    generated = None
    if "generated" in extra.lower() and row.generation:
        expr = row.generation if flavor == MARIADB else unescape(row.generation)
        generated = Generated(expr=expr, stored="stored" in extra.lower())
    charset, collation = row.charset, row.collation
    if row.name in build.json_checks and column_type == "longtext" and collation == "utf8mb4_bin":
        # MariaDB's JSON is LONGTEXT with a forced collation and an implicit check.
        column_type, charset, collation = "json", None, None
    elif collation is None or collation == build.collation:
        charset, collation = None, None
    return Column(
        name=row.name,
        type=column_type,
        nullable=row.nullable == "YES",
        default=None if generated else normalize_default(row.default, extra, column_type, flavor),
        auto_increment="auto_increment" in extra.lower(),
        generated=generated,
        comment=row.comment or None,
        charset=charset,
        collation=collation,
        on_update=on_update_of(extra),
    )


def lower_outside_quotes(text: str) -> str:
    """`ENUM('A','b')` → `enum('A','b')`: the values keep their case."""
    out, quoted = [], False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        out.append(ch if quoted or ch == "'" else ch.lower())
    return "".join(out)


def normalize_default(raw: str | None, extra: str, column_type: str, flavor: str) -> str | None:
    """COLUMN_DEFAULT → SQL text that renders back as the same default."""
    if raw is None:
        return None
    if flavor == MARIADB:
        # MariaDB (≥ 10.2.7) prints SQL already: quoted literals, numbers, expressions;
        # a bare NULL is "no default" (a string 'NULL' comes quoted).
        return None if raw == "NULL" else raw
    return mysql_default(raw, extra, column_type)


def mysql_default(raw: str, extra: str, column_type: str) -> str:
    """MySQL prints literals bare and marks expressions with DEFAULT_GENERATED."""
    base = base_type(column_type)
    timestamp = current_timestamp(raw)
    if timestamp is not None and (
        "default_generated" in extra.lower() or base in ("timestamp", "datetime")
    ):
        return timestamp
    if "default_generated" in extra.lower():
        expr = unescape(raw)
        return expr if strip_parens(expr) != expr else f"({expr})"
    if base in NUMERIC_TYPES:
        return raw
    if base == "bit" and raw.lower().startswith("b'"):
        return raw
    if re.fullmatch(r"0x[0-9a-fA-F]*", raw) and base in ("binary", "varbinary"):
        return raw
    return quote_string(raw)


def base_type(column_type: str) -> str:
    match = re.match(r"[a-z]+", column_type)
    return match.group(0) if match else column_type


def current_timestamp(text: str) -> str | None:
    """`CURRENT_TIMESTAMP`, `now()`, `current_timestamp(3)` → `current_timestamp([n])`."""
    match = CURRENT_TIMESTAMP.fullmatch(text.strip())
    if match is None:
        return None
    return f"current_timestamp({match.group(1) or ''})"


def on_update_of(extra: str) -> str | None:
    match = ON_UPDATE.search(extra)
    if match is None:
        return None
    return current_timestamp(match.group(1)) or match.group(1).lower()


def unescape(text: str) -> str:
    """MySQL 8 backslash-escapes quotes in stored expressions (`_utf8mb4\\'a\\'`)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "'\\":
            out.append(text[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def index_from_rows(name: str, rows: list[IndexRow], flavor: str) -> Index:
    first = rows[0]
    kind = (first.index_type or "BTREE").upper()
    parts = []
    for row in rows:
        desc = row.collation == "D"
        # SPATIAL keys report a sub-part of 32 that cannot be written back.
        prefix = int(row.sub_part) if row.sub_part and kind != "SPATIAL" else None
        if row.column is not None:
            parts.append(IndexPart(column=row.column, desc=desc, prefix=prefix))
        else:
            expr = row.expression or ""
            parts.append(IndexPart(expr=unescape(expr) if flavor == MYSQL else expr, desc=desc))
    return Index(
        name=name,
        parts=tuple(parts),
        unique=not int(first.non_unique),
        method=None if kind == "BTREE" else kind,
        comment=first.comment or None,
    )


def finish_table(build: TableBuild) -> Table:
    json_columns = {c.name for c in build.columns if c.type == "json"}
    checks = [
        c for c in build.checks if not (c.name in json_columns and c.name in build.json_checks)
    ]
    return Table(
        name=build.name,
        columns=tuple(build.columns),
        primary_key=build.primary_key,
        indexes=tuple(sorted(build.indexes, key=lambda i: i.name)),
        foreign_keys=tuple(sorted(build.foreign_keys, key=lambda f: f.name)),
        checks=tuple(sorted(checks, key=lambda c: c.name or "")),
        comment=build.comment,
        options=tuple(build.options),
        partitioning=build.partitioning,
    )
