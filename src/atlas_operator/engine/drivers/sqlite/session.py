"""SQLite session: the sqlite3 connection and quoting."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from atlas_operator.engine.drivers.base import DatabaseError, Session
from atlas_operator.engine.urls import DatabaseURL

MAIN = "main"


class SQLiteSession(Session):
    checks: Callable[[SQLiteSession, str], None] | None = None
    """Called after each statement `execute` ran, to refuse what SQLite accepts but
    cannot use (a desired state's view over a missing table: sandbox.py)."""

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        target, uri = url.sqlite_target()
        try:
            self.conn = sqlite3.connect(target, uri=uri, isolation_level=None)
        except sqlite3.Error as err:
            raise DatabaseError(f"cannot open {url.redacted()}: {err}") from None
        if url.params.get("_fk") in ("1", "true"):
            self.conn.execute("PRAGMA foreign_keys = on")

    def execute(self, sql: str) -> None:
        try:
            self.conn.execute(sql)
        except sqlite3.Error as err:
            raise DatabaseError(str(err)) from None
        if self.checks is not None:
            self.checks(self, sql)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self.conn.execute(sql, tuple(params)).fetchall())
        except sqlite3.Error as err:
            raise DatabaseError(str(err)) from None

    def begin(self) -> None:
        self.execute("BEGIN")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def quote_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
