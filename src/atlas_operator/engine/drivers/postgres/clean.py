"""PostgreSQL dev-database cleaning: `clean`, `is_clean`, the dev-run marker and
unmanaged-object listing.

The marker (engine/devrun.py) is a table `atlas_dev_marker` in a bound dev schema, and
a schema `atlas_dev_marker` of its own in realm scope (a desired state may drop and
recreate `public`); `clean` and `is_clean` leave it out, so it is removed last, by
`unmark`.

What is cleaned: every relation (tables, partitioned tables with their partitions,
views, materialized views, foreign tables, sequences), routine (functions,
procedures, aggregates), operator, operator family, type, domain, collation and text
search configuration or dictionary in the scope's schemas; policies, triggers, rules
and statistics go with their tables. Objects an extension owns go with the extension.

Database-wide objects (extensions, event triggers) and, in a bound scope, schemas
other than the bound one cannot be told apart from what the dev database holds for
other users. So the marker records a baseline (`mark`: the names of the schemas,
extensions and event triggers present when the run started, as JSON in the marker's
comment) and `clean` drops only what is not in it: what the run created, wherever it
lives. What the dev database had before the run is never dropped, in any scope. A
marker without a baseline (none, or one written by an older version) leaves these
objects alone, and `is_clean` counts them only when there is a baseline.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

from atlas_operator.engine.drivers.base import DEV_MARKER, Scope, Session
from atlas_operator.engine.drivers.postgres.inspect import (
    NOT_EXTENSION_MEMBER,
    SYSTEM_SCHEMAS,
    TEMP_SCHEMA,
    user_schemas,
)
from atlas_operator.engine.drivers.postgres.session import PostgresSession, quote, quote_string
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
    # Extension members, and sequences owned by a column (serial, identity). Not the
    # partition key's dependencies of a partitioned table on its own columns.
    " AND NOT EXISTS (SELECT 1 FROM pg_depend d"
    "   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refobjid <> c.oid"
    "   AND (d.deptype = 'e' OR d.deptype IN ('i', 'a') AND d.refobjsubid <> 0))"
    # Partitions go with their parent, unless the parent is out of these schemas.
    " AND NOT EXISTS (SELECT 1 FROM pg_inherits h JOIN pg_class pc ON pc.oid = h.inhparent"
    "   JOIN pg_namespace pn ON pn.oid = pc.relnamespace"
    "   WHERE h.inhrelid = c.oid AND c.relispartition AND pn.nspname = ANY (%s))"
    " UNION ALL"
    " SELECT 'ROUTINE', quote_ident(n.nspname) || '.' || quote_ident(p.proname)"
    "   || '(' || pg_get_function_identity_arguments(p.oid) || ')'"
    " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    # Not the constructors a range type owns (internal dependency): they go with it.
    " WHERE n.nspname = ANY (%s) AND NOT EXISTS (SELECT 1 FROM pg_depend d"
    "   WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype IN ('e', 'i'))"
    " UNION ALL"
    " SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,"
    "   quote_ident(n.nspname) || '.' || quote_ident(t.typname)" + USER_TYPES + " UNION ALL"
    " SELECT 'COLLATION', quote_ident(n.nspname) || '.' || quote_ident(co.collname)"
    " FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace"
    " WHERE n.nspname = ANY (%s) AND "
    + NOT_EXTENSION_MEMBER.format(catalog="'pg_collation'", oid="co.oid")
    + " UNION ALL"
    " SELECT 'OPERATOR', quote_ident(n.nspname) || '.' || o.oprname"
    "   || '(' || COALESCE(format_type(NULLIF(o.oprleft, 0), NULL), 'NONE')"
    "   || ', ' || format_type(o.oprright, NULL) || ')'"
    " FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace"
    " WHERE n.nspname = ANY (%s) AND "
    + NOT_EXTENSION_MEMBER.format(catalog="'pg_operator'", oid="o.oid")
    + " UNION ALL"
    " SELECT 'OPERATOR FAMILY', quote_ident(n.nspname) || '.' || quote_ident(f.opfname)"
    "   || ' USING ' || quote_ident(am.amname)"
    " FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace"
    " JOIN pg_am am ON am.oid = f.opfmethod"
    " WHERE n.nspname = ANY (%s) AND "
    + NOT_EXTENSION_MEMBER.format(catalog="'pg_opfamily'", oid="f.oid")
    + " UNION ALL"
    " SELECT 'TEXT SEARCH CONFIGURATION', quote_ident(n.nspname) || '.' || quote_ident(t.cfgname)"
    " FROM pg_ts_config t JOIN pg_namespace n ON n.oid = t.cfgnamespace"
    " WHERE n.nspname = ANY (%s) AND "
    + NOT_EXTENSION_MEMBER.format(catalog="'pg_ts_config'", oid="t.oid")
    + " UNION ALL"
    " SELECT 'TEXT SEARCH DICTIONARY', quote_ident(n.nspname) || '.' || quote_ident(t.dictname)"
    " FROM pg_ts_dict t JOIN pg_namespace n ON n.oid = t.dictnamespace"
    " WHERE n.nspname = ANY (%s) AND "
    + NOT_EXTENSION_MEMBER.format(catalog="'pg_ts_dict'", oid="t.oid")
)
# Database-wide objects, for the baseline and for what a run created: (kind, name).
# Schemas an extension owns go with the extension.
DATABASE_WIDE_QUERY = (
    "SELECT 'SCHEMA', n.nspname FROM pg_namespace n"
    " WHERE n.nspname <> ALL (%s) AND n.nspname !~ %s AND "
    + NOT_EXTENSION_MEMBER.format(catalog="'pg_namespace'", oid="n.oid")
    + " UNION ALL SELECT 'EXTENSION', e.extname FROM pg_extension e"
    " UNION ALL SELECT 'EVENT TRIGGER', t.evtname FROM pg_event_trigger t WHERE "
    + NOT_EXTENSION_MEMBER.format(catalog="'pg_event_trigger'", oid="t.oid")
)
# Objects the model does not cover yet (DECISIONS §3.5): reported, never planned.
# Sequences owned by a column (serial, identity) and extension members are modelled
# through their owner or not ours to manage.
# Objects the model does not cover (DECISIONS §3.5): reported, never planned. Views,
# routines, triggers, sequences, enums, domains, composites, policies and extensions are
# modelled (objects.py); extension members and owned sequences are not the user's.
UNMANAGED_QUERY = (
    "SELECT 'foreign table', n.nspname, c.relname, NULL"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = ANY (%s) AND c.relkind = 'f' AND "
    + NOT_EXTENSION_MEMBER.format(catalog="'pg_class'", oid="c.oid")
    + " UNION ALL"
    " SELECT CASE p.prokind WHEN 'a' THEN 'aggregate' ELSE 'window function' END,"
    "   n.nspname, p.proname, NULL"
    " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    " WHERE n.nspname = ANY (%s) AND p.prokind IN ('a', 'w') AND "
    + NOT_EXTENSION_MEMBER.format(catalog="'pg_proc'", oid="p.oid")
    + " UNION ALL"
    " SELECT CASE t.typtype WHEN 'r' THEN 'range type' WHEN 'm' THEN 'range type'"
    "   ELSE 'type' END, n.nspname, t.typname, NULL"
    + USER_TYPES
    + " AND t.typtype NOT IN ('d', 'e', 'c', 'm')"
    " UNION ALL"
    " SELECT 'rule', n.nspname, rw.rulename, c.relname"
    " FROM pg_rewrite rw JOIN pg_class c ON c.oid = rw.ev_class"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = ANY (%s) AND rw.rulename <> '_RETURN'"
    " UNION ALL"
    " SELECT 'table inheritance', n.nspname, c.relname, p.relname"
    " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " JOIN pg_class p ON p.oid = i.inhparent"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = ANY (%s) AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
    " ORDER BY 2, 1, 3"
)
# Dependents first; CASCADE and IF EXISTS take care of whatever goes with an earlier drop.
# Event triggers go first: one could stand in the way of the other drops.
DROP_ORDER = (
    "EVENT TRIGGER",
    "SCHEMA",
    "MATERIALIZED VIEW",
    "VIEW",
    "FOREIGN TABLE",
    "TABLE",
    "SEQUENCE",
    "ROUTINE",
    "OPERATOR",
    "OPERATOR FAMILY",
    "DOMAIN",
    "TYPE",
    "COLLATION",
    "TEXT SEARCH CONFIGURATION",
    "TEXT SEARCH DICTIONARY",
    "EXTENSION",
)
ONE_PER_STATEMENT = frozenset({"EVENT TRIGGER", "OPERATOR FAMILY"})
"""Kinds whose DROP takes a single name."""


@dataclass(frozen=True)
class Baseline:
    """The database-wide objects a dev database had when a run marked it (by name)."""

    names: frozenset[tuple[str, str]]
    """(kind, name) pairs: kinds as in DATABASE_WIDE_QUERY."""


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
    statements: list[str] = []
    for kind in DROP_ORDER:
        names = by_kind[kind]
        groups = [[name] for name in names] if kind in ONE_PER_STATEMENT else [names]
        statements.extend(
            f"DROP {kind} IF EXISTS {', '.join(group)} CASCADE" for group in groups if group
        )
    return statements


def database_wide(session: Session) -> set[tuple[str, str]]:
    """(kind, name) of every user schema, extension and event trigger."""
    rows = session.query(DATABASE_WIDE_QUERY, [list(SYSTEM_SCHEMAS), TEMP_SCHEMA])
    return {(kind, name) for kind, name in rows}


def baseline(session: Session, scope: Scope) -> Baseline | None:
    """The baseline the marker keeps; None without a marker or without a record."""
    try:
        data = json.loads(marker_comment(session, scope) or "")
        return Baseline(frozenset((str(k), str(n)) for k, n in data["database_wide"]))
    except (ValueError, KeyError, TypeError):
        return None


def marker_comment(session: Session, scope: Scope) -> str | None:
    if scope.bound is None:
        query = "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s"
        params = [DEV_MARKER]
    else:
        query = (
            "SELECT obj_description(c.oid, 'pg_class') FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s"
        )
        params = [scope.bound, DEV_MARKER]
    rows = session.query(query, params)
    return str(rows[0][0]) if rows and rows[0][0] is not None else None


def created_by_run(session: Session, scope: Scope) -> list[tuple[str, str]]:
    """(kind, quoted name) of the database-wide objects (and, in a bound scope, schemas)
    that are not in the marker's baseline; none when there is no baseline. In realm scope
    schemas are left to `clean`, which drops all but `public`."""
    before = baseline(session, scope)
    if before is None:
        return []
    kept = {("SCHEMA", DEV_MARKER), ("SCHEMA", scope.bound or "public")}
    return [
        (kind, quote(name))
        for kind, name in sorted(database_wide(session) - before.names - kept)
        if kind != "SCHEMA" or scope.bound is not None
    ]


def unmanaged_objects(session: Session, scope: Scope) -> list[Unmanaged]:
    names = [name for name, _ in user_schemas(session) if scope.includes(name)]
    rows = session.query(UNMANAGED_QUERY, [names] * UNMANAGED_QUERY.count("%s"))
    # (Event triggers are modelled in realm scope, objects.py; a bound desired state
    # cannot create them.)
    return [Unmanaged(kind, schema, name, table) for kind, schema, name, table in rows]


def is_clean(session: Session, scope: Scope) -> bool:
    """Nothing droppable in scope: the bound schema, or (realm) only an empty `public`.

    Stricter than Atlas, which counts tables only: a leftover sequence, view, type
    or function would make the next load of the same desired SQL fail anyway. With a
    marker, what the marked run created outside the scope's schemas counts too."""
    if created_by_run(session, scope):
        return False
    if scope.bound is not None:
        return not droppable_objects(session, [scope.bound])
    schemas = [name for name, _ in user_schemas(session) if name != DEV_MARKER]
    if any(name != "public" for name in schemas):
        return False
    return not droppable_objects(session, schemas)


