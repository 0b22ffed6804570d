"""PostgreSQL: a psycopg 3 session, inspection from pg_catalog, planning, dev cleaning.

Inspection reads a whole scope with a fixed number of catalog queries (schemas,
tables, columns, indexes, constraints), whatever the number of tables. Values are
kept as the server prints them (`format_type` for types, `pg_get_expr` for defaults
and predicates, `pg_get_constraintdef` for checks), so a desired state run on a dev
database and the target compare equal when they mean the same.

As in Atlas (reference §6.3), an integer column whose default draws from a sequence
the column owns is reported as `serial`/`bigserial`/`smallserial` without a default:
that is how `serial` columns are stored, and reporting them as such lets a plan
create them (the model has no standalone sequences). A default that draws from a
sequence the column does not own (`create sequence s; … default nextval('s')`)
stays an integer with its `nextval('s'::regclass)` default.

Planning follows Atlas's PostgreSQL planner: names are qualified only in realm
scope; a table's changes are one `ALTER TABLE` (constraint drops first) with
`DROP INDEX` before it and `CREATE INDEX`, comments and sequence drops after it.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from atlas_operator.engine.changes import (
    AddCheck,
    AddColumn,
    AddForeignKey,
    AddIndex,
    AddPrimaryKey,
    AddSchema,
    AddTable,
    Change,
    DropCheck,
    DropColumn,
    DropForeignKey,
    DropIndex,
    DropPrimaryKey,
    DropSchema,
    DropTable,
    ModifyCheck,
    ModifyColumn,
    ModifyForeignKey,
    ModifyIndex,
    ModifyPrimaryKey,
    ModifySchema,
    ModifyTable,
    ModifyTableAttr,
    TableChange,
)
from atlas_operator.engine.diff import encloses_all
from atlas_operator.engine.drivers.base import (
    LOCK_TIMEOUT,
    DatabaseError,
    Driver,
    LockTimeoutError,
    PlannedStatement,
    Scope,
    Session,
    UnsupportedChangeError,
    fnv1_32,
)
from atlas_operator.engine.model import (
    Check,
    Column,
    ForeignKey,
    Generated,
    Identity,
    Index,
    IndexPart,
    PrimaryKey,
    Realm,
    Schema,
    Table,
    Unmanaged,
)
from atlas_operator.engine.plan import order_changes
from atlas_operator.engine.statements import Dialect
from atlas_operator.engine.urls import DatabaseURL

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
SERIAL_BASES = {serial: base for base, serial in SERIAL_TYPES.items()}
TYPE_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}
CONNECT_TIMEOUT = 10


# --- session ---------------------------------------------------------------------------


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


# --- driver ----------------------------------------------------------------------------


class PostgresDriver(Driver):
    name = "postgres"
    dialect = Dialect.POSTGRES
    transactional_ddl = True
    batch_scripts = True

    @contextmanager
    def lock(self, session: Session, name: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        """`pg_try_advisory_lock` on Atlas's FNV-1 key, retried with backoff until `timeout`."""
        key = fnv1_32(name)
        deadline = time.monotonic() + timeout
        delay = 0.025
        while not session.query("SELECT pg_try_advisory_lock(%s)", [key])[0][0]:
            if time.monotonic() >= deadline:
                raise LockTimeoutError(f"sql/schema: lock is held by other session ({name})")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        try:
            yield
        finally:
            session.query("SELECT pg_advisory_unlock(%s)", [key])

    def open(self, url: DatabaseURL) -> PostgresSession:
        return PostgresSession(url)

    def inspect(self, session: Session, scope: Scope) -> Realm:
        return inspect_realm(session, scope)

    def plan(
        self,
        changes: Sequence[Change],
        scope: Scope,
        *,
        concurrent_index: tuple[bool, bool] = (False, False),
    ) -> list[PlannedStatement]:
        planner = Planner(scope, concurrent_index)
        return [s for change in order_changes(changes) for s in planner.change(change)]

    def unmanaged_objects(self, session: Session, scope: Scope) -> list[Unmanaged]:
        names = [name for name, _ in user_schemas(session) if scope.includes(name)]
        rows = session.query(UNMANAGED_QUERY, [names] * UNMANAGED_QUERY.count("%s"))
        return [Unmanaged(kind, schema, name, table) for kind, schema, name, table in rows]

    def is_clean(self, session: Session, scope: Scope) -> bool:
        """Nothing droppable in scope: the bound schema, or (realm) only an empty `public`.

        Stricter than Atlas, which counts tables only: a leftover sequence, view, type
        or function would make the next load of the same desired SQL fail anyway."""
        if scope.bound is not None:
            return not droppable_objects(session, [scope.bound])
        schemas = [name for name, _ in user_schemas(session)]
        if any(name != "public" for name in schemas):
            return False
        return not droppable_objects(session, schemas)

    def clean(self, session: Session, scope: Scope) -> None:
        """Empties the bound schema; in realm scope drops every schema but `public`,
        which is emptied. Schemas that stay are emptied object by object rather than
        dropped and recreated, so their owner, grants and comment survive."""
        if isinstance(session, PostgresSession):
            session.rollback()  # a desired state may have left a transaction open
        if scope.bound is not None:
            keep = scope.bound
        else:
            keep = "public"
            others = [name for name, _ in user_schemas(session) if name != keep]
            if others:
                session.execute(f"DROP SCHEMA IF EXISTS {', '.join(map(quote, others))} CASCADE")
        for statement in drop_statements(droppable_objects(session, [keep])):
            session.execute(statement)
        # Only when missing: CREATE SCHEMA needs the CREATE privilege even with IF NOT EXISTS.
        if not session.query("SELECT 1 FROM pg_namespace WHERE nspname = %s", [keep]):
            session.execute(f"CREATE SCHEMA {quote(keep)}")


