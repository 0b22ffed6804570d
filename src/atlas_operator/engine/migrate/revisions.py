"""The `atlas_schema_revisions` table, read and written the way Atlas does (reference §2.3).

Same columns, types per driver, placement and upsert rules as Atlas's ent schema, so a
database migrated by Atlas is up to date for us and the other way round.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from atlas_operator.engine.drivers.base import Driver, Session
from atlas_operator.engine.migrate.dir import MigrateError
from atlas_operator.engine.urls import DatabaseURL

TABLE = "atlas_schema_revisions"
DEFAULT_SCHEMA = "atlas_schema_revisions"
CLOUD_IDENTIFIER = ".atlas_cloud_identifier"

BASELINE, EXECUTED, RESOLVED = 1, 2, 4
# Versions and statement hashes are written as SQL literals only when they hold nothing
# a dialect could read specially (quotes, backslashes).
PLAIN = re.compile(r"[\w.,:+/=\[\]\" -]*")
TYPE_NAMES = {
    BASELINE: "baseline",
    EXECUTED: "applied",
    RESOLVED: "manually set",
    EXECUTED | RESOLVED: "applied + manually set",
}

COLUMNS = (
    "version",
    "description",
    "type",
    "applied",
    "total",
    "executed_at",
    "execution_time",
    "error",
    "error_stmt",
    "hash",
    "partial_hashes",
    "operator_version",
)
# On conflict everything is rewritten but the key, the description and the first write's time.
UPDATED = [c for c in COLUMNS if c not in ("version", "description", "executed_at")]


@dataclass
class Revision:
    version: str
    description: str = ""
    type: int = EXECUTED
    applied: int = 0
    total: int = 0
    executed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    execution_time: int = 0
    """Nanoseconds, as Go's time.Duration."""
    error: str | None = None
    error_stmt: str | None = None
    hash: str = ""
    partial_hashes: list[str] | None = None
    operator_version: str = ""

    @property
    def is_partial(self) -> bool:
        return self.applied != self.total

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, str(self.type))


def create_table_sql(driver: Driver, qualified: str) -> str:
    """The table as ent's migration engine creates it for Atlas, per driver."""
    if driver.name == "postgres":
        return (
            f"CREATE TABLE IF NOT EXISTS {qualified} ("
            '"version" character varying NOT NULL, "description" character varying NOT NULL,'
            ' "type" bigint NOT NULL DEFAULT 2, "applied" bigint NOT NULL DEFAULT 0,'
            ' "total" bigint NOT NULL DEFAULT 0, "executed_at" timestamptz NOT NULL,'
            ' "execution_time" bigint NOT NULL, "error" text NULL, "error_stmt" text NULL,'
            ' "hash" character varying NOT NULL, "partial_hashes" jsonb NULL,'
            ' "operator_version" character varying NOT NULL, PRIMARY KEY ("version"))'
        )
    if driver.name == "mysql":
        mariadb = getattr(driver, "flavor", "") == "mariadb"
        executed_at = "timestamp NULL" if mariadb else "timestamp NOT NULL"
        partial = "longtext NULL CHECK (json_valid(`partial_hashes`))" if mariadb else "json NULL"
        return (
            f"CREATE TABLE IF NOT EXISTS {qualified} ("
            "`version` varchar(255) NOT NULL, `description` varchar(255) NOT NULL,"
            " `type` bigint unsigned NOT NULL DEFAULT 2, `applied` bigint NOT NULL DEFAULT 0,"
            f" `total` bigint NOT NULL DEFAULT 0, `executed_at` {executed_at},"
            " `execution_time` bigint NOT NULL, `error` longtext NULL, `error_stmt` longtext NULL,"
            f" `hash` varchar(255) NOT NULL, `partial_hashes` {partial},"
            " `operator_version` varchar(255) NOT NULL, PRIMARY KEY (`version`))"
            " CHARSET utf8mb4 COLLATE utf8mb4_bin"
        )
    return (
        f"CREATE TABLE IF NOT EXISTS {qualified} ("
        "`version` text NOT NULL, `description` text NOT NULL,"
        " `type` integer NOT NULL DEFAULT 2, `applied` integer NOT NULL DEFAULT 0,"
        " `total` integer NOT NULL DEFAULT 0, `executed_at` datetime NOT NULL,"
        " `execution_time` integer NOT NULL, `error` text NULL, `error_stmt` text NULL,"
        " `hash` text NOT NULL, `partial_hashes` json NULL, `operator_version` text NOT NULL,"
        " PRIMARY KEY (`version`))"
    )


def revisions_schema(driver: Driver, url: DatabaseURL, override: str | None) -> str:
    """Where the table lives: the flag, else the bound schema, else its own schema."""
    if driver.name == "sqlite":
        if override and override != "main":
            raise MigrateError(
                f"cannot store revisions-table in a separate schema {override!r} with SQLite driver"
            )
        return "main"
    return override or url.schema or DEFAULT_SCHEMA


