"""MySQL and MariaDB: inspection from information_schema (a fixed number of queries
for the whole scope, never one per table) and planning with MySQL's ALTER TABLE.

One driver serves both flavours. The URL's scheme (`mysql://`, `mariadb://`) is only
a first guess: the server's `VERSION()` decides, because a `mysql://` URL that
reaches a MariaDB server must be inspected and planned with MariaDB's rules.

Inspected values are put in one normal form whatever the flavour or version:
- types are `COLUMN_TYPE` lower-cased outside quotes, as the server prints them
  (`int(11)` on MariaDB, `int` on MySQL 8);
- defaults are SQL text (`'abc'`, `0`, `current_timestamp()`, `(expr)`), None when
  there is none: MariaDB prints them that way, MySQL 8 prints string literals bare;
- a column's charset/collation are kept only when they differ from its table's, a
  table's only when they differ from its schema's, and a schema's only when they
  differ from the server's: databases created with other defaults then compare equal
  and a plan never pins a collation nobody asked for;
- MariaDB's JSON alias (LONGTEXT, utf8mb4_bin and an implicit `json_valid` check
  named after the column) reads as `json`, and its check does not leak out.

DDL commits implicitly on both flavours, so a failing plan leaves the statements
before the failure applied (`transactional_ddl = False`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pymysql

from atlas_operator.engine.changes import (
    AddCheck,
    AddColumn,
    AddForeignKey,
    AddIndex,
    AddPrimaryKey,
    AddSchema,
    AddTable,
    Change,
    DropCheck,
    DropColumn,
    DropForeignKey,
    DropIndex,
    DropPrimaryKey,
    DropSchema,
    DropTable,
    ModifyCheck,
    ModifyColumn,
    ModifyForeignKey,
    ModifyIndex,
    ModifyPrimaryKey,
    ModifySchema,
    ModifyTable,
    ModifyTableAttr,
    TableChange,
)
from atlas_operator.engine.diff import strip_parens
from atlas_operator.engine.drivers.base import (
    LOCK_TIMEOUT,
    DatabaseError,
    Driver,
    LockTimeoutError,
    PlannedStatement,
    Scope,
    Session,
    UnsupportedChangeError,
)
from atlas_operator.engine.model import (
    Check,
    Column,
    ForeignKey,
    Generated,
    Index,
    IndexPart,
    PrimaryKey,
    Realm,
    Schema,
    Table,
    Unmanaged,
)
from atlas_operator.engine.plan import order_changes
from atlas_operator.engine.statements import Dialect
from atlas_operator.engine.urls import DatabaseURL

MYSQL = "mysql"
MARIADB = "mariadb"
FLAVORS = (MYSQL, MARIADB)
SYSTEM_SCHEMAS = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
SERVER_QUERY = (
    "SELECT VERSION(), @@default_storage_engine, @@character_set_server, @@collation_server"
)
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
# Types with a character set: they follow the table's default collation.
TEXT_TYPES = frozenset(
    {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"}
)
CURRENT_TIMESTAMP = re.compile(
    r"(?:current_timestamp|now|localtime|localtimestamp)(?:\((\d*)\))?", re.IGNORECASE
)
ON_UPDATE = re.compile(r"\bon update\s+(\S+)", re.IGNORECASE)
DROP_KINDS = {"VIEW": "VIEW", "SYSTEM VIEW": "VIEW", "SEQUENCE": "SEQUENCE"}


# --- server and session ------------------------------------------------------------------


@dataclass(frozen=True)
class ServerInfo:
    """What one query at connect time says about the server."""

    version: str
    default_engine: str
    charset: str
    collation: str

    @property
    def flavor(self) -> str:
        return MARIADB if "mariadb" in self.version.lower() else MYSQL

    @property
    def number(self) -> tuple[int, int, int]:
        match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", self.version)
        if match is None:
            return (0, 0, 0)
        return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))

    @property
    def supports_checks(self) -> bool:
        return self.number >= ((10, 2, 1) if self.flavor == MARIADB else (8, 0, 16))

    @property
    def has_schema_comments(self) -> bool:
        return self.flavor == MARIADB and self.number >= (10, 5, 0)

    @property
    def has_index_expressions(self) -> bool:
        return self.flavor == MYSQL and self.number >= (8, 0, 13)


class MySQLSession(Session):
    """A PyMySQL connection in autocommit mode; transactions are explicit."""

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        try:
            self.conn = pymysql.connect(**url.pymysql_kwargs(), autocommit=True, connect_timeout=10)
        except pymysql.MySQLError as err:
            raise DatabaseError(f"cannot connect to {url.redacted()}: {error_text(err)}") from None
        except OSError as err:  # name resolution and the like, before the protocol starts
            raise DatabaseError(f"cannot connect to {url.redacted()}: {err}") from None
        try:
            self.server = server_info(self)
        except DatabaseError:
            self.conn.close()
            raise

    @property
    def flavor(self) -> str:
        return self.server.flavor

    def execute(self, sql: str) -> None:
        try:
            with self.conn.cursor() as cursor:
                cursor.execute(sql)  # no arguments: PyMySQL leaves `%` in the text alone
        except pymysql.MySQLError as err:
            raise DatabaseError(error_text(err)) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self.conn.cursor() as cursor:
                cursor.execute(sql, tuple(params) if params else None)
                return [tuple(row) for row in cursor.fetchall()]
        except pymysql.MySQLError as err:
            raise DatabaseError(error_text(err)) from None

    def begin(self) -> None:
        self.execute("BEGIN")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def close(self) -> None:
        if self.conn.open:
            self.conn.close()


def error_text(err: BaseException) -> str:
    """`Error 1064 (42000): …`, the way Atlas's Go driver prints server errors."""
    args = err.args
    if len(args) >= 2 and isinstance(args[0], int):
        state = getattr(err, "sqlstate", None)
        code = f"{args[0]} ({state})" if state else str(args[0])
        return f"Error {code}: {args[1]}"
    return str(err) or type(err).__name__


