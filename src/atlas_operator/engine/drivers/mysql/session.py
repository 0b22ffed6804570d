"""MySQL/MariaDB session: the PyMySQL connection, server info, error text and quoting."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pymysql
from pymysql.constants import CLIENT

from atlas_operator.engine.drivers.base import DatabaseError, Session
from atlas_operator.engine.urls import DatabaseURL

MYSQL = "mysql"
MARIADB = "mariadb"
FLAVORS = (MYSQL, MARIADB)
SERVER_QUERY = (
    "SELECT VERSION(), @@default_storage_engine, @@character_set_server, @@collation_server"
)
# What a new session runs once: the server, and the sql_mode the session starts with.
CONNECT_QUERY = SERVER_QUERY + ", @@SESSION.sql_mode"


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

    @property
    def has_compound_statements(self) -> bool:
        """MariaDB runs `BEGIN NOT ATOMIC … END` outside stored programs: many SHOW
        statements go in one round trip. MySQL has no such block."""
        return self.flavor == MARIADB

    @property
    def keeps_view_column_lists(self) -> bool:
        """MySQL keeps `CREATE VIEW v (a, b)`'s column list apart from the query (only
        SHOW CREATE VIEW prints it); MariaDB turns it into the select list's aliases."""
        return self.flavor == MYSQL

    @property
    def replica_disable_clause(self) -> str:
        """How an event is disabled on replicas only (status SLAVESIDE_DISABLED)."""
        if self.flavor == MYSQL and self.number >= (8, 0, 22):
            return "DISABLE ON REPLICA"
        return "DISABLE ON SLAVE"


class MySQLSession(Session):
    """A PyMySQL connection in autocommit mode; transactions are explicit."""

    def __init__(self, url: DatabaseURL, *, multi_statements: bool = False) -> None:
        self.url = url
        self.scripts = multi_statements
        try:
            self.conn = pymysql.connect(
                **url.pymysql_kwargs(),
                autocommit=True,
                connect_timeout=10,
                # Lets `execute_script` send a batch in one round trip, as the mysql
                # client does (migration sessions only: see Driver.open_for_migrations).
                client_flag=CLIENT.MULTI_STATEMENTS if multi_statements else 0,
            )
        except pymysql.MySQLError as err:
            raise DatabaseError(f"cannot connect to {url.redacted()}: {error_text(err)}") from None
        except OSError as err:  # name resolution and the like, before the protocol starts
            raise DatabaseError(f"cannot connect to {url.redacted()}: {err}") from None
        try:
            row = self.query(CONNECT_QUERY)[0]
        except DatabaseError:
            self.conn.close()
            raise
        version, engine, charset, collation, mode = (str(decode(v) or "") for v in row)
        self.server = ServerInfo(version, engine, charset, collation)
        self.sql_mode = normal_sql_mode(mode)
        """The sql_mode the session started with (a statement run on it may change the
        session's since; objects.py compares objects' modes against this one)."""

    @property
    def flavor(self) -> str:
        return self.server.flavor

    def execute(self, sql: str) -> None:
        try:
            with self.conn.cursor() as cursor:
                cursor.execute(sql)  # no arguments: PyMySQL leaves `%` in the text alone
        except pymysql.MySQLError as err:
            raise DatabaseError(error_text(err)) from None

    def execute_script(self, texts: Sequence[str]) -> None:
        if not self.scripts:
            super().execute_script(texts)
            return
        script = "\n".join(t if t.rstrip().endswith(";") else t + "\n;" for t in texts)
        try:
            with self.conn.cursor() as cursor:
                cursor.execute(script)
                while cursor.nextset():  # a later statement's error surfaces here
                    pass
        except pymysql.MySQLError as err:
            raise DatabaseError(error_text(err)) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self.conn.cursor() as cursor:
                cursor.execute(sql, tuple(params) if params else None)
                return [tuple(row) for row in cursor.fetchall()]
        except pymysql.MySQLError as err:
            raise DatabaseError(error_text(err)) from None

    def query_sets(self, sql: str) -> list[list[tuple[Any, ...]]]:
        """Every result set of one statement, in order: a MariaDB compound statement
        (`BEGIN NOT ATOMIC … END`) returns one per query in it, in one round trip."""
        try:
            with self.conn.cursor() as cursor:
                cursor.execute(sql)
                sets = [[tuple(row) for row in cursor.fetchall()]]
                while cursor.nextset():
                    sets.append([tuple(row) for row in cursor.fetchall()])
                return sets
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


def normal_sql_mode(mode: str | None) -> str:
    """An sql_mode as a set of flags: upper-cased, sorted, comma-joined (the server
    prints them in its own order, which says nothing)."""
    return ",".join(sorted({f.strip().upper() for f in (mode or "").split(",") if f.strip()}))


def session_sql_mode(session: Session) -> str:
    """The sql_mode `session` started with (`normal_sql_mode`): what objects created on
    it without an sql_mode of their own get. Read when connecting on our own sessions;
    on another session, its current one."""
    if isinstance(session, MySQLSession):
        return session.sql_mode
    rows = session.query("SELECT @@SESSION.sql_mode")
    return normal_sql_mode(str(decode(rows[0][0]) or "") if rows else "")


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def quote_string(value: str, sql_mode: str = "") -> str:
    """A string literal; backslashes are escapes in MySQL unless the `sql_mode` the
    statement runs under has NO_BACKSLASH_ESCAPES."""
    if "NO_BACKSLASH_ESCAPES" not in sql_mode.upper().split(","):
        value = value.replace("\\", "\\\\")
    return "'" + value.replace("'", "''") + "'"