# --- inspection ------------------------------------------------------------------------

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

TABLES_QUERY = (
    "SELECT n.nspname, c.relname, obj_description(c.oid, 'pg_class')"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = ANY (%s) AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND "
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
# oidvector subscripts start at 0). Exclusion constraints are not modelled and skipped.
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
    SELECT CASE WHEN o.opcdefault THEN NULL ELSE o.opcname END
    FROM generate_series(0, x.indnkeyatts - 1) k
    LEFT JOIN pg_opclass o ON o.oid = x.indclass[k]
    ORDER BY k
  ),
  ARRAY(
    SELECT a.attname FROM generate_series(x.indnkeyatts, x.indnatts - 1) k
    JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[k]
    ORDER BY k
  )
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = i.relam
LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid
  AND con.contype IN ('p', 'u', 'x')
WHERE n.nspname = ANY (%s) AND t.relkind IN ('r', 'p')
  AND (con.contype IS NULL OR con.contype <> 'x')
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
  con.confupdtype::text, con.confdeltype::text
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE n.nspname = ANY (%s) AND con.contype IN ('c', 'f') AND con.conparentid = 0
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

    def build(self) -> Table:
        return Table(
            name=self.name,
            columns=tuple(self.columns),
            primary_key=self.primary_key,
            indexes=tuple(sorted(self.indexes, key=lambda i: i.name)),
            foreign_keys=tuple(sorted(self.foreign_keys, key=lambda f: f.name)),
            checks=tuple(sorted(self.checks, key=lambda c: c.name or "")),
            comment=self.comment,
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
    tables = {
        (schema, name): TableParts(name, comment)
        for schema, name, comment in session.query(TABLES_QUERY, [names])
    }
    for row in session.query(COLUMNS_QUERY, [names]):
        if (parts := tables.get((row[0], row[1]))) is not None:
            parts.columns.append(column_from_row(row[2:]))
    for row in session.query(INDEXES_QUERY, [names]):
        if (parts := tables.get((row[0], row[1]))) is not None:
            add_index(parts, row[2:])
    for row in session.query(CONSTRAINTS_QUERY, [names]):
        if (parts := tables.get((row[0], row[1]))) is not None:
            add_constraint(parts, row[0], row[2:])
    by_schema: dict[str, list[Table]] = defaultdict(list)
    for (schema, _), parts in tables.items():
        by_schema[schema].append(parts.build())
    return Realm(
        schemas=tuple(
            Schema(name=name, tables=tuple(by_schema[name]), comment=comment)
            for name, comment in schemas
        )
    )


def column_from_row(row: Sequence[Any]) -> Column:
    name, type_, notnull, default, pretty_default, identity, generated = row[:7]
    comment, collation, serial, sequence = row[7], row[8], row[9], row[10:]
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
    columns, exprs, descs, opclasses, include = row[8:]
    if primary:
        parts.primary_key = PrimaryKey(columns=tuple(columns), name=conname or name)
        return
    key_parts = tuple(
        IndexPart(
            column=column,
            expr=None if column is not None else expr,
            desc=bool(desc),
            opclass=opclass,
        )
        for column, expr, desc, opclass in zip(columns, exprs, descs, opclasses, strict=True)
    )
    parts.indexes.append(
        Index(
            name=conname if contype == "u" else name,
            parts=key_parts,
            unique=bool(unique),
            method=None if method == "btree" else method,
            where=predicate,
            include=tuple(include),
            comment=comment,
            constraint=contype == "u",
        )
    )


def add_constraint(parts: TableParts, schema: str, row: Sequence[Any]) -> None:
    name, kind, definition, columns, ref_schema, ref_table, ref_columns, on_update, on_delete = row
    if kind == "c":
        parts.checks.append(Check(name=name, expr=check_expression(definition)))
        return
    parts.foreign_keys.append(
        ForeignKey(
            name=name,
            columns=tuple(columns),
            ref_table=ref_table,
            ref_columns=tuple(ref_columns),
            ref_schema=None if ref_schema == schema else ref_schema,
            on_update=FK_ACTIONS[on_update],
            on_delete=FK_ACTIONS[on_delete],
        )
    )


CHECK_DEFINITION = re.compile(r"CHECK \((?P<expr>.*)\)(?: NO INHERIT)?(?: NOT VALID)?", re.DOTALL)


def check_expression(definition: str) -> str:
    """`CHECK (a > 0) NOT VALID` → `a > 0`."""
    match = CHECK_DEFINITION.fullmatch(definition.strip())
    return match.group("expr") if match else definition


# --- planning --------------------------------------------------------------------------


@dataclass
class AlterTable:
    """One table's statements: before the ALTER TABLE, its clauses, and after it."""

    before: list[PlannedStatement] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)
    """Constraint drops run first, so a constraint can be replaced in one statement."""
    clauses: list[str] = field(default_factory=list)
    after: list[PlannedStatement] = field(default_factory=list)