def text_rows(session: Session, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """A catalog query's rows with byte strings decoded."""
    return [tuple(decode(v) for v in row) for row in session.query(sql, params)]


def decode(value: Any) -> Any:
    """MySQL 8 returns some information_schema text columns as bytes."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return value


def server_info(session: Session) -> ServerInfo:
    """What the server says about itself (cached on our own sessions)."""
    cached: ServerInfo | None = getattr(session, "server", None)
    if cached is not None:
        return cached
    row = session.query(SERVER_QUERY)[0]
    version, engine, charset, collation = (str(decode(v)) for v in row)
    return ServerInfo(version, engine, charset, collation)


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def quote_string(value: str) -> str:
    """A string literal; backslashes are escapes in MySQL unless NO_BACKSLASH_ESCAPES."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


# --- driver ------------------------------------------------------------------------------


class MySQLDriver(Driver):
    name = "mysql"
    dialect = Dialect.MYSQL
    transactional_ddl = False

    def __init__(self, flavor: str = MYSQL) -> None:
        if flavor not in FLAVORS:
            raise ValueError(f"unknown MySQL flavor {flavor!r}")
        self.flavor = flavor
        self.server: ServerInfo | None = None

    def learn(self, session: Session) -> ServerInfo:
        """Takes the flavour (and defaults) from the server the session reached."""
        info = server_info(session)
        self.server, self.flavor = info, info.flavor
        return info

    @contextmanager
    def lock(self, session: Session, name: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        """`GET_LOCK` (server-wide, released when the session ends), as Atlas takes it."""
        acquired = session.query("SELECT GET_LOCK(%s, %s)", [name, max(0, int(timeout))])
        if not acquired or acquired[0][0] != 1:
            raise LockTimeoutError(f"sql/schema: lock is held by other session ({name})")
        try:
            yield
        finally:
            session.query("SELECT RELEASE_LOCK(%s)", [name])

    def open(self, url: DatabaseURL) -> MySQLSession:
        session = MySQLSession(url)
        self.learn(session)
        return session

    def inspect(self, session: Session, scope: Scope) -> Realm:
        return Inspector(session, scope, self.learn(session)).realm()

    def plan(
        self,
        changes: Sequence[Change],
        scope: Scope,
        *,
        concurrent_index: tuple[bool, bool] = (False, False),
    ) -> list[PlannedStatement]:
        # concurrent_index is PostgreSQL's: InnoDB builds indexes online by itself.
        planner = Planner(scope, self.flavor, self.server)
        return [s for change in order_changes(changes) for s in planner.change(change)]

    def unmanaged_objects(self, session: Session, scope: Scope) -> list[Unmanaged]:
        names = [scope.bound] if scope.bound is not None else user_schemas(session, scope)
        if not names:
            return []
        marks = ", ".join(["%s"] * len(names))
        query = UNMANAGED_QUERY.format(names=marks)
        rows = text_rows(session, query, names * UNMANAGED_QUERY.count("{names}"))
        return [Unmanaged(kind.lower(), schema, name, table) for kind, schema, name, table in rows]

    def is_clean(self, session: Session, scope: Scope) -> bool:
        """Atlas's rule: the bound schema has no tables (nor views); a realm has no schemas."""
        if scope.bound is None:
            return not user_schemas(session, scope)
        rows = session.query(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
            [scope.bound],
        )
        return int(rows[0][0]) == 0

    def clean(self, session: Session, scope: Scope) -> None:
        checks = session.query("SELECT @@FOREIGN_KEY_CHECKS")[0][0]
        # Tables (and databases) reference each other; without the checks any order works.
        session.execute("SET FOREIGN_KEY_CHECKS = 0")
        try:
            for statement in clean_statements(session, scope):
                session.execute(statement)
        finally:
            session.execute(f"SET FOREIGN_KEY_CHECKS = {int(checks)}")


# Objects the model does not cover yet (DECISIONS §3.5): reported, never planned.
UNMANAGED_QUERY = (
    "SELECT CASE TABLE_TYPE WHEN 'SEQUENCE' THEN 'sequence' ELSE 'view' END,"
    " TABLE_SCHEMA, TABLE_NAME, NULL FROM information_schema.TABLES"
    " WHERE TABLE_SCHEMA IN ({names}) AND TABLE_TYPE IN ('VIEW', 'SYSTEM VIEW', 'SEQUENCE')"
    " UNION ALL SELECT ROUTINE_TYPE, ROUTINE_SCHEMA, ROUTINE_NAME, NULL"
    " FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN ({names})"
    " UNION ALL SELECT 'trigger', TRIGGER_SCHEMA, TRIGGER_NAME, EVENT_OBJECT_TABLE"
    " FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN ({names})"
    " UNION ALL SELECT 'event', EVENT_SCHEMA, EVENT_NAME, NULL"
    " FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN ({names})"
    " ORDER BY 2, 1, 3"
)


def clean_statements(session: Session, scope: Scope) -> list[str]:
    """Realm: drop every database in scope; schema: every table, view and sequence."""
    if scope.bound is None:
        return [f"DROP DATABASE {quote(name)}" for name in user_schemas(session, scope)]
    rows = text_rows(
        session,
        "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
        [scope.bound],
    )
    drops = [
        f"DROP {DROP_KINDS.get(kind, 'TABLE')} IF EXISTS {quote(scope.bound)}.{quote(name)}"
        for name, kind in rows
    ]
    # Routines and events do not go with the tables; left behind, the next load of the
    # same desired SQL would fail with "already exists".
    others = text_rows(
        session,
        "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES"
        " WHERE ROUTINE_SCHEMA = %s UNION ALL SELECT 'EVENT', EVENT_NAME"
        " FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s",
        [scope.bound, scope.bound],
    )
    drops += [f"DROP {kind} IF EXISTS {quote(scope.bound)}.{quote(name)}" for kind, name in others]
    return drops


def user_schemas(session: Session, scope: Scope) -> list[str]:
    rows = text_rows(session, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY 1")
    return [n for (n,) in rows if n not in SYSTEM_SCHEMAS and scope.includes(n)]


# --- inspection --------------------------------------------------------------------------


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


TableKey = tuple[str, str]


class Inspector:
    """Reads a scope with six queries: schemata, tables, checks, columns, indexes, keys."""

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
            self.foreign_keys(names, tables)
        by_schema: dict[str, list[Table]] = defaultdict(list)
        for (schema, _), build in sorted(tables.items()):
            by_schema[schema].append(finish_table(build))
        return Realm(
            schemas=tuple(
                Schema(
                    name=s.name,
                    tables=tuple(by_schema[s.name]),
                    charset=s.charset if s.collation != self.server.collation else None,
                    collation=s.collation if s.collation != self.server.collation else None,
                    comment=s.comment,
                )
                for s in schemas
            )
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
        for schema, name, engine, collation, comment in self.rows(
            "SELECT TABLE_SCHEMA, TABLE_NAME, ENGINE, TABLE_COLLATION, TABLE_COMMENT"
            " FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA IN ({names}) AND TABLE_TYPE = 'BASE TABLE'"
            " ORDER BY TABLE_SCHEMA, TABLE_NAME",
            names,
        ):
            options: list[tuple[str, str]] = []
            if engine and engine.lower() != self.server.default_engine.lower():
                options.append(("engine", engine))
            if collation and collation != defaults.get(schema):
                options += [("charset", charset_of(collation)), ("collation", collation)]
            tables[(schema, name)] = TableBuild(name, collation, comment or None, sorted(options))
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
    )


# --- planning ----------------------------------------------------------------------------

# The order of sub-commands inside one ALTER TABLE: constraints go before the columns
# they use, new columns exist before keys on them are added.
CLAUSE_ORDER = (
    "drop_check",
    "drop_fk",
    "drop_index",
    "drop_pk",
    "drop_column",
    "add_column",
    "modify_column",
    "add_pk",
    "add_index",
    "add_fk",
    "add_check",
    "option",
)


class Planner:
    """Renders ordered changes; names are schema-qualified only in realm scope."""

    def __init__(self, scope: Scope, flavor: str, server: ServerInfo | None = None) -> None:
        self.scope = scope
        self.flavor = flavor
        self.server = server

    def qualified(self, schema: str, name: str) -> str:
        if self.scope.bound is not None:
            return quote(name)
        return f"{quote(schema)}.{quote(name)}"

    def change(self, change: Change) -> list[PlannedStatement]:
        if isinstance(change, AddSchema):
            return [self.create_schema(change.schema)]
        if isinstance(change, DropSchema):
            name = change.schema.name
            return [PlannedStatement(f"DROP DATABASE {quote(name)}", f'Drop schema named "{name}"')]
        if isinstance(change, ModifySchema):
            return self.modify_schema(change)
        if isinstance(change, AddTable):
            return [self.create_table(change.schema, change.table)]
        if isinstance(change, DropTable):
            return [
                PlannedStatement(
                    f"DROP TABLE {self.qualified(change.schema, change.table.name)}",
                    f'Drop "{change.table.name}" table',
                )
            ]
        return self.modify_table(change)

    # schemas

    def create_schema(self, schema: Schema) -> PlannedStatement:
        sql = f"CREATE DATABASE {quote(schema.name)}"
        if schema.charset:
            sql += f" CHARSET {schema.charset}"
        if schema.collation:
            sql += f" COLLATE {schema.collation}"
        if schema.comment and self.flavor == MARIADB:
            sql += f" COMMENT {quote_string(schema.comment)}"
        return PlannedStatement(sql, f'Add new schema named "{schema.name}"')

    def modify_schema(self, change: ModifySchema) -> list[PlannedStatement]:
        before, after = change.before, change.after
        options = []
        if (before.charset, before.collation) != (after.charset, after.collation):
            charset, collation = after.charset, after.collation
            if collation is None:
                if self.server is None:
                    raise UnsupportedChangeError(
                        f'schema "{after.name}": resetting the collation needs the '
                        "server's default; inspect the database first"
                    )
                charset, collation = self.server.charset, self.server.collation
            options.append(f"CHARSET {charset or charset_of(collation)} COLLATE {collation}")
        if before.comment != after.comment and self.flavor == MARIADB:
            options.append(f"COMMENT {quote_string(after.comment or '')}")
        if not options:
            return []
        return [
            PlannedStatement(
                f"ALTER DATABASE {quote(after.name)} {' '.join(options)}",
                f'Modify "{after.name}" schema',
            )
        ]

    # tables

    def inline_check(self, table: Table, column: str) -> Check | None:
        """MariaDB: a check named after a column is that column's (inline) check.

        MariaDB names column-level checks after their column, refuses DROP CONSTRAINT
        for them and drops them on every MODIFY COLUMN that does not repeat them; so
        they are written inline in the column definition, where they stay column-level.
        """
        if self.flavor != MARIADB:
            return None
        for check in table.checks:
            if check.name == column:
                return check
        return None

    def is_inline(self, table: Table, check: Check) -> bool:
        return (
            self.flavor == MARIADB
            and check.name is not None
            and table.column(check.name) is not None
        )

    def column(self, table: Table, column: Column) -> str:
        return column_definition(column, self.inline_check(table, column.name))

    def create_table(self, schema: str, table: Table) -> PlannedStatement:
        lines = [self.column(table, c) for c in table.columns]
        if table.primary_key is not None:
            lines.append(primary_key_clause(table.primary_key))
        lines.extend(index_clause(i) for i in table.indexes)
        lines.extend(self.foreign_key(schema, fk) for fk in table.foreign_keys)
        lines.extend(check_clause(c) for c in table.checks if not self.is_inline(table, c))
        body = ",\n  ".join(lines)
        options = table_options(table)
        suffix = f" {options}" if options else ""
        return PlannedStatement(
            f"CREATE TABLE {self.qualified(schema, table.name)} (\n  {body}\n){suffix}",
            f'Create "{table.name}" table',
        )

    def foreign_key(self, schema: str, fk: ForeignKey) -> str:
        cols = ", ".join(quote(c) for c in fk.columns)
        refs = ", ".join(quote(c) for c in fk.ref_columns)
        if self.scope.bound is None:
            target = self.qualified(fk.ref_schema or schema, fk.ref_table)
        elif fk.ref_schema:
            target = f"{quote(fk.ref_schema)}.{quote(fk.ref_table)}"
        else:
            target = quote(fk.ref_table)
        clause = f"CONSTRAINT {quote(fk.name)} FOREIGN KEY ({cols}) REFERENCES {target} ({refs})"
        # The action the server reports when none is written (MariaDB says RESTRICT,
        # MySQL NO ACTION) is left out, so plans read like the SQL that was written.
        implied = "RESTRICT" if self.flavor == MARIADB else "NO ACTION"
        if fk.on_update != implied:
            clause += f" ON UPDATE {fk.on_update}"
        if fk.on_delete != implied:
            clause += f" ON DELETE {fk.on_delete}"
        return clause

    def modify_table(self, change: ModifyTable) -> list[PlannedStatement]:
        clauses: dict[str, list[str]] = defaultdict(list)
        rewrite: set[str] = set()
        recreate: set[str] = set()
        for c in change.changes:
            self.table_change(change, c, clauses, rewrite, recreate)
        rewrite = (rewrite | columns_following_table_charset(change)) - recreate
        for column in change.after.columns:
            definition = self.column(change.after, column)
            if column.name in recreate:
                clauses["drop_column"].append(f"DROP COLUMN {quote(column.name)}")
                clauses["add_column"].append(f"ADD COLUMN {definition}")
            elif column.name in rewrite:
                clauses["modify_column"].append(f"MODIFY COLUMN {definition}")
        for index in indexes_to_rebuild(change, recreate):
            clauses["drop_index"].append(f"DROP INDEX {quote(index.name)}")
            clauses["add_index"].append(f"ADD {index_clause(index)}")
        ordered = [clause for kind in CLAUSE_ORDER for clause in clauses.get(kind, [])]
        if not ordered:
            return []
        name = self.qualified(change.schema, change.after.name)
        return [
            PlannedStatement(
                f"ALTER TABLE {name} {', '.join(ordered)}", f'Modify "{change.after.name}" table'
            )
        ]

    def table_change(
        self,
        change: ModifyTable,
        c: TableChange,
        clauses: dict[str, list[str]],
        rewrite: set[str],
        recreate: set[str],
    ) -> None:
        """Adds one change's sub-commands; columns to MODIFY (or drop and add again) are
        collected in `rewrite` (`recreate`) and written once each."""
        if isinstance(c, AddColumn):
            clauses["add_column"].append(f"ADD COLUMN {self.column(change.after, c.column)}")
        elif isinstance(c, DropColumn):
            clauses["drop_column"].append(f"DROP COLUMN {quote(c.column.name)}")
        elif isinstance(c, ModifyColumn):
            (recreate if needs_recreate(c.before, c.after) else rewrite).add(c.after.name)
        elif isinstance(c, (AddIndex, DropIndex, ModifyIndex)):
            index_change(c, clauses)
        elif isinstance(c, (AddPrimaryKey, DropPrimaryKey, ModifyPrimaryKey)):
            primary_key_change(c, clauses)
        elif isinstance(c, (AddForeignKey, DropForeignKey, ModifyForeignKey)):
            self.foreign_key_change(change.schema, c, clauses)
        elif isinstance(c, (AddCheck, DropCheck, ModifyCheck)):
            self.check_change(change, c, clauses, rewrite)
        elif isinstance(c, ModifyTableAttr):
            clauses["option"].append(self.table_attr(c))

    def foreign_key_change(
        self,
        schema: str,
        c: AddForeignKey | DropForeignKey | ModifyForeignKey,
        clauses: dict[str, list[str]],
    ) -> None:
        dropped = c.foreign_key if isinstance(c, DropForeignKey) else None
        added = c.foreign_key if isinstance(c, AddForeignKey) else None
        if isinstance(c, ModifyForeignKey):
            dropped, added = c.before, c.after
        if dropped is not None:
            clauses["drop_fk"].append(f"DROP FOREIGN KEY {quote(dropped.name)}")
        if added is not None:
            clauses["add_fk"].append(f"ADD {self.foreign_key(schema, added)}")

    def check_change(
        self,
        change: ModifyTable,
        c: AddCheck | DropCheck | ModifyCheck,
        clauses: dict[str, list[str]],
        rewrite: set[str],
    ) -> None:
        dropped = c.check if isinstance(c, DropCheck) else None
        added = c.check if isinstance(c, AddCheck) else None
        if isinstance(c, ModifyCheck):
            dropped, added = c.before, c.after
        before, after = change.before, change.after
        if dropped is not None:
            if self.is_inline(before, dropped):
                # Gone with a dropped column, or dropped by redefining the column.
                if after.column(dropped.name or "") is not None:
                    rewrite.add(dropped.name or "")
            else:
                clauses["drop_check"].append(self.drop_check(dropped))
        if added is not None:
            if self.is_inline(after, added):
                # A new column carries it in ADD COLUMN; an existing one is redefined.
                if before.column(added.name or "") is not None:
                    rewrite.add(added.name or "")
            else:
                clauses["add_check"].append(f"ADD {check_clause(added)}")

    def drop_check(self, check: Check) -> str:
        if check.name is None:
            raise UnsupportedChangeError(f"cannot drop the unnamed check ({check.expr})")
        keyword = "CONSTRAINT" if self.flavor == MARIADB else "CHECK"
        return f"DROP {keyword} {quote(check.name)}"

    def table_attr(self, c: ModifyTableAttr) -> str:
        if c.name == "comment":
            return f"COMMENT {quote_string(c.after or '')}"
        if c.name == "engine":
            default = self.server.default_engine if self.server else "InnoDB"
            return f"ENGINE {c.after or default}"
        if c.name == "charset":
            # DEFAULT: the schema's character set, which an absent option stands for.
            return f"CHARSET {c.after or 'DEFAULT'}"
        if c.name == "collation":
            return f"COLLATE {c.after or 'DEFAULT'}"
        raise UnsupportedChangeError(f'MySQL has no table option "{c.name}"')


def generation_kind(column: Column) -> str:
    if column.generated is None:
        return "regular"
    return "stored" if column.generated.stored else "virtual"


def needs_recreate(before: Column, after: Column) -> bool:
    """Whether MODIFY COLUMN cannot make the change (error 1907 on both flavours).

    A column can turn from regular to STORED generated and back, but not into or out
    of VIRTUAL: it is dropped and added again (a VIRTUAL column holds no data to lose;
    a regular column turned VIRTUAL is computed from then on).
    """
    kinds = {generation_kind(before), generation_kind(after)}
    return len(kinds) == 2 and "virtual" in kinds


def indexes_to_rebuild(change: ModifyTable, recreate: set[str]) -> list[Index]:
    """Unchanged indexes a statement must drop and create again to keep them as they are.

    - Indexes on a column that is dropped and added again would vanish with it.
    - An index the server created implicitly for a foreign key is renamed after the
      next key added on its columns (the table is copied and the "generated" index
      takes the new constraint's name). Created again explicitly in the same
      statement, it keeps its name.
    """
    changed = {
        i.name
        for c in change.changes
        if isinstance(c, (AddIndex, DropIndex, ModifyIndex))
        for i in ((c.before, c.after) if isinstance(c, ModifyIndex) else (c.index,))
    }
    added_fks = [
        c.after if isinstance(c, ModifyForeignKey) else c.foreign_key
        for c in change.changes
        if isinstance(c, (AddForeignKey, ModifyForeignKey))
    ]
    rebuilt = []
    for index in change.after.indexes:
        if index.name in changed or change.before.index(index.name) != index:
            continue
        if recreate & set(index.columns) or any(may_rename(index, fk) for fk in added_fks):
            rebuilt.append(index)
    return rebuilt


def may_rename(index: Index, fk: ForeignKey) -> bool:
    """Whether `index` could be the server's implicit index for `fk`'s columns."""
    plain = all(p.column is not None and p.prefix is None for p in index.parts)
    leading = tuple(p.column for p in index.parts[: len(fk.columns)])
    return (
        plain
        and not index.unique
        and index.method is None
        and leading == fk.columns
        and index.name != fk.name
    )


def columns_following_table_charset(change: ModifyTable) -> set[str]:
    """Text columns that take the table's default, when that default changes.

    ALTER TABLE … CHARSET only changes the default for later columns; the existing
    ones keep their collation and would no longer match the desired state. Redefined
    in the same statement, they take the new default, as they would in CREATE TABLE.
    """
    options = {"charset", "collation"}
    if not any(isinstance(c, ModifyTableAttr) and c.name in options for c in change.changes):
        return set()
    return {
        column.name
        for column in change.after.columns
        if column.collation is None
        and column.generated is None
        and base_type(column.type) in TEXT_TYPES
        and change.before.column(column.name) is not None
    }


def column_definition(column: Column, inline_check: Check | None = None) -> str:
    parts = [quote(column.name), column.type]
    if column.charset:
        parts.append(f"CHARACTER SET {column.charset}")
    if column.collation:
        parts.append(f"COLLATE {column.collation}")
    if column.generated is not None:
        kind = "STORED" if column.generated.stored else "VIRTUAL"
        parts.append(f"GENERATED ALWAYS AS ({strip_parens(column.generated.expr)}) {kind}")
        if not column.nullable:  # MariaDB accepts no NULL/NOT NULL on generated columns
            parts.append("NOT NULL")
    else:
        parts.append("NULL" if column.nullable else "NOT NULL")
        if column.default is not None:
            parts.append(f"DEFAULT {column.default}")
    if column.auto_increment:
        parts.append("AUTO_INCREMENT")
    if column.on_update:
        parts.append(f"ON UPDATE {column.on_update}")
    if column.comment is not None:
        parts.append(f"COMMENT {quote_string(column.comment)}")
    if inline_check is not None:
        parts.append(f"CHECK ({strip_parens(inline_check.expr)})")
    return " ".join(parts)


def primary_key_clause(pk: PrimaryKey) -> str:
    return f"PRIMARY KEY ({', '.join(quote(c) for c in pk.columns)})"


def index_kind(index: Index) -> str:
    """`UNIQUE `, `FULLTEXT `, `SPATIAL ` or nothing, before the INDEX keyword."""
    if index.method in ("FULLTEXT", "SPATIAL"):
        return f"{index.method} "
    return "UNIQUE " if index.unique else ""


def index_clause(index: Index) -> str:
    clause = f"{index_kind(index)}INDEX {quote(index.name)} ({index_parts(index.parts)})"
    if index.method and index.method not in ("FULLTEXT", "SPATIAL"):
        clause += f" USING {index.method}"
    if index.comment:
        clause += f" COMMENT {quote_string(index.comment)}"
    return clause


def index_parts(parts: Iterable[IndexPart]) -> str:
    rendered = []
    for part in parts:
        if part.column is not None:
            text = quote(part.column)
            if part.prefix:
                text += f"({part.prefix})"
        else:
            text = f"({strip_parens(part.expr or '')})"
        rendered.append(text + (" DESC" if part.desc else ""))
    return ", ".join(rendered)


def index_change(c: AddIndex | DropIndex | ModifyIndex, clauses: dict[str, list[str]]) -> None:
    dropped = c.index if isinstance(c, DropIndex) else None
    added = c.index if isinstance(c, AddIndex) else None
    if isinstance(c, ModifyIndex):
        dropped, added = c.before, c.after
    if dropped is not None:
        clauses["drop_index"].append(f"DROP INDEX {quote(dropped.name)}")
    if added is not None:
        clauses["add_index"].append(f"ADD {index_clause(added)}")


def primary_key_change(
    c: AddPrimaryKey | DropPrimaryKey | ModifyPrimaryKey, clauses: dict[str, list[str]]
) -> None:
    if isinstance(c, (DropPrimaryKey, ModifyPrimaryKey)):
        clauses["drop_pk"].append("DROP PRIMARY KEY")
    if isinstance(c, AddPrimaryKey):
        clauses["add_pk"].append(f"ADD {primary_key_clause(c.primary_key)}")
    elif isinstance(c, ModifyPrimaryKey):
        clauses["add_pk"].append(f"ADD {primary_key_clause(c.after)}")


def check_clause(check: Check) -> str:
    prefix = f"CONSTRAINT {quote(check.name)} " if check.name else ""
    return f"{prefix}CHECK ({strip_parens(check.expr)})"


def table_options(table: Table) -> str:
    rendered = []
    keywords = {"engine": "ENGINE", "charset": "CHARSET", "collation": "COLLATE"}
    for name in ("engine", "charset", "collation"):
        value = table.option(name)
        if value:
            rendered.append(f"{keywords[name]} {value}")
    unknown = sorted({n for n, _ in table.options} - set(keywords))
    if unknown:
        raise UnsupportedChangeError(
            f'table "{table.name}": MySQL has no table option {", ".join(unknown)}'
        )
    if table.comment is not None:
        rendered.append(f"COMMENT {quote_string(table.comment)}")
    return " ".join(rendered)
