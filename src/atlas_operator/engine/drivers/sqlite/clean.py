"""SQLite dev-database cleaning and the dev-run marker (a table `atlas_dev_marker`, left
out by `clean` and `is_clean`, removed last by `unmark`). Every object of `main` is
modelled (tables, indexes, views, triggers): nothing is listed as unmanaged."""

from __future__ import annotations

from atlas_operator.engine.drivers.base import DEV_MARKER, Scope, Session
from atlas_operator.engine.drivers.sqlite.session import quote

USER_OBJECTS = (
    "type IN ('table', 'view', 'trigger') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> ?"
)


def is_clean(session: Session) -> bool:
    """No table, view or trigger but the marker: a view or trigger a dead run left
    behind would otherwise be read as part of the next desired state."""
    return not session.query(
        f"SELECT 1 FROM sqlite_master WHERE {USER_OBJECTS} LIMIT 1", [DEV_MARKER]
    )


def clean(session: Session, scope: Scope) -> None:
    session.execute("PRAGMA foreign_keys = off")
    for kind, name in session.query(
        f"SELECT type, name FROM sqlite_master WHERE {USER_OBJECTS}", [DEV_MARKER]
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