class Planner:
    """Renders ordered changes; names are schema-qualified only in realm scope."""

    def __init__(self, scope: Scope, concurrent_index: tuple[bool, bool]) -> None:
        self.scope = scope
        self.concurrent_create, self.concurrent_drop = concurrent_index

    # names

    def qualified(self, schema: str, name: str) -> str:
        if self.scope.is_schema:
            return quote(name)
        return f"{quote(schema)}.{quote(name)}"

    def referenced_table(self, schema: str, fk: ForeignKey) -> str:
        """In schema scope only a table of another schema is qualified."""
        if self.scope.is_schema and fk.ref_schema is None:
            return quote(fk.ref_table)
        return f"{quote(fk.ref_schema or schema)}.{quote(fk.ref_table)}"

    # top-level changes

    def change(self, change: Change) -> list[PlannedStatement]:
        if isinstance(change, AddSchema):
            return self.add_schema(change.schema)
        if isinstance(change, DropSchema):
            name = change.schema.name
            return [
                PlannedStatement(
                    f"DROP SCHEMA {quote(name)} CASCADE", f'Drop schema named "{name}"'
                )
            ]
        if isinstance(change, ModifySchema):
            return [self.schema_comment(change.after.name, change.after.comment)]
        if isinstance(change, AddTable):
            return self.create_table(change.schema, change.table)
        if isinstance(change, DropTable):
            return [
                PlannedStatement(
                    f"DROP TABLE {self.qualified(change.schema, change.table.name)}",
                    f'Drop "{change.table.name}" table',
                )
            ]
        return self.modify_table(change)

    def add_schema(self, schema: Schema) -> list[PlannedStatement]:
        if self.scope.is_schema:
            raise UnsupportedChangeError(
                f'cannot add schema "{schema.name}": the URL is bound to schema '
                f'"{self.scope.bound}"'
            )
        statements = [
            PlannedStatement(
                f"CREATE SCHEMA {quote(schema.name)}", f'Add new schema named "{schema.name}"'
            )
        ]
        if schema.comment is not None:
            statements.append(self.schema_comment(schema.name, schema.comment))
        return statements

    def schema_comment(self, schema: str, comment: str | None) -> PlannedStatement:
        return PlannedStatement(
            f"COMMENT ON SCHEMA {quote(schema)} IS {comment_value(comment)}",
            f'Set comment to schema: "{schema}"',
        )

    # CREATE TABLE

    def create_table(self, schema: str, table: Table) -> list[PlannedStatement]:
        lines = [column_definition(c) for c in table.columns]
        if table.primary_key is not None:
            lines.append(primary_key_clause(table.name, table.primary_key))
        lines.extend(unique_clause(i) for i in table.indexes if i.constraint)
        lines.extend(self.foreign_key_clause(schema, fk) for fk in table.foreign_keys)
        lines.extend(check_clause(c) for c in table.checks)
        body = ",\n  ".join(lines)
        statements = [
            PlannedStatement(
                f"CREATE TABLE {self.qualified(schema, table.name)} (\n  {body}\n)",
                f'Create "{table.name}" table',
            )
        ]
        # Indexes of a new table are never built concurrently: nobody writes to it yet.
        statements.extend(
            self.create_index(schema, table.name, i, concurrently=False)
            for i in table.indexes
            if not i.constraint
        )
        statements.extend(self.table_comments(schema, table))
        return statements

    def table_comments(self, schema: str, table: Table) -> list[PlannedStatement]:
        statements = []
        if table.comment is not None:
            statements.append(self.table_comment(schema, table.name, table.comment))
        statements.extend(
            self.column_comment(schema, table.name, c.name, c.comment)
            for c in table.columns
            if c.comment is not None
        )
        statements.extend(
            self.index_comment(schema, table.name, i.name, i.comment)
            for i in table.indexes
            if i.comment is not None
        )
        return statements

    def table_comment(self, schema: str, table: str, comment: str | None) -> PlannedStatement:
        return PlannedStatement(
            f"COMMENT ON TABLE {self.qualified(schema, table)} IS {comment_value(comment)}",
            f'Set comment to table: "{table}"',
        )

    def column_comment(
        self, schema: str, table: str, column: str, comment: str | None
    ) -> PlannedStatement:
        target = f"{self.qualified(schema, table)}.{quote(column)}"
        return PlannedStatement(
            f"COMMENT ON COLUMN {target} IS {comment_value(comment)}",
            f'Set comment to column: "{column}" on table: "{table}"',
        )

    def index_comment(
        self, schema: str, table: str, index: str, comment: str | None
    ) -> PlannedStatement:
        return PlannedStatement(
            f"COMMENT ON INDEX {self.qualified(schema, index)} IS {comment_value(comment)}",
            f'Set comment to index: "{index}" on table: "{table}"',
        )

    def foreign_key_clause(self, schema: str, fk: ForeignKey) -> str:
        columns = ", ".join(map(quote, fk.columns))
        refs = f" ({', '.join(map(quote, fk.ref_columns))})" if fk.ref_columns else ""
        return (
            f"CONSTRAINT {quote(fk.name)} FOREIGN KEY ({columns})"
            f" REFERENCES {self.referenced_table(schema, fk)}{refs}"
            f" ON UPDATE {fk.on_update} ON DELETE {fk.on_delete}"
        )

    # indexes

    def create_index(
        self, schema: str, table: str, index: Index, *, concurrently: bool
    ) -> PlannedStatement:
        unique = "UNIQUE " if index.unique else ""
        mode = "CONCURRENTLY " if concurrently else ""
        using = f" USING {index.method}" if index.method else ""
        include = f" INCLUDE ({', '.join(map(quote, index.include))})" if index.include else ""
        where = f" WHERE {index.where}" if index.where else ""
        return PlannedStatement(
            f"CREATE {unique}INDEX {mode}{quote(index.name)} ON {self.qualified(schema, table)}"
            f"{using} ({index_parts(index)}){include}{where}",
            f'Create index "{index.name}" to table: "{table}"',
            transactional=not concurrently,
        )

    def drop_index(
        self, schema: str, table: str, index: Index, *, concurrently: bool
    ) -> PlannedStatement:
        mode = "CONCURRENTLY " if concurrently else ""
        return PlannedStatement(
            f"DROP INDEX {mode}{self.qualified(schema, index.name)}",
            f'Drop index "{index.name}" from table: "{table}"',
            transactional=not concurrently,
        )

    # ALTER TABLE

    def modify_table(self, change: ModifyTable) -> list[PlannedStatement]:
        schema, table = change.schema, change.after.name
        alter = AlterTable()
        for c in change.changes:
            self.table_change(schema, table, c, alter)
        statements = alter.before
        clauses = alter.drops + alter.clauses
        if clauses:
            statements.append(
                PlannedStatement(
                    f"ALTER TABLE {self.qualified(schema, table)} {', '.join(clauses)}",
                    f'Modify "{table}" table',
                )
            )
        return statements + alter.after

    def table_change(self, schema: str, table: str, c: TableChange, alter: AlterTable) -> None:
        if isinstance(c, AddColumn):
            alter.clauses.append(f"ADD COLUMN {column_definition(c.column)}")
            if c.column.comment is not None:
                alter.after.append(
                    self.column_comment(schema, table, c.column.name, c.column.comment)
                )
        elif isinstance(c, DropColumn):
            alter.clauses.append(f"DROP COLUMN {quote(c.column.name)}")
        elif isinstance(c, ModifyColumn):
            self.modify_column(schema, table, c, alter)
        elif isinstance(c, (AddIndex, DropIndex, ModifyIndex)):
            self.index_change(schema, table, c, alter)
        elif isinstance(c, (AddPrimaryKey, DropPrimaryKey, ModifyPrimaryKey)):
            primary_key_change(table, c, alter)
        elif isinstance(c, AddForeignKey):
            alter.clauses.append(f"ADD {self.foreign_key_clause(schema, c.foreign_key)}")
        elif isinstance(c, DropForeignKey):
            alter.drops.append(f"DROP CONSTRAINT {quote(c.foreign_key.name)}")
        elif isinstance(c, ModifyForeignKey):
            alter.drops.append(f"DROP CONSTRAINT {quote(c.before.name)}")
            alter.clauses.append(f"ADD {self.foreign_key_clause(schema, c.after)}")
        elif isinstance(c, (AddCheck, DropCheck, ModifyCheck)):
            check_change(table, c, alter)
        elif isinstance(c, ModifyTableAttr):
            if c.name != "comment":
                raise UnsupportedChangeError(
                    f'table "{table}": PostgreSQL has no table option "{c.name}"'
                )
            alter.after.append(self.table_comment(schema, table, c.after))

    def modify_column(self, schema: str, table: str, c: ModifyColumn, alter: AlterTable) -> None:
        if "comment" in c.kinds:
            alter.after.append(self.column_comment(schema, table, c.after.name, c.after.comment))
        kinds = c.kinds - {"comment"}
        if not kinds:
            return
        before, after = c.before, c.after
        name = quote(after.name)
        if "generated" in kinds:
            alter.clauses.append(generated_change(table, before, after))
        serial = is_serial(before.type) or is_serial(after.type)
        if serial and ("type" in kinds or "default" in kinds):
            self.serial_change(schema, table, c, alter)
        elif "type" in kinds or "collation" in kinds:
            if "default" in kinds and before.default is not None:
                # The old default may not cast to the new type; it is replaced anyway.
                alter.clauses.append(f"ALTER COLUMN {name} DROP DEFAULT")
            alter.clauses.append(type_clause(after))
        if "nullable" in kinds:
            action = "DROP" if after.nullable else "SET"
            alter.clauses.append(f"ALTER COLUMN {name} {action} NOT NULL")
        if "default" in kinds and not serial:
            if after.default is not None:
                alter.clauses.append(f"ALTER COLUMN {name} SET DEFAULT {after.default}")
            elif "type" not in kinds:
                alter.clauses.append(f"ALTER COLUMN {name} DROP DEFAULT")
        if "identity" in kinds:
            alter.clauses.extend(identity_change(name, before.identity, after.identity))

    def serial_change(self, schema: str, table: str, c: ModifyColumn, alter: AlterTable) -> None:
        """Atlas's serial transitions: a serial column is an integer whose default draws
        from a sequence it owns. The sequence gets PostgreSQL's name `<table>_<column>_seq`
        (the model does not keep inspected sequence names)."""
        before, after = c.before, c.after
        name = quote(after.name)
        sequence = self.qualified(schema, f"{table}_{after.name}_seq")
        base_before = SERIAL_BASES.get(before.type, before.type)
        base_after = SERIAL_BASES.get(after.type, after.type)
        if is_serial(before.type) and not is_serial(after.type):
            if after.default is not None:
                alter.clauses.append(f"ALTER COLUMN {name} SET DEFAULT {after.default}")
            else:
                alter.clauses.append(f"ALTER COLUMN {name} DROP DEFAULT")
            alter.after.append(
                PlannedStatement(
                    f"DROP SEQUENCE IF EXISTS {sequence}",
                    f'Drop sequence used by serial column "{after.name}"',
                )
            )
        elif is_serial(after.type) and not is_serial(before.type):
            owner = f"{self.qualified(schema, table)}.{name}"
            alter.before.append(
                PlannedStatement(
                    f"CREATE SEQUENCE IF NOT EXISTS {sequence} AS {base_after} OWNED BY {owner}",
                    f'Create sequence for serial column "{after.name}"',
                )
            )
            alter.clauses.append(
                f"ALTER COLUMN {name} SET DEFAULT nextval({quote_string(sequence)}::regclass)"
            )
        if base_before != base_after:
            alter.clauses.append(type_clause(replace(after, type=base_after)))

    def index_change(
        self, schema: str, table: str, c: AddIndex | DropIndex | ModifyIndex, alter: AlterTable
    ) -> None:
        if isinstance(c, ModifyIndex) and replace(c.before, comment=None) == replace(
            c.after, comment=None
        ):
            alter.after.append(self.index_comment(schema, table, c.after.name, c.after.comment))
            return
        dropped = c.index if isinstance(c, DropIndex) else getattr(c, "before", None)
        added = c.index if isinstance(c, AddIndex) else getattr(c, "after", None)
        if isinstance(dropped, Index):
            if dropped.constraint:
                alter.drops.append(f"DROP CONSTRAINT {quote(dropped.name)}")
            else:
                concurrently = self.concurrent_drop
                alter.before.append(
                    self.drop_index(schema, table, dropped, concurrently=concurrently)
                )
        if isinstance(added, Index):
            if added.constraint:
                alter.clauses.append(f"ADD {unique_clause(added)}")
            else:
                concurrently = self.concurrent_create
                alter.after.append(
                    self.create_index(schema, table, added, concurrently=concurrently)
                )
            if added.comment is not None:
                alter.after.append(self.index_comment(schema, table, added.name, added.comment))


