"""PostgreSQL inspection of schema objects other than tables: sequences, enums, domains,
composite types, views, materialized views, functions, procedures, triggers, policies,
and extensions, and the dependencies between them and tables.

One catalog query per kind, whatever the number of objects. Definitions come from the
server's own deparsers (`pg_get_viewdef`, `pg_get_functiondef`, `pg_get_triggerdef`,
`pg_get_expr`, `pg_get_constraintdef`, `format_type`), so both sides of a diff are in
the database's normal form. Objects an extension owns (`pg_depend` deptype `e`) are not
the user's and never appear.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field

from atlas_operator.engine.drivers.base import Scope, Session
from atlas_operator.engine.drivers.postgres.body import normal_form
from atlas_operator.engine.model import Dependency, ObjectRef, SchemaObject

EXTENSION_MEMBER = (
    "EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = {catalog}::regclass"
    " AND e.objid = {oid} AND e.deptype = 'e')"
)


def not_member(catalog: str, oid: str) -> str:
    return "NOT " + EXTENSION_MEMBER.format(catalog=f"'{catalog}'", oid=oid)


SEQUENCES_QUERY = (
    """
SELECT c.oid, n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart,
  s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
  obj_description(c.oid, 'pg_class'), own.relname, own.attname
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN LATERAL (
  SELECT t.relname, a.attname, d.adbin, d.adrelid FROM pg_depend o
  JOIN pg_class t ON t.oid = o.refobjid
  JOIN pg_attribute a ON a.attrelid = o.refobjid AND a.attnum = o.refobjsubid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE o.classid = 'pg_class'::regclass AND o.objid = c.oid
    AND o.refclassid = 'pg_class'::regclass AND o.deptype = 'a'
  LIMIT 1
) own ON true
WHERE n.nspname = ANY (%s) AND """
    + not_member("pg_class", "c.oid")
    # Identity sequences belong to their column; a serial's sequence (owned by the
    # column whose default draws from it) is modelled by the column's serial type.
    + """
  AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_class'::regclass
    AND i.objid = c.oid AND i.deptype = 'i')
  AND NOT (own.adbin IS NOT NULL AND pg_get_expr(own.adbin, own.adrelid)
    = 'nextval(' || quote_literal(c.oid::regclass::text) || '::regclass)')
ORDER BY n.nspname, c.relname
"""
)

ENUMS_QUERY = (
    """
SELECT t.oid, n.nspname, t.typname,
  ARRAY(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder),
  obj_description(t.oid, 'pg_type')
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'e' AND n.nspname = ANY (%s) AND """
    + not_member("pg_type", "t.oid")
    + " ORDER BY n.nspname, t.typname"
)

DOMAINS_QUERY = (
    """
SELECT t.oid, n.nspname, t.typname, format_type(t.typbasetype, t.typtypmod), t.typnotnull,
  t.typdefault,
  CASE WHEN t.typcollation <> b.typcollation THEN quote_ident(co.collname) END,
  ARRAY(SELECT c.conname FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c'
        ORDER BY c.conname),
  ARRAY(SELECT pg_get_constraintdef(c.oid, true) FROM pg_constraint c
        WHERE c.contypid = t.oid AND c.contype = 'c' ORDER BY c.conname),
  obj_description(t.oid, 'pg_type')
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
JOIN pg_type b ON b.oid = t.typbasetype
LEFT JOIN pg_collation co ON co.oid = t.typcollation
WHERE t.typtype = 'd' AND n.nspname = ANY (%s) AND """
    + not_member("pg_type", "t.oid")
    + " ORDER BY n.nspname, t.typname"
)

COMPOSITES_QUERY = (
    """
SELECT t.oid, n.nspname, t.typname,
  ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0
        AND NOT a.attisdropped ORDER BY a.attnum),
  ARRAY(SELECT format_type(a.atttypid, a.atttypmod)
        || CASE WHEN a.attcollation <> at.typcollation
           THEN ' COLLATE ' || quote_ident(co.collname) ELSE '' END
        FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
        LEFT JOIN pg_collation co ON co.oid = a.attcollation
        WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum),
  obj_description(t.oid, 'pg_type')
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
JOIN pg_class r ON r.oid = t.typrelid AND r.relkind = 'c'
WHERE n.nspname = ANY (%s) AND """
    + not_member("pg_type", "t.oid")
    + " ORDER BY n.nspname, t.typname"
)

VIEWS_QUERY = (
    """