def clean(session: Session, scope: Scope) -> None:
    """Empties the bound schema; in realm scope drops every schema but `public`,
    which is emptied. Schemas that stay are emptied object by object rather than
    dropped and recreated, so their owner, grants and comment survive. Extensions,
    event triggers and (bound scope) other schemas go when the marked run created them
    (`created_by_run`)."""
    if isinstance(session, PostgresSession):
        session.rollback()  # a desired state may have left a transaction open
    created = created_by_run(session, scope)
    for statement in drop_statements([c for c in created if c[0] == "EVENT TRIGGER"]):
        session.execute(statement)
    if scope.bound is not None:
        keep = scope.bound
    else:
        keep = "public"
        others = [name for name, _ in user_schemas(session) if name not in (keep, DEV_MARKER)]
        if others:
            session.execute(f"DROP SCHEMA IF EXISTS {', '.join(map(quote, others))} CASCADE")
    leftovers = [c for c in created if c[0] != "EVENT TRIGGER"]
    for statement in drop_statements(droppable_objects(session, [keep]) + leftovers):
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
    """Creates the marker with the baseline in its comment, in one transaction."""
    if isinstance(session, PostgresSession):
        session.rollback()
    record = json.dumps({"database_wide": sorted(database_wide(session))})
    if scope.bound is None:
        target = f"SCHEMA {quote(DEV_MARKER)}"
        create = f"CREATE SCHEMA IF NOT EXISTS {quote(DEV_MARKER)}"
    else:
        target = f"TABLE {quote(scope.bound)}.{quote(DEV_MARKER)}"
        create = f"CREATE TABLE IF NOT EXISTS {quote(scope.bound)}.{quote(DEV_MARKER)} ()"
    session.execute(f"{create}; COMMENT ON {target} IS {quote_string(record)}")


def unmark(session: Session, scope: Scope) -> None:
    if isinstance(session, PostgresSession):
        session.rollback()
    if scope.bound is None:
        session.execute(f"DROP SCHEMA IF EXISTS {quote(DEV_MARKER)} CASCADE")
    else:
        session.execute(f"DROP TABLE IF EXISTS {quote(scope.bound)}.{quote(DEV_MARKER)}")
