"""PostgreSQL inspection: pg_catalog queries read into the model (`Realm`)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from atlas_operator.engine.drivers.base import DatabaseError, Scope, Session
from atlas_operator.engine.drivers.postgres.objects import inspect_objects
from atlas_operator.engine.model import (
    Check,
    Column,
    ForeignKey,
    Generated,
    Identity,
    Index,
    IndexPart,
    PartitionKey,
    PartitionOf,
    PartitionPart,
    PrimaryKey,
    Realm,
    Schema,
    Table,
)

# Schemas that are never user schemas (Atlas's list); pg_temp_N / pg_toast_temp_N by pattern.
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast", "crdb_internal", "pg_extension")
TEMP_SCHEMA = r"^pg_(toast_)?temp_"
FK_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}
SERIAL_TYPES = {"smallint": "smallserial", "integer": "serial", "bigint": "bigserial"}
DEFAULT_TIME_PRECISION = re.compile(
    r"^(timestamp|time|interval(?: [a-z ]+)?)\(6\)((?: with(?:out)? time zone)?(?:\[\])*)$"
)
"""`format_type` of a time type with precision 6: the default precision, which Atlas
leaves out (it creates `timestamp(6)` as `timestamp`), so both compare equal."""
SERIAL_BASES = {serial: base for base, serial in SERIAL_TYPES.items()}
TYPE_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}


# Objects an extension owns belong to the extension, not to the user's schema.
NOT_EXTENSION_MEMBER = (
    "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = {catalog}::regclass"
    " AND e.objid = {oid} AND e.deptype = 'e')"
)

SCHEMAS_QUERY = (
    "SELECT n.nspname, obj_description(n.oid, 'pg_namespace') FROM pg_namespace n"
    " WHERE n.nspname <> ALL (%s) AND n.nspname !~ %s AND "
    + NOT_EXTENSION_MEMBER.format(catalog="'pg_namespace'", oid="n.oid")
    + " ORDER BY n.nspname"
)

# Tables and partitions: a partitioned table's key (pg_get_partkeydef, with the column
# of each part, NULL for an expression), a partition's parent and bound.
TABLES_QUERY = (
    "SELECT n.nspname, c.relname, obj_description(c.oid, 'pg_class'),"
    " pg_get_partkeydef(c.oid),"
    " ARRAY(SELECT a.attname FROM generate_series(0, pt.partnatts - 1) k"
    "   LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = pt.partattrs[k]"
    "   ORDER BY k),"
    " pn.nspname, pc.relname, pg_get_expr(c.relpartbound, c.oid)"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid"
    " LEFT JOIN pg_inherits ih ON ih.inhrelid = c.oid AND c.relispartition"
    " LEFT JOIN pg_class pc ON pc.oid = ih.inhparent"
    " LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace"
    " WHERE n.nspname = ANY (%s) AND c.relkind IN ('r', 'p') AND "
    + NOT_EXTENSION_MEMBER.format(catalog="'pg_class'", oid="c.oid")
    + " ORDER BY n.nspname, c.relname"
)

# One row per column. `serial` is true when the default is nextval() of a sequence the
# column owns (deptype 'a', what SERIAL and OWNED BY create); the identity sequence
# (deptype 'i') gives the identity options.
COLUMNS_QUERY = """
SELECT n.nspname, c.relname, a.attname,
  format_type(a.atttypid, a.atttypmod),
  a.attnotnull,
  pg_get_expr(d.adbin, d.adrelid),
  pg_get_expr(d.adbin, d.adrelid, true),
  a.attidentity::text,
  a.attgenerated::text,
  col_description(c.oid, a.attnum),
  CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,
  EXISTS (
    SELECT 1 FROM pg_depend o
    WHERE o.classid = 'pg_class'::regclass AND o.refclassid = 'pg_class'::regclass
      AND o.refobjid = a.attrelid AND o.refobjsubid = a.attnum AND o.deptype = 'a'
      AND pg_get_expr(d.adbin, d.adrelid)
        = 'nextval(' || quote_literal(o.objid::regclass::text) || '::regclass)'
  ),
  s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN LATERAL (
  SELECT q.seqstart, q.seqincrement, q.seqmin, q.seqmax, q.seqcache
  FROM pg_depend i JOIN pg_sequence q ON q.seqrelid = i.objid
  WHERE i.classid = 'pg_class'::regclass AND i.refclassid = 'pg_class'::regclass
    AND i.refobjid = a.attrelid AND i.refobjsubid = a.attnum AND i.deptype = 'i'
  LIMIT 1
) s ON a.attidentity <> ''
WHERE n.nspname = ANY (%s) AND c.relkind IN ('r', 'p') AND a.attnum > 0
  AND NOT a.attisdropped