class RevisionStore:
    """Reads and upserts revisions on one session (inside the caller's transaction)."""

    def __init__(self, session: Session, driver: Driver, schema: str) -> None:
        self.session, self.driver, self.schema = session, driver, schema
        self.mark = "?" if driver.name == "sqlite" else "%s"

    def quote(self, name: str) -> str:
        if self.driver.name == "postgres":
            return '"' + name.replace('"', '""') + '"'
        return "`" + name.replace("`", "``") + "`"

    @property
    def qualified(self) -> str:
        if self.driver.name == "sqlite":
            return self.quote(TABLE)
        return f"{self.quote(self.schema)}.{self.quote(TABLE)}"

    def table_exists(self, schema: str | None = None) -> bool:
        schema = schema or self.schema
        if self.driver.name == "sqlite":
            sql = f"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = {self.mark}"
            return bool(self.session.query(sql, [TABLE]))
        sql = (
            "SELECT 1 FROM information_schema.tables"
            f" WHERE table_schema = {self.mark} AND table_name = {self.mark}"
        )
        return bool(self.session.query(sql, [schema, TABLE]))

    def ensure_table(self) -> None:
        if self.table_exists():
            return
        if self.driver.name == "postgres":
            self.session.execute(f"CREATE SCHEMA IF NOT EXISTS {self.quote(self.schema)}")
        elif self.driver.name == "mysql":
            self.session.execute(f"CREATE DATABASE IF NOT EXISTS {self.quote(self.schema)}")
        self.session.execute(create_table_sql(self.driver, self.qualified))

    def read_all(self) -> list[Revision]:
        """Every revision but Atlas Cloud's identifier row, in version (string) order."""
        if not self.table_exists():
            return []
        rows = self.session.query(f"SELECT {', '.join(COLUMNS)} FROM {self.qualified}")
        revisions = [revision_from_row(row) for row in rows if row[0] != CLOUD_IDENTIFIER]
        return sorted(revisions, key=lambda r: r.version)

    def read(self, version: str) -> Revision | None:
        sql = f"SELECT {', '.join(COLUMNS)} FROM {self.qualified} WHERE version = {self.mark}"
        rows = self.session.query(sql, [version])
        return revision_from_row(rows[0]) if rows else None

    def write(self, revision: Revision) -> None:
        values = self.values(revision)
        marks = ", ".join(self.value_mark(c) for c in COLUMNS)
        insert = f"INSERT INTO {self.qualified} ({', '.join(COLUMNS)}) VALUES ({marks})"
        if self.driver.name == "mysql":
            updates = ", ".join(f"`{c}` = VALUES(`{c}`)" for c in UPDATED)
            sql = f"{insert} ON DUPLICATE KEY UPDATE {updates}"
        else:
            updates = ", ".join(f"{self.quote(c)} = excluded.{self.quote(c)}" for c in UPDATED)
            sql = f"{insert} ON CONFLICT (version) DO UPDATE SET {updates}"
        self.session.query(sql, values)

    def update_progress(self, revision: Revision) -> None:
        """Writes only what progress changes, on a row `write` created."""
        sql = (
            f"UPDATE {self.qualified} SET applied = {self.mark},"
            f" partial_hashes = {self.value_mark('partial_hashes')}, error = {self.mark},"
            f" error_stmt = {self.mark}, execution_time = {self.mark} WHERE version = {self.mark}"
        )
        values = [
            revision.applied,
            json.dumps(revision.partial_hashes),
            revision.error,
            revision.error_stmt,
            revision.execution_time,
            revision.version,
        ]
        self.session.query(sql, values)

    def progress_sql(self, revision: Revision) -> str | None:
        """The O(1) progress update as one literal statement, to travel in the same round
        trip as the statements it counts; None when a value is not plain enough to be
        written as a literal safely (the caller then uses `write`)."""
        texts = [revision.version, json.dumps(revision.partial_hashes)]
        if not all(PLAIN.fullmatch(text) for text in texts):
            return None
        return (
            f"UPDATE {self.qualified} SET applied = {int(revision.applied)},"
            f" partial_hashes = '{texts[1]}', error = NULL, error_stmt = NULL,"
            f" execution_time = {int(revision.execution_time)} WHERE version = '{texts[0]}'"
        )

    def delete(self, version: str) -> None:
        self.session.query(f"DELETE FROM {self.qualified} WHERE version = {self.mark}", [version])

    def value_mark(self, column: str) -> str:
        if column == "partial_hashes" and self.driver.name == "postgres":
            return "CAST(%s AS jsonb)"
        return self.mark

    def values(self, r: Revision) -> list[Any]:
        executed_at: Any = r.executed_at
        if self.driver.name == "mysql":
            executed_at = r.executed_at.astimezone(UTC).replace(tzinfo=None)
        elif self.driver.name == "sqlite":
            executed_at = r.executed_at.astimezone(UTC).isoformat(sep=" ")
        return [
            r.version,
            r.description,
            r.type,
            r.applied,
            r.total,
            executed_at,
            r.execution_time,
            r.error,
            r.error_stmt,
            r.hash,
            json.dumps(r.partial_hashes),
            r.operator_version,
        ]


def revision_from_row(row: tuple[Any, ...]) -> Revision:
    executed_at = row[5]
    if isinstance(executed_at, str):
        executed_at = datetime.fromisoformat(executed_at)
    if isinstance(executed_at, datetime) and executed_at.tzinfo is None:
        executed_at = executed_at.replace(tzinfo=UTC)
    partial = row[10]
    if isinstance(partial, (str, bytes)):
        partial = json.loads(partial)
    return Revision(
        version=str(row[0]),
        description=str(row[1]),
        type=int(row[2]),
        applied=int(row[3]),
        total=int(row[4]),
        executed_at=executed_at or datetime.now(UTC),
        execution_time=int(row[6]),
        error=row[7],
        error_stmt=row[8],
        hash=str(row[9]),
        partial_hashes=list(partial) if partial else None,
        operator_version=str(row[11]),
    )
