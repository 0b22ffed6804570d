"""SQLite dev-database cleaning, the dev-run marker (a table `atlas_dev_marker`, left
out by `clean` and removed last by `unmark`) and unmanaged-object listing."""

from __future__ import annotations

from atlas_operator.engine.drivers.base import DEV_MARKER, Scope, Session
from atlas_operator.engine.drivers.sqlite.session import quote
from atlas_operator.engine.model import Unmanaged


def unmanaged_objects(session: Session, scope: Scope) -> list[Unmanaged]:
    # Views and triggers: the model covers tables and indexes only (DECISIONS §3.5).
    rows = session.query(
        "SELECT type, name, CASE type WHEN 'trigger' THEN tbl_name END FROM sqlite_master"
        " WHERE type IN ('view', 'trigger') ORDER BY type, name"
    )
    schema = scope.bound or "main"
    return [Unmanaged(kind, schema, name, table) for kind, name, table in rows]


def clean(session: Session, scope: Scope) -> None:
    session.execute("PRAGMA foreign_keys = off")
    for kind, name in session.query(
        "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view', 'trigger')"
        " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> ?",
        [DEV_MARKER],
    ):
        session.execute(f"DROP {kind.upper()} IF EXISTS {quote(name)}")


def has_marker(session: Session) -> bool:
    return bool(
        session.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [DEV_MARKER])
    )


def mark(session: Session) -> None:
    session.execute(f"CREATE TABLE IF NOT EXISTS {quote(DEV_MARKER)} (id integer PRIMARY KEY)")


def unmark(session: Session) -> None:
    session.execute(f"DROP TABLE IF EXISTS {quote(DEV_MARKER)}")