ORDER BY n.nspname, c.relname, a.attnum
"""

# One row per index, its key parts as parallel arrays (k counts from 0: int2vector and
# oidvector subscripts start at 0). Exclusion constraints come with their index, their
# operators from conexclop. An opclass's parameters live in the index column's
# attoptions. A key part's collation counts when it is not the column's, which is how
# pg_get_indexdef decides to print COLLATE; for an expression the catalogs do not keep
# the expression's own collation, so its type's default stands in (an index on
# `lower(c)` of a "C" column reads as COLLATE "C": explicit, but the same index). The
# index row goes through to_jsonb for indnullsnotdistinct, a column only PostgreSQL 15 has.
INDEXES_QUERY = """
SELECT n.nspname, t.relname, i.relname, x.indisprimary, x.indisunique, am.amname,
  pg_get_expr(x.indpred, x.indrelid, true),
  con.contype::text, con.conname,
  obj_description(i.oid, 'pg_class'),
  ARRAY(
    SELECT a.attname FROM generate_series(0, x.indnkeyatts - 1) k
    LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[k]
    ORDER BY k
  ),
  ARRAY(
    SELECT pg_get_indexdef(x.indexrelid, k + 1, true)
    FROM generate_series(0, x.indnkeyatts - 1) k ORDER BY k
  ),
  ARRAY(
    SELECT (x.indoption[k] & 1) = 1 FROM generate_series(0, x.indnkeyatts - 1) k ORDER BY k
  ),
  ARRAY(
    SELECT CASE WHEN ia.attoptions IS NOT NULL
        THEN o.opcname || '(' || array_to_string(ia.attoptions, ', ') || ')'
      WHEN NOT o.opcdefault THEN o.opcname END
    FROM generate_series(0, x.indnkeyatts - 1) k
    LEFT JOIN pg_opclass o ON o.oid = x.indclass[k]
    LEFT JOIN pg_attribute ia ON ia.attrelid = x.indexrelid AND ia.attnum = k + 1
    ORDER BY k
  ),
  ARRAY(
    SELECT a.attname FROM generate_series(x.indnkeyatts, x.indnatts - 1) k
    JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[k]
    ORDER BY k
  ),
  ARRAY(
    SELECT (x.indoption[k] & 2) = 2 FROM generate_series(0, x.indnkeyatts - 1) k ORDER BY k
  ),
  ARRAY(
    SELECT CASE WHEN x.indcollation[k] NOT IN (0, COALESCE(ta.attcollation, ty.typcollation))
      THEN co.collname END
    FROM generate_series(0, x.indnkeyatts - 1) k
    LEFT JOIN pg_attribute ta ON ta.attrelid = x.indrelid AND ta.attnum = x.indkey[k]
    LEFT JOIN pg_attribute ia ON ia.attrelid = x.indexrelid AND ia.attnum = k + 1
    LEFT JOIN pg_type ty ON ty.oid = ia.atttypid
    LEFT JOIN pg_collation co ON co.oid = x.indcollation[k]
    ORDER BY k
  ),
  i.reloptions,
  COALESCE((to_jsonb(x) ->> 'indnullsnotdistinct')::boolean, false),
  COALESCE(con.condeferrable, false), COALESCE(con.condeferred, false),
  ARRAY(
    SELECT op.oprname FROM unnest(con.conexclop) WITH ORDINALITY e(opr, ord)
    JOIN pg_operator op ON op.oid = e.opr ORDER BY e.ord
  )
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = i.relam
LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid
  AND con.contype IN ('p', 'u', 'x')