def comment_value(comment: str | None) -> str:
    return "NULL" if comment is None else quote_string(comment)


def is_serial(type_: str) -> bool:
    return type_ in SERIAL_BASES


def column_definition(column: Column) -> str:
    parts = [quote(column.name), column.type]
    if column.collation:
        parts.append(f"COLLATE {quote(column.collation)}")
    if not column.nullable:
        parts.append("NOT NULL")
    if column.default is not None:
        parts.append(f"DEFAULT {column.default}")
    if column.identity is not None:
        parts.append(identity_clause(column.identity))
    if column.generated is not None:
        parts.append(f"GENERATED ALWAYS AS ({column.generated.expr}) STORED")
    return " ".join(parts)


def identity_clause(identity: Identity) -> str:
    kind = "ALWAYS" if identity.always else "BY DEFAULT"
    options = sequence_options(identity)
    suffix = f" ({' '.join(options)})" if options else ""
    return f"GENERATED {kind} AS IDENTITY{suffix}"


def sequence_options(identity: Identity) -> list[str]:
    options = []
    if identity.start != 1:
        options.append(f"START WITH {identity.start}")
    if identity.increment != 1:
        options.append(f"INCREMENT BY {identity.increment}")
    if identity.min_value is not None:
        options.append(f"MINVALUE {identity.min_value}")
    if identity.max_value is not None:
        options.append(f"MAXVALUE {identity.max_value}")
    if identity.cache != 1:
        options.append(f"CACHE {identity.cache}")
    return options