SELECT c.oid, n.nspname, c.relname, c.relkind::text, pg_get_viewdef(c.oid, true),
  coalesce(c.reloptions, '{}'), obj_description(c.oid, 'pg_class'),
  ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
        AND NOT a.attisdropped ORDER BY a.attnum),
  ARRAY(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
  ARRAY(SELECT coalesce(col_description(c.oid, a.attnum), '') FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
  ARRAY(SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = c.oid ORDER BY i.relname),
  ARRAY(SELECT pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i
        ON i.oid = x.indexrelid WHERE x.indrelid = c.oid ORDER BY i.relname),
  ARRAY(SELECT coalesce(obj_description(x.indexrelid, 'pg_class'), '') FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid ORDER BY i.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND n.nspname = ANY (%s) AND """
    + not_member("pg_class", "c.oid")
    + " ORDER BY n.nspname, c.relname"
)

ROUTINES_QUERY = (
    """
SELECT p.oid, n.nspname, p.proname, p.prokind::text,
  pg_get_function_identity_arguments(p.oid), pg_get_function_arguments(p.oid),
  pg_get_function_result(p.oid), pg_get_functiondef(p.oid),
  quote_ident(n.nspname) || '.' || quote_ident(p.proname), obj_description(p.oid, 'pg_proc')
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p') AND n.nspname = ANY (%s) AND """
    + not_member("pg_proc", "p.oid")
    # A range type's constructors belong to the type.
    + """ AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_proc'::regclass
    AND i.objid = p.oid AND i.deptype = 'i')"""
    + " ORDER BY n.nspname, p.proname, 5"
)

TRIGGERS_QUERY = (
    """
SELECT tg.oid, n.nspname, c.relname, tg.tgname, pg_get_triggerdef(tg.oid, true),
  tg.tgenabled::text, obj_description(tg.oid, 'pg_trigger')
FROM pg_trigger tg
JOIN pg_class c ON c.oid = tg.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT tg.tgisinternal AND tg.tgparentid = 0 AND n.nspname = ANY (%s) AND """
    + not_member("pg_trigger", "tg.oid")
    + " ORDER BY n.nspname, c.relname, tg.tgname"
)

# Whole rows as JSON: the ICU locale column is `colliculocale` on PostgreSQL 15 and 16,
# `colllocale` from 17.
COLLATIONS_QUERY = (
    """
SELECT co.oid, n.nspname, co.collname, to_jsonb(co), obj_description(co.oid, 'pg_collation')
FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
WHERE n.nspname = ANY (%s) AND """
    + not_member("pg_collation", "co.oid")
    + " ORDER BY n.nspname, co.collname"
)
COLLATION_PROVIDERS = {"c": "libc", "i": "icu", "d": "default"}

POLICIES_QUERY = """
SELECT p.oid, n.nspname, c.relname, p.polname, p.polcmd::text, p.polpermissive,
  ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(a.rolname) END
        FROM unnest(p.polroles) r LEFT JOIN pg_roles a ON a.oid = r ORDER BY 1),
  pg_get_expr(p.polqual, p.polrelid, true), pg_get_expr(p.polwithcheck, p.polrelid, true),
  obj_description(p.oid, 'pg_policy')
FROM pg_policy p
JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY (%s)
ORDER BY n.nspname, c.relname, p.polname
"""

ROW_SECURITY_QUERY = """
SELECT n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY (%s) AND c.relkind IN ('r', 'p')
  AND (c.relrowsecurity OR c.relforcerowsecurity)
"""

EXTENSIONS_QUERY = """
SELECT e.oid, n.nspname, e.extname, e.extversion, obj_description(e.oid, 'pg_extension')
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE n.nspname = ANY (%s) AND e.extname <> 'plpgsql'
ORDER BY e.extname
"""

EVENT_TRIGGERS_QUERY = (
    """
SELECT evt.oid, evt.evtname, evt.evtevent, evt.evtfoid::regprocedure::text,
  coalesce(evt.evttags, '{}'), evt.evtenabled::text,
  obj_description(evt.oid, 'pg_event_trigger')
FROM pg_event_trigger evt WHERE """
    + not_member("pg_event_trigger", "evt.oid")
    + " ORDER BY evt.evtname"
)

# Every normal/auto dependency, each side reduced to the catalog row we model: a view's
# rewrite rule to the view, a column default to its column, a constraint to its table
# (or domain), an array type to its element type.
DEPENDENCIES_QUERY = """
WITH d AS (
  SELECT
    CASE WHEN d.classid IN ('pg_rewrite'::regclass, 'pg_attrdef'::regclass)
           OR (d.classid = 'pg_constraint'::regclass AND con.conrelid <> 0)
         THEN 'pg_class'::regclass
         WHEN d.classid = 'pg_constraint'::regclass THEN 'pg_type'::regclass
         ELSE d.classid END AS cls,
    CASE WHEN d.classid = 'pg_rewrite'::regclass THEN rw.ev_class
         WHEN d.classid = 'pg_attrdef'::regclass THEN ad.adrelid
         WHEN d.classid = 'pg_constraint'::regclass AND con.conrelid <> 0 THEN con.conrelid
         WHEN d.classid = 'pg_constraint'::regclass THEN con.contypid
         ELSE d.objid END AS oid,
    CASE WHEN d.classid = 'pg_attrdef'::regclass THEN ad.adnum
         WHEN d.classid IN ('pg_class'::regclass) THEN d.objsubid
         ELSE 0 END AS sub,
    d.refclassid AS refcls,
    CASE WHEN d.refclassid = 'pg_type'::regclass AND rt.typcategory = 'A'
         THEN rt.typelem ELSE d.refobjid END AS refoid,
    CASE WHEN d.refclassid = 'pg_class'::regclass THEN d.refobjsubid ELSE 0 END AS refsub
  FROM pg_depend d
  LEFT JOIN pg_rewrite rw ON d.classid = 'pg_rewrite'::regclass AND rw.oid = d.objid
  LEFT JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid
  LEFT JOIN pg_constraint con ON d.classid = 'pg_constraint'::regclass AND con.oid = d.objid
  LEFT JOIN pg_type rt ON d.refclassid = 'pg_type'::regclass AND rt.oid = d.refobjid
  WHERE d.deptype IN ('n', 'a')
    AND d.classid IN ('pg_class'::regclass, 'pg_rewrite'::regclass, 'pg_attrdef'::regclass,
      'pg_constraint'::regclass, 'pg_proc'::regclass, 'pg_trigger'::regclass,
      'pg_policy'::regclass, 'pg_type'::regclass, 'pg_event_trigger'::regclass)
    AND d.refclassid IN ('pg_class'::regclass, 'pg_proc'::regclass, 'pg_type'::regclass,
      'pg_extension'::regclass, 'pg_collation'::regclass)
)
SELECT DISTINCT d.cls::regclass::text, d.oid, coalesce(a.attname, ''),
  d.refcls::regclass::text, d.refoid, coalesce(ra.attname, '')
FROM d
LEFT JOIN pg_attribute a ON d.cls = 'pg_class'::regclass AND d.sub > 0
  AND a.attrelid = d.oid AND a.attnum = d.sub
LEFT JOIN pg_attribute ra ON d.refcls = 'pg_class'::regclass AND d.refsub > 0
  AND ra.attrelid = d.refoid AND ra.attnum = d.refsub
"""

RELATIONS_QUERY = """
SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.reltype
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY (%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'c')
"""

VIEW_KINDS = {"v": "view", "m": "materialized"}
RELATION_KINDS = {
    "r": "table",
    "p": "table",
    "v": "view",
    "m": "materialized",
    "S": "sequence",
}
POLICY_COMMANDS = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE", "*": "ALL"}
TYPE_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}


@dataclass
class Inspected:
    """Objects per schema and of the database, table options and dependencies."""

    by_schema: dict[str, list[SchemaObject]] = field(default_factory=lambda: defaultdict(list))
    realm: list[SchemaObject] = field(default_factory=list)
    """Objects of the database itself (event triggers, realm scope only)."""
    table_options: dict[tuple[str, str], list[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    dependencies: list[Dependency] = field(default_factory=list)
    refs: dict[tuple[str, int], ObjectRef] = field(default_factory=dict)
    """(catalog, oid) → the modelled element, for resolving `pg_depend` rows."""

    def add(self, catalog: str, oid: int, schema: str, obj: SchemaObject) -> None:
        self.by_schema[schema].append(obj)
        self.refs[(catalog, oid)] = object_ref(schema, obj)


def object_ref(schema: str | None, obj: SchemaObject) -> ObjectRef:
    return ObjectRef(obj.kind, schema, obj.name, obj.table)


def inspect_objects(session: Session, schemas: list[str], scope: Scope) -> Inspected:
    """Every object kind in `schemas`: one query per kind, plus one for dependencies."""
    found = Inspected()
    for kind_reader in (
        read_collations,
        read_sequences,
        read_enums,
        read_domains,
        read_composites,
        read_views,
        read_routines,
        read_triggers,
        read_policies,
        read_extensions,
    ):
        kind_reader(session, schemas, found)
    read_row_security(session, schemas, found)
    if scope.bound is None:
        read_event_triggers(session, found)
    read_dependencies(session, schemas, found)
    for objects in found.by_schema.values():
        objects.sort(key=lambda o: (o.kind, o.table or "", o.name))
    return found


def read_sequences(session: Session, schemas: list[str], found: Inspected) -> None:
    for row in session.query(SEQUENCES_QUERY, [schemas]):
        oid, schema, name, type_, start, step, low, high, cache, cycle, comment = row[:11]
        owner_table, owner_column = row[11:]
        top = TYPE_MAX.get(type_, 2**63 - 1)
        default_low, default_high = (1, top) if step > 0 else (-top - 1, -1)
        default_start = low if step > 0 else high
        attrs = {
            "type": type_,
            "start": str(start) if start != default_start else "",
            "increment": str(step) if step != 1 else "",
            "min": str(low) if low != default_low else "",
            "max": str(high) if high != default_high else "",
            "cache": str(cache) if cache != 1 else "",
            "cycle": "true" if cycle else "",
            "owned_by": f"{owner_table}.{owner_column}" if owner_table else "",
        }
        obj = SchemaObject(
            kind="sequence",
            name=name,
            definition=";".join(f"{k}={v}" for k, v in attrs.items()),
            attrs=pairs(attrs),
            comment=comment,
            source=pairs({"owner_table": owner_table or "", "owner_column": owner_column or ""}),
        )
        found.add("pg_class", oid, schema, obj)


def read_enums(session: Session, schemas: list[str], found: Inspected) -> None:
    for oid, schema, name, labels, comment in session.query(ENUMS_QUERY, [schemas]):
        obj = SchemaObject(
            kind="enum",
            name=name,
            definition=json.dumps(list(labels)),
            attrs=(("labels", json.dumps(list(labels))),),
            comment=comment,
        )
        found.add("pg_type", oid, schema, obj)


def read_domains(session: Session, schemas: list[str], found: Inspected) -> None:
    for row in session.query(DOMAINS_QUERY, [schemas]):
        oid, schema, name, base, notnull, default, collation, names, checks, comment = row
        attrs = {
            "type": base,
            "not_null": "true" if notnull else "",
            "default": default or "",
            "collation": collation or "",
            "checks": json.dumps([[n, c] for n, c in zip(names, checks, strict=True)]),
        }
        obj = described("domain", name, attrs, comment)
        found.add("pg_type", oid, schema, obj)


def read_composites(session: Session, schemas: list[str], found: Inspected) -> None:
    for oid, schema, name, fields, types, comment in session.query(COMPOSITES_QUERY, [schemas]):
        members = [[f, t] for f, t in zip(fields, types, strict=True)]
        obj = SchemaObject(
            kind="composite",
            name=name,
            definition=json.dumps(members),
            attrs=(("fields", json.dumps(members)),),
            comment=comment,
        )
        found.add("pg_type", oid, schema, obj)


def read_views(session: Session, schemas: list[str], found: Inspected) -> None:
    for row in session.query(VIEWS_QUERY, [schemas]):
        oid, schema, name, relkind, definition, options, comment = row[:7]
        columns, types, column_comments, index_names, index_defs, index_comments = row[7:]
        kind = VIEW_KINDS[relkind]
        attrs = {
            "columns": json.dumps([[c, t] for c, t in zip(columns, types, strict=True)]),
            "options": json.dumps(sorted(options)),
            "column_comments": json.dumps(
                [[c, text] for c, text in zip(columns, column_comments, strict=True) if text]
            ),
        }
        if kind == "materialized":
            # Not `relispopulated`: the dev database never fills one (sandbox.for_dev).
            attrs["indexes"] = json.dumps(
                [
                    [n, index_tail(d), text]
                    for n, d, text in zip(index_names, index_defs, index_comments, strict=True)
                ]
            )
        obj = SchemaObject(
            kind=kind,
            name=name,
            definition=definition.strip(),
            attrs=pairs(attrs),
            comment=comment,
        )
        found.add("pg_class", oid, schema, obj)


INDEX_DEF = re.compile(r"^CREATE (?P<unique>UNIQUE )?INDEX \S+ ON .+? (?P<tail>USING .*)$", re.S)


def index_tail(definition: str) -> str:
    """`CREATE UNIQUE INDEX i ON public.mv USING btree (a)` → `UNIQUE|USING btree (a)`:
    what makes the index, without its name or its (always qualified) relation."""
    match = INDEX_DEF.match(definition)
    if match is None:
        return definition
    return f"{'UNIQUE' if match.group('unique') else ''}|{match.group('tail')}"


def read_routines(session: Session, schemas: list[str], found: Inspected) -> None:
    for row in session.query(ROUTINES_QUERY, [schemas]):
        oid, schema, name, prokind, identity, arguments, result, source, qualified, comment = row
        kind = "procedure" if prokind == "p" else "function"
        # pg_get_functiondef always qualifies the routine's name; the plan renders its own.
        header = f"CREATE OR REPLACE {kind.upper()} {qualified}("
        body = source[len(header) :] if source.startswith(header) else source
        obj = SchemaObject(
            kind=kind,
            name=f"{name}({identity})",
            definition=normal_form(body),
            attrs=pairs({"arguments": arguments, "result": result or ""}),
            comment=comment,
            source=pairs({"name": name, "identity": identity, "rest": body}),
        )
        found.add("pg_proc", oid, schema, obj)


def read_triggers(session: Session, schemas: list[str], found: Inspected) -> None:
    for oid, schema, table, name, definition, enabled, comment in session.query(
        TRIGGERS_QUERY, [schemas]
    ):
        obj = SchemaObject(
            kind="trigger",
            name=name,
            table=table,
            definition=definition,
            attrs=(("enabled", enabled),) if enabled != "O" else (),
            comment=comment,
        )
        found.add("pg_trigger", oid, schema, obj)


def read_collations(session: Session, schemas: list[str], found: Inspected) -> None:
    for oid, schema, name, row, comment in session.query(COLLATIONS_QUERY, [schemas]):
        locale = row.get("colllocale") or row.get("colliculocale") or ""
        attrs = {
            "provider": COLLATION_PROVIDERS.get(row.get("collprovider", "c"), "libc"),
            "locale": locale,
            "lc_collate": row.get("collcollate") or "" if not locale else "",
            "lc_ctype": row.get("collctype") or "" if not locale else "",
            "deterministic": "" if row.get("collisdeterministic", True) else "false",
        }
        obj = described("collation", name, attrs, comment)
        found.add("pg_collation", oid, schema, obj)


def read_policies(session: Session, schemas: list[str], found: Inspected) -> None:
    for row in session.query(POLICIES_QUERY, [schemas]):
        oid, schema, table, name, command, permissive, roles, using, check, comment = row
        attrs = {
            "command": POLICY_COMMANDS.get(command, "ALL"),
            "as": "PERMISSIVE" if permissive else "RESTRICTIVE",
            "roles": ", ".join(roles),
            "using": using or "",
            "check": check or "",
        }
        obj = described("policy", name, attrs, comment, table=table)
        found.add("pg_policy", oid, schema, obj)


def read_row_security(session: Session, schemas: list[str], found: Inspected) -> None:
    """`ENABLE`/`FORCE ROW LEVEL SECURITY` are table options (`row_security`)."""
    for schema, table, enabled, forced in session.query(ROW_SECURITY_QUERY, [schemas]):
        value = "forced" if forced and enabled else "enabled" if enabled else "forced-only"
        found.table_options[(schema, table)].append(("row_security", value))


def read_extensions(session: Session, schemas: list[str], found: Inspected) -> None:
    for oid, schema, name, version, comment in session.query(EXTENSIONS_QUERY, [schemas]):
        obj = SchemaObject(
            kind="extension",
            name=name,
            definition=version,
            attrs=(("version", version),),
            comment=comment,
        )
        found.add("pg_extension", oid, schema, obj)


def read_event_triggers(session: Session, found: Inspected) -> None:
    """Event triggers belong to the database: modelled in realm scope only."""
    for oid, name, event, function, tags, enabled, comment in session.query(EVENT_TRIGGERS_QUERY):
        attrs = {
            "event": event,
            "function": function,
            "tags": json.dumps(sorted(tags)),
            "enabled": enabled if enabled != "O" else "",
        }
        obj = described("event_trigger", name, attrs, comment)
        found.realm.append(obj)
        found.refs[("pg_event_trigger", oid)] = ObjectRef("event_trigger", None, name)


def read_dependencies(session: Session, schemas: list[str], found: Inspected) -> None:
    """Resolves `pg_depend` into dependencies between modelled elements."""
    relations: dict[int, ObjectRef] = {}
    for oid, schema, name, relkind, reltype in session.query(RELATIONS_QUERY, [schemas]):
        if relkind == "c":
            # A composite type's relation stands for the type.
            if (ref := found.refs.get(("pg_type", reltype))) is not None:
                relations[oid] = ref
            continue
        ref = found.refs.get(("pg_class", oid))
        relations[oid] = ref or ObjectRef(RELATION_KINDS[relkind], schema, name)
    seen: set[Dependency] = set()
    for catalog, oid, sub, ref_catalog, ref_oid, ref_sub in session.query(DEPENDENCIES_QUERY):
        dependent = resolve(found, relations, catalog, oid, sub)
        referenced = resolve(found, relations, ref_catalog, ref_oid, ref_sub)
        if dependent is None or referenced is None or same_element(dependent, referenced):
            continue
        dep = Dependency(dependent, referenced)
        if dep not in seen:
            seen.add(dep)
            found.dependencies.append(dep)


def resolve(
    found: Inspected, relations: dict[int, ObjectRef], catalog: str, oid: int, sub: str
) -> ObjectRef | None:
    if catalog == "pg_class":
        ref = relations.get(oid)
        if ref is not None and ref.kind == "table" and sub:
            return ObjectRef("table", ref.schema, ref.name, sub)
        return ref
    return found.refs.get((catalog, oid))


def same_element(a: ObjectRef, b: ObjectRef) -> bool:
    return (a.kind, a.schema, a.name) == (b.kind, b.schema, b.name)


def described(
    kind: str, name: str, attrs: dict[str, str], comment: str | None, table: str | None = None
) -> SchemaObject:
    """An object wholly described by its attributes (compared as one JSON text)."""
    return SchemaObject(
        kind=kind,
        name=name,
        table=table,
        definition=json.dumps(attrs, sort_keys=True),
        attrs=pairs(attrs),
        comment=comment,
    )


def pairs(attrs: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Attributes as sorted pairs, leaving out empty ones (their default)."""
    return tuple(sorted((k, v) for k, v in attrs.items() if v))