WHERE n.nspname = ANY (%s) AND t.relkind IN ('r', 'p') AND NOT i.relispartition
ORDER BY n.nspname, t.relname, i.relname
"""

# Checks and foreign keys. NOT NULL constraints (contype 'n', PostgreSQL 18) are columns'
# business; constraints cloned onto partitions (conparentid) belong to their parent.
CONSTRAINTS_QUERY = """
SELECT n.nspname, c.relname, con.conname, con.contype::text,
  pg_get_constraintdef(con.oid, true),
  ARRAY(
    SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord
  ),
  fn.nspname, fc.relname,
  ARRAY(
    SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
    JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.ord
  ),
  con.confupdtype::text, con.confdeltype::text,
  con.condeferrable, con.condeferred, NOT con.convalidated, con.connoinherit,
  con.confmatchtype::text
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE n.nspname = ANY (%s) AND con.contype IN ('c', 'f') AND con.conparentid = 0
  AND (con.coninhcount = 0 OR NOT c.relispartition)
ORDER BY n.nspname, c.relname, con.conname
"""


@dataclass
class TableParts:
    """What the catalog queries say about one table, gathered before building it."""

    name: str
    comment: str | None
    columns: list[Column] = field(default_factory=list)
    primary_key: PrimaryKey | None = None
    indexes: list[Index] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    partition: PartitionKey | None = None
    partition_of: PartitionOf | None = None

    def build(self) -> Table:
        return Table(
            name=self.name,
            # A partition's columns are its parent's: they are modelled there only.
            columns=() if self.partition_of else tuple(self.columns),
            primary_key=self.primary_key,
            indexes=tuple(sorted(self.indexes, key=lambda i: i.name)),
            foreign_keys=tuple(sorted(self.foreign_keys, key=lambda f: f.name)),
            checks=tuple(sorted(self.checks, key=lambda c: c.name or "")),
            comment=self.comment,
            partition=self.partition,
            partition_of=self.partition_of,
        )


def user_schemas(session: Session) -> list[tuple[str, str | None]]:
    """Every non-system schema an extension does not own, with its comment."""
    rows = session.query(SCHEMAS_QUERY, [list(SYSTEM_SCHEMAS), TEMP_SCHEMA])
    return [(name, comment) for name, comment in rows]


def inspect_realm(session: Session, scope: Scope) -> Realm:
    """The schemas in scope: five catalog queries, however many tables there are."""
    schemas = [(name, comment) for name, comment in user_schemas(session) if scope.includes(name)]
    if scope.bound is not None and not schemas:
        raise DatabaseError(f'schema "{scope.bound}" was not found')
    names = [name for name, _ in schemas]
    tables = {(row[0], row[1]): table_parts(row) for row in session.query(TABLES_QUERY, [names])}
    for row in session.query(COLUMNS_QUERY, [names]):
        if (parts := tables.get((row[0], row[1]))) is not None:
            parts.columns.append(column_from_row(row[2:]))
    for row in session.query(INDEXES_QUERY, [names]):
        if (parts := tables.get((row[0], row[1]))) is not None:
            add_index(parts, row[2:])
    for row in session.query(CONSTRAINTS_QUERY, [names]):
        if (parts := tables.get((row[0], row[1]))) is not None:
            add_constraint(parts, row[0], row[2:])
    objects = inspect_objects(session, names, scope)
    by_schema: dict[str, list[Table]] = defaultdict(list)
    for (schema, name), parts in tables.items():
        table = parts.build()
        extra = objects.table_options.get((schema, name))
        if extra:
            table = replace(
                table, options=tuple(sorted({**dict(table.options), **dict(extra)}.items()))
            )
        by_schema[schema].append(table)
    return Realm(
        schemas=tuple(
            Schema(
                name=name,
                tables=tuple(by_schema[name]),
                comment=comment,
                objects=tuple(objects.by_schema.get(name, ())),
            )
            for name, comment in schemas
        ),
        objects=tuple(objects.realm),
        dependencies=tuple(objects.dependencies),
    )


def table_parts(row: Sequence[Any]) -> TableParts:
    schema, name, comment, key, key_columns, parent_schema, parent, bound = row
    parts = TableParts(name, comment)
    if key is not None:
        parts.partition = partition_key(key, key_columns)
    if parent is not None:
        owner = None if parent_schema == schema else parent_schema
        parts.partition_of = PartitionOf(table=parent, bound=bound, schema=owner)
    return parts


def partition_key(definition: str, columns: Sequence[str | None]) -> PartitionKey:
    """`RANGE (a, lower(b) COLLATE "C" text_pattern_ops, ((c + 1)))` (pg_get_partkeydef)
    with the column of each part (None for an expression) → the key."""
    strategy, _, body = definition.partition(" ")
    items = top_level_split(body.strip()[1:-1], ",")
    parts = tuple(key_part(item, column) for item, column in zip(items, columns, strict=True))
    return PartitionKey(strategy=strategy.upper(), parts=parts)


def key_part(text: str, column: str | None) -> PartitionPart:
    """One part: the column or expression, then `COLLATE name` and an operator class."""
    item, *rest = top_level_split(text.strip(), " ")
    collation = None
    if len(rest) >= 2 and rest[0].upper() == "COLLATE":
        collation, rest = rest[1], rest[2:]
    opclass = rest[0] if rest else None
    if column is not None:
        return PartitionPart(column=column, collation=collation, opclass=opclass)
    if item.startswith("(") and item.endswith(")") and encloses_all(item):
        item = item[1:-1]  # the parentheses pg_get_partkeydef adds around an expression
    return PartitionPart(expr=item, collation=collation, opclass=opclass)


def top_level_split(text: str, separator: str) -> list[str]:
    """`text` cut at `separator` outside parentheses and quotes, pieces stripped and
    empty ones dropped."""
    pieces: list[str] = []
    depth, quote_char, start = 0, "", 0
    for i, ch in enumerate(text):
        if quote_char:
            quote_char = "" if ch == quote_char else quote_char
        elif ch in "'\"":
            quote_char = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == separator and depth == 0:
            pieces.append(text[start:i])
            start = i + 1
    pieces.append(text[start:])
    return [p.strip() for p in pieces if p.strip()]


def encloses_all(text: str) -> bool:
    """Whether the parenthesis opening `text` closes at its last character (quotes and
    parentheses inside them skipped)."""
    depth, quote_char = 0, ""
    for i, ch in enumerate(text):
        if quote_char:
            quote_char = "" if ch == quote_char else quote_char
        elif ch in "'\"":
            quote_char = ch
        elif ch in "()":
            depth += 1 if ch == "(" else -1
            if depth == 0 and i != len(text) - 1:
                return False
    return depth == 0


def column_from_row(row: Sequence[Any]) -> Column:
    name, type_, notnull, default, pretty_default, identity, generated = row[:7]
    comment, collation, serial, sequence = row[7], row[8], row[9], row[10:]
    type_ = without_default_precision(type_)
    column = Column(
        name=name, type=type_, nullable=not notnull, comment=comment, collation=collation
    )
    if identity:
        return replace(column, identity=identity_from_sequence(type_, identity == "a", *sequence))
    if generated == "s":
        return replace(column, generated=Generated(expr=pretty_default or "", stored=True))
    if serial and type_ in SERIAL_TYPES:
        return replace(column, type=SERIAL_TYPES[type_])
    return replace(column, default=default)


def without_default_precision(type_: str) -> str:
    """`timestamp(6) with time zone` → `timestamp with time zone` (and time, interval)."""
    return DEFAULT_TIME_PRECISION.sub(r"\1\2", type_)


def identity_from_sequence(
    type_: str, always: bool, start: Any, increment: Any, minimum: Any, maximum: Any, cache: Any
) -> Identity:
    """An identity with its sequence options; bounds are None when they are the defaults."""
    step = int(increment or 1)
    top = TYPE_MAX.get(type_, 2**63 - 1)
    default_min, default_max = (1, top) if step > 0 else (-top - 1, -1)
    return Identity(
        always=always,
        start=int(start if start is not None else 1),
        increment=step,
        min_value=None if minimum is None or int(minimum) == default_min else int(minimum),
        max_value=None if maximum is None or int(maximum) == default_max else int(maximum),
        cache=int(cache or 1),
    )


def add_index(parts: TableParts, row: Sequence[Any]) -> None:
    name, primary, unique, method, predicate, contype, conname, comment = row[:8]
    columns, exprs, descs, opclasses, include, nulls_first, collations = row[8:15]
    reloptions, nulls_not_distinct, deferrable, deferred, operators = row[15:]
    params = storage_params(reloptions)
    if primary:
        parts.primary_key = PrimaryKey(
            columns=tuple(columns),
            name=conname or name,
            include=tuple(include),
            params=params,
            deferrable=deferrable,
            initially_deferred=deferred,
        )
        return
    key_parts = tuple(
        IndexPart(
            column=column,
            expr=None if column is not None else expr,
            desc=bool(desc),
            opclass=opclass,
            collation=collation,
            # Ascending sorts NULLs last and descending first unless told otherwise.
            nulls_first=None if first == bool(desc) else bool(first),
        )
        for column, expr, desc, opclass, first, collation in zip(
            columns, exprs, descs, opclasses, nulls_first, collations, strict=True
        )
    )
    parts.indexes.append(
        Index(
            name=conname if contype in ("u", "x") else name,
            parts=key_parts,
            unique=bool(unique),
            method=None if method == "btree" else method,
            where=predicate,
            include=tuple(include),
            comment=comment,
            constraint=contype in ("u", "x"),
            nulls_not_distinct=nulls_not_distinct,
            params=params,
            exclusion=tuple(operators),
            deferrable=deferrable,
            initially_deferred=deferred,
        )
    )


def storage_params(reloptions: Sequence[str] | None) -> tuple[tuple[str, str], ...]:
    """`{fillfactor=70}` → `(("fillfactor", "70"),)`, in the order written (the diff
    ignores the order; the plan keeps the desired one, as the server prints it)."""
    pairs = (option.split("=", 1) for option in reloptions or ())
    return tuple((name, value) for name, value in pairs)


def add_constraint(parts: TableParts, schema: str, row: Sequence[Any]) -> None:
    name, kind, definition, columns, ref_schema, ref_table, ref_columns = row[:7]
    on_update, on_delete, deferrable, deferred, not_valid, no_inherit, match = row[7:]
    if kind == "c":
        check = Check(name=name, expr=check_expression(definition))
        parts.checks.append(replace(check, no_inherit=no_inherit, not_valid=not_valid))
        return
    # PostgreSQL 15 can limit ON DELETE SET NULL/DEFAULT to some columns; the list is
    # kept with the action, as the definition prints it (`SET NULL (a)`).
    limited = DELETE_COLUMNS.search(definition)
    parts.foreign_keys.append(
        ForeignKey(
            name=name,
            columns=tuple(columns),
            ref_table=ref_table,
            ref_columns=tuple(ref_columns),
            ref_schema=None if ref_schema == schema else ref_schema,
            on_update=FK_ACTIONS[on_update],
            on_delete=limited.group(1) if limited else FK_ACTIONS[on_delete],
            deferrable=deferrable,
            initially_deferred=deferred,
            not_valid=not_valid,
            match_full=match == "f",
        )
    )


DELETE_COLUMNS = re.compile(r" ON DELETE (SET (?:NULL|DEFAULT) \([^)]*\))")


CHECK_DEFINITION = re.compile(r"CHECK \((?P<expr>.*)\)(?: NO INHERIT)?(?: NOT VALID)?", re.DOTALL)


def check_expression(definition: str) -> str:
    """`CHECK (a > 0) NOT VALID` → `a > 0`."""
    match = CHECK_DEFINITION.fullmatch(definition.strip())
    return match.group("expr") if match else definition