def identity_change(name: str, before: Identity | None, after: Identity | None) -> list[str]:
    if after is None:
        return [f"ALTER COLUMN {name} DROP IDENTITY"]
    if before is None:
        return [f"ALTER COLUMN {name} ADD {identity_clause(after)}"]
    settings = []
    if before.always != after.always:
        settings.append(f"SET GENERATED {'ALWAYS' if after.always else 'BY DEFAULT'}")
    if before.start != after.start:
        settings.append(f"SET START WITH {after.start}")
    if before.increment != after.increment:
        settings.append(f"SET INCREMENT BY {after.increment}")
    if before.min_value != after.min_value:
        value = "NO MINVALUE" if after.min_value is None else f"MINVALUE {after.min_value}"
        settings.append(f"SET {value}")
    if before.max_value != after.max_value:
        value = "NO MAXVALUE" if after.max_value is None else f"MAXVALUE {after.max_value}"
        settings.append(f"SET {value}")
    if before.cache != after.cache:
        settings.append(f"SET CACHE {after.cache}")
    return [f"ALTER COLUMN {name} {' '.join(settings)}"] if settings else []


def generated_change(table: str, before: Column, after: Column) -> str:
    """PostgreSQL can only turn a generated column into a plain one (reference §3.3)."""
    if before.generated is not None and after.generated is None:
        return f"ALTER COLUMN {quote(after.name)} DROP EXPRESSION"
    if before.generated is None:
        problem = "cannot become a generated column"
    else:
        problem = "cannot change its generation expression"
    raise UnsupportedChangeError(
        f'column "{table}"."{after.name}" {problem}: PostgreSQL only supports DROP EXPRESSION;'
        " drop the column and add it again"
    )


