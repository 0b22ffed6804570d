"""PostgreSQL dev-database cleaning: `clean`, `is_clean`, the dev-run marker and
unmanaged-object listing.

The marker (engine/devrun.py) is a table `atlas_dev_marker` in a bound dev schema, and
a schema `atlas_dev_marker` of its own in realm scope (a desired state may drop and
recreate `public`); `clean` and `is_clean` leave it out, so it is removed last, by
`unmark`.
"""

from __future__ import annotations

from collections import defaultdict

from atlas_operator.engine.drivers.base import DEV_MARKER, Scope, Session
from atlas_operator.engine.drivers.postgres.inspect import NOT_EXTENSION_MEMBER, user_schemas
from atlas_operator.engine.drivers.postgres.session import PostgresSession, quote
from atlas_operator.engine.model import Unmanaged

# What `clean` drops and `is_clean` counts: relations, routines, types and collations,
# minus what goes with something else (owned and identity sequences, array and row
# types) and what extensions own. One query, whatever the number of objects.
# Types users create (enums, domains, ranges, composites), not those of tables, arrays
# or extensions.
USER_TYPES = (
    " FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
    " LEFT JOIN pg_class r ON r.oid = t.typrelid"
    " WHERE n.nspname = ANY (%s) AND (r.oid IS NULL OR r.relkind = 'c')"
    " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass"
    "   AND d.objid = t.oid AND d.deptype IN ('e', 'i'))"
)
DROPPABLE_QUERY = (
    "SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'"
    " WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,"
    " quote_ident(n.nspname) || '.' || quote_ident(c.relname)"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = ANY (%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"
    " AND NOT c.relispartition AND NOT EXISTS (SELECT 1 FROM pg_depend d"
    "   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid"
    "   AND d.deptype IN ('e', 'i', 'a'))"
    " UNION ALL"
    " SELECT 'ROUTINE', quote_ident(n.nspname) || '.' || quote_ident(p.proname)"
    "   || '(' || pg_get_function_identity_arguments(p.oid) || ')'"
    " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    " WHERE n.nspname = ANY (%s) AND "
    + NOT_EXTENSION_MEMBER.format(catalog="'pg_proc'", oid="p.oid")
    + " UNION ALL"
    " SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,"
    "   quote_ident(n.nspname) || '.' || quote_ident(t.typname)" + USER_TYPES + " UNION ALL"
    " SELECT 'COLLATION', quote_ident(n.nspname) || '.' || quote_ident(co.collname)"
    " FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace"
    " WHERE n.nspname = ANY (%s) AND "
    + NOT_EXTENSION_MEMBER.format(catalog="'pg_collation'", oid="co.oid")
)
# Objects the model does not cover yet (DECISIONS §3.5): reported, never planned.
# Sequences owned by a column (serial, identity) and extension members are modelled
# through their owner or not ours to manage.
UNMANAGED_QUERY = (
    "SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'"
    " WHEN 'f' THEN 'foreign table' ELSE 'sequence' END, n.nspname, c.relname, NULL"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = ANY (%s) AND c.relkind IN ('v', 'm', 'f', 'S')"
    " AND NOT EXISTS (SELECT 1 FROM pg_depend d"
    "   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid"
    "   AND d.deptype IN ('e', 'i', 'a'))"
    " UNION ALL"
    " SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'"
    "   ELSE 'function' END, n.nspname, p.proname, NULL"
    " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    " WHERE n.nspname = ANY (%s) AND "
    + NOT_EXTENSION_MEMBER.format(catalog="'pg_proc'", oid="p.oid")
    + " UNION ALL"
    " SELECT CASE t.typtype WHEN 'd' THEN 'domain' WHEN 'e' THEN 'enum'"
    "   WHEN 'r' THEN 'range type' ELSE 'type' END, n.nspname, t.typname, NULL"
    + USER_TYPES
    + " UNION ALL"
    " SELECT 'trigger', n.nspname, tg.tgname, c.relname"
    " FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = ANY (%s) AND NOT tg.tgisinternal"
    " UNION ALL"
    " SELECT 'extension', n.nspname, e.extname, NULL"
    " FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
    " WHERE n.nspname = ANY (%s)"
    " ORDER BY 2, 1, 3"
)
# Dependents first; CASCADE and IF EXISTS take care of whatever goes with an earlier drop.
DROP_ORDER = (
    "MATERIALIZED VIEW",
    "VIEW",
    "FOREIGN TABLE",
    "TABLE",
    "SEQUENCE",
    "ROUTINE",
    "DOMAIN",
    "TYPE",
    "COLLATION",
)


def droppable_objects(session: Session, schemas: list[str]) -> list[tuple[str, str]]:
    """(kind, qualified name) of every object `clean` drops in these schemas."""
    rows = session.query(DROPPABLE_QUERY, [schemas] * DROPPABLE_QUERY.count("%s"))
    return [(kind, name) for kind, name in rows if not is_marker(kind, name)]


def is_marker(kind: str, qualified: str) -> bool:
    return kind == "TABLE" and qualified.rsplit(".", 1)[-1] == DEV_MARKER


def drop_statements(objects: list[tuple[str, str]]) -> list[str]:
    """One DROP per kind, listing every object of that kind."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, name in objects:
        by_kind[kind].append(name)
    return [
        f"DROP {kind} IF EXISTS {', '.join(by_kind[kind])} CASCADE"
        for kind in DROP_ORDER
        if by_kind[kind]
    ]


def unmanaged_objects(session: Session, scope: Scope) -> list[Unmanaged]:
    names = [name for name, _ in user_schemas(session) if scope.includes(name)]
    rows = session.query(UNMANAGED_QUERY, [names] * UNMANAGED_QUERY.count("%s"))
    return [Unmanaged(kind, schema, name, table) for kind, schema, name, table in rows]


def is_clean(session: Session, scope: Scope) -> bool:
    """Nothing droppable in scope: the bound schema, or (realm) only an empty `public`.

    Stricter than Atlas, which counts tables only: a leftover sequence, view, type
    or function would make the next load of the same desired SQL fail anyway."""
    if scope.bound is not None:
        return not droppable_objects(session, [scope.bound])
    schemas = [name for name, _ in user_schemas(session) if name != DEV_MARKER]
    if any(name != "public" for name in schemas):
        return False
    return not droppable_objects(session, schemas)


def clean(session: Session, scope: Scope) -> None:
    """Empties the bound schema; in realm scope drops every schema but `public`,
    which is emptied. Schemas that stay are emptied object by object rather than
    dropped and recreated, so their owner, grants and comment survive."""
    if isinstance(session, PostgresSession):
        session.rollback()  # a desired state may have left a transaction open
    if scope.bound is not None:
        keep = scope.bound
    else:
        keep = "public"
        others = [name for name, _ in user_schemas(session) if name not in (keep, DEV_MARKER)]
        if others:
            session.execute(f"DROP SCHEMA IF EXISTS {', '.join(map(quote, others))} CASCADE")
    for statement in drop_statements(droppable_objects(session, [keep])):
        session.execute(statement)
    # Only when missing: CREATE SCHEMA needs the CREATE privilege even with IF NOT EXISTS.
    if not session.query("SELECT 1 FROM pg_namespace WHERE nspname = %s", [keep]):
        session.execute(f"CREATE SCHEMA {quote(keep)}")


def has_marker(session: Session, scope: Scope) -> bool:
    if scope.bound is None:
        query, params = "SELECT 1 FROM pg_namespace WHERE nspname = %s", [DEV_MARKER]
    else:
        query = (
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s"
        )
        params = [scope.bound, DEV_MARKER]
    return bool(session.query(query, params))


def mark(session: Session, scope: Scope) -> None:
    if isinstance(session, PostgresSession):
        session.rollback()
    if scope.bound is None:
        session.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(DEV_MARKER)}")
    else:
        session.execute(f"CREATE TABLE IF NOT EXISTS {quote(scope.bound)}.{quote(DEV_MARKER)} ()")


def unmark(session: Session, scope: Scope) -> None:
    if isinstance(session, PostgresSession):
        session.rollback()
    if scope.bound is None:
        session.execute(f"DROP SCHEMA IF EXISTS {quote(DEV_MARKER)} CASCADE")
    else:
        session.execute(f"DROP TABLE IF EXISTS {quote(scope.bound)}.{quote(DEV_MARKER)}")
