"""PostgreSQL session: the psycopg connection, server error messages and quoting."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from atlas_operator.engine.drivers.base import DatabaseError, Session
from atlas_operator.engine.urls import DatabaseURL

CONNECT_TIMEOUT = 10


class PostgresSession(Session):
    """An autocommit connection: transactions are explicit BEGIN/COMMIT/ROLLBACK, so the
    executor decides what runs inside one (CREATE INDEX CONCURRENTLY must not)."""

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        try:
            self.conn = psycopg.connect(
                url.dsn_for_psycopg(), autocommit=True, connect_timeout=CONNECT_TIMEOUT
            )
        except psycopg.Error as err:
            reason = scrub(one_line(str(err)), url)
            raise DatabaseError(f"cannot connect to {url.redacted()}: {reason}") from None
        if url.schema is not None:
            # Unqualified DDL and catalog output (regclass, format_type) then name
            # objects of the bound schema without a qualifier, as Atlas prints them.
            try:
                self.execute(f"SET search_path TO {quote(url.schema)}")
            except DatabaseError:
                self.conn.close()
                raise

    def execute(self, sql: str) -> None:
        try:
            # Bytes: no parameters, so `%` in the statement is never a placeholder.
            self.conn.execute(sql.encode())
        except psycopg.Error as err:
            raise DatabaseError(scrub(server_message(err, sql), self.url)) from None

    scripts = True

    def execute_script(self, texts: Sequence[str]) -> None:
        # Without parameters psycopg uses the simple query protocol, which takes many
        # statements at once; "\n;" ends a statement even after a trailing line comment.
        script = "\n".join(t if t.rstrip().endswith(";") else t + "\n;" for t in texts)
        self.execute(script)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            cursor = self.conn.execute(sql.encode(), tuple(params) if params else None)
            # INSERT/UPDATE/DELETE return no rows (and psycopg refuses fetchall on them).
            return list(cursor.fetchall()) if cursor.description is not None else []
        except psycopg.Error as err:
            raise DatabaseError(scrub(server_message(err, sql), self.url)) from None

    @property
    def in_transaction(self) -> bool:
        return self.conn.info.transaction_status != TransactionStatus.IDLE

    def begin(self) -> None:
        self.execute("BEGIN")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()


def one_line(text: str) -> str:
    return " ".join(text.split())


def scrub(message: str, url: DatabaseURL) -> str:
    """Belt and braces: a client message should never hold the password, and now cannot."""
    if url.password:
        message = message.replace(url.password, "xxxxx")
    return message


def server_message(err: psycopg.Error, sql: str) -> str:
    """The server's own words: primary message, where in the statement, and the detail."""
    diag = err.diag
    if not diag.message_primary:
        return one_line(str(err)) or type(err).__name__
    message = diag.message_primary
    if diag.statement_position:
        message += f" ({position_text(sql, int(diag.statement_position))})"
    if diag.message_detail:
        message += f": {one_line(diag.message_detail)}"
    return message


def position_text(sql: str, position: int) -> str:
    """A 1-based character position as `line L, column C`."""
    before = sql[: max(position - 1, 0)]
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    return f"line {line}, column {column}"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