def type_clause(column: Column) -> str:
    """ALTER COLUMN … TYPE with an explicit cast, so conversions without an implicit
    (assignment) cast, such as text to integer, work when the data allows it."""
    name = quote(column.name)
    collate = f" COLLATE {quote(column.collation)}" if column.collation else ""
    return f"ALTER COLUMN {name} TYPE {column.type}{collate} USING {name}::{column.type}"


def primary_key_clause(table: str, pk: PrimaryKey) -> str:
    columns = ", ".join(map(quote, pk.columns))
    # PostgreSQL names an unnamed key `<table>_pkey`; only another name is spelled out.
    if pk.name is None or pk.name == f"{table}_pkey":
        return f"PRIMARY KEY ({columns})"
    return f"CONSTRAINT {quote(pk.name)} PRIMARY KEY ({columns})"


def primary_key_change(
    table: str, c: AddPrimaryKey | DropPrimaryKey | ModifyPrimaryKey, alter: AlterTable
) -> None:
    dropped = c.primary_key if isinstance(c, DropPrimaryKey) else getattr(c, "before", None)
    added = c.primary_key if isinstance(c, AddPrimaryKey) else getattr(c, "after", None)
    if isinstance(dropped, PrimaryKey):
        alter.drops.append(f"DROP CONSTRAINT {quote(dropped.name or f'{table}_pkey')}")
    if isinstance(added, PrimaryKey):
        alter.clauses.append(f"ADD {primary_key_clause(table, added)}")


