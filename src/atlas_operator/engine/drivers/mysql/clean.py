"""MySQL/MariaDB dev-database cleaning: `clean`, `is_clean`, the dev-run marker and
unmanaged-object listing.

The marker (engine/devrun.py) is a table `atlas_dev_marker` in a bound dev database,
and a database `atlas_dev_marker` of its own in realm scope; `clean` and `is_clean`
leave it out, so it is removed last, by `unmark`.
"""

from __future__ import annotations

from atlas_operator.engine.drivers.base import DEV_MARKER, Scope, Session
from atlas_operator.engine.drivers.mysql.inspect import SYSTEM_SCHEMAS
from atlas_operator.engine.drivers.mysql.session import quote, text_rows
from atlas_operator.engine.model import Unmanaged

DROP_KINDS = {"VIEW": "VIEW", "SYSTEM VIEW": "VIEW", "SEQUENCE": "SEQUENCE"}


# Objects the model does not cover yet (DECISIONS §3.5): reported, never planned. Views,
# triggers, routines and events are modelled (objects.py); MariaDB's sequences are not.
UNMANAGED_QUERY = (
    "SELECT 'sequence', TABLE_SCHEMA, TABLE_NAME, NULL FROM information_schema.TABLES"
    " WHERE TABLE_SCHEMA IN ({names}) AND TABLE_TYPE = 'SEQUENCE' ORDER BY 2, 1, 3"
)
# What a bound dev database holds besides tables: what `is_clean` counts on top of them
# and `clean` drops after them (triggers go with their tables, views are TABLES rows).
ROUTINES_AND_EVENTS = (
    "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES"
    " WHERE ROUTINE_SCHEMA = %s UNION ALL SELECT 'EVENT', EVENT_NAME"
    " FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s"
)


def clean_statements(session: Session, scope: Scope) -> list[str]:
    """Realm: drop every database in scope; schema: every table (with its triggers),
    view, sequence, routine and event."""
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
        if name != DEV_MARKER
    ]
    # Routines and events do not go with the tables; left behind, the next load of the
    # same desired SQL would fail with "already exists".
    others = text_rows(session, ROUTINES_AND_EVENTS, [scope.bound, scope.bound])
    drops += [f"DROP {kind} IF EXISTS {quote(scope.bound)}.{quote(name)}" for kind, name in others]
    return drops


def user_schemas(session: Session, scope: Scope) -> list[str]:
    rows = text_rows(session, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY 1")
    return [n for (n,) in rows if n not in SYSTEM_SCHEMAS and n != DEV_MARKER and scope.includes(n)]


def unmanaged_objects(session: Session, scope: Scope) -> list[Unmanaged]:
    names = [scope.bound] if scope.bound is not None else user_schemas(session, scope)
    if not names:
        return []
    marks = ", ".join(["%s"] * len(names))
    query = UNMANAGED_QUERY.format(names=marks)
    rows = text_rows(session, query, names * UNMANAGED_QUERY.count("{names}"))
    return [Unmanaged(kind.lower(), schema, name, table) for kind, schema, name, table in rows]


def is_clean(session: Session, scope: Scope) -> bool:
    """The bound schema has no tables, views, routines or events (Atlas counts tables
    only, but a routine or event left behind would make the next load of the same
    desired state fail with "already exists"); a realm has no schemas."""
    if scope.bound is None:
        return not user_schemas(session, scope)
    rows = session.query(
        "SELECT (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s"
        " AND TABLE_NAME <> %s) + (SELECT COUNT(*) FROM (" + ROUTINES_AND_EVENTS + ") o)",
        [scope.bound, DEV_MARKER, scope.bound, scope.bound],
    )
    return int(rows[0][0]) == 0


def has_marker(session: Session, scope: Scope) -> bool:
    if scope.bound is None:
        query = "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s"
        params = [DEV_MARKER]
    else:
        query = (
            "SELECT COUNT(*) FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
        )
        params = [scope.bound, DEV_MARKER]
    return int(session.query(query, params)[0][0]) > 0


def mark(session: Session, scope: Scope) -> None:
    if scope.bound is None:
        session.execute(f"CREATE DATABASE IF NOT EXISTS {quote(DEV_MARKER)}")
        return
    # A primary key: servers with sql_require_primary_key refuse tables without one.
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {quote(scope.bound)}.{quote(DEV_MARKER)}"
        " (id int NOT NULL PRIMARY KEY)"
    )


def unmark(session: Session, scope: Scope) -> None:
    if scope.bound is None:
        session.execute(f"DROP DATABASE IF EXISTS {quote(DEV_MARKER)}")
        return
    session.execute(f"DROP TABLE IF EXISTS {quote(scope.bound)}.{quote(DEV_MARKER)}")


def clean(session: Session, scope: Scope) -> None:
    checks = session.query("SELECT @@FOREIGN_KEY_CHECKS")[0][0]
    # Tables (and databases) reference each other; without the checks any order works.
    session.execute("SET FOREIGN_KEY_CHECKS = 0")
    try:
        for statement in clean_statements(session, scope):
            session.execute(statement)
    finally:
        session.execute(f"SET FOREIGN_KEY_CHECKS = {int(checks)}")