def check_clause(check: Check) -> str:
    prefix = f"CONSTRAINT {quote(check.name)} " if check.name else ""
    return f"{prefix}CHECK ({check.expr})"


def check_change(table: str, c: AddCheck | DropCheck | ModifyCheck, alter: AlterTable) -> None:
    dropped = c.check if isinstance(c, DropCheck) else getattr(c, "before", None)
    added = c.check if isinstance(c, AddCheck) else getattr(c, "after", None)
    if isinstance(dropped, Check):
        if dropped.name is None:
            raise UnsupportedChangeError(
                f'table "{table}": an unnamed check constraint cannot be dropped'
            )
        alter.drops.append(f"DROP CONSTRAINT {quote(dropped.name)}")
    if isinstance(added, Check):
        alter.clauses.append(f"ADD {check_clause(added)}")


def unique_clause(index: Index) -> str:
    include = f" INCLUDE ({', '.join(map(quote, index.include))})" if index.include else ""
    columns = ", ".join(map(quote, index.columns))
    return f"CONSTRAINT {quote(index.name)} UNIQUE ({columns}){include}"


def index_parts(index: Index) -> str:
    return ", ".join(index_part(part) for part in index.parts)


def index_part(part: IndexPart) -> str:
    if part.column is not None:
        text = quote(part.column)
    else:
        expr = part.expr or ""
        # A bare expression needs parentheses; one already enclosed needs no second pair.
        text = expr if expr.startswith("(") and encloses_all(expr) else f"({expr})"
    if part.opclass:
        text += f" {part.opclass}"
    if part.desc:
        text += " DESC"
    return text


# --- dev database cleaning -------------------------------------------------------------

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
    return [(kind, name) for kind, name in rows]


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
