"""PostgreSQL: inspection from pg_catalog (one query per element kind for the whole
scope) and planning with transactional DDL.

Values are kept as the server prints them: `format_type` for types, `pg_get_expr`
for defaults and predicates, `pg_get_constraintdef` for checks, so a desired state
run on a dev database and the target compare equal when they mean the same.
Columns whose default draws from a sequence they own are reported as
`serial`/`bigserial`/`smallserial`, as Atlas does, so plans can create them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

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
from atlas_operator.engine.drivers.base import (
    DatabaseError,
    Driver,
    PlannedStatement,
    Scope,
    Session,
    UnsupportedChangeError,
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
)
from atlas_operator.engine.plan import order_changes
from atlas_operator.engine.statements import Dialect
from atlas_operator.engine.urls import DatabaseURL

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
FK_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
SERIALS = {"integer": "serial", "bigint": "bigserial", "smallint": "smallserial"}


class PostgresSession(Session):
    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        try:
            self.conn = psycopg.connect(url.dsn_for_psycopg(), autocommit=True, connect_timeout=10)
        except psycopg.Error as err:
            raise DatabaseError(f"cannot connect to {url.redacted()}: {first_line(err)}") from None
        if url.schema:
            self.execute(f"SET search_path TO {quote(url.schema)}")

    def execute(self, sql: str) -> None:
        try:
            self.conn.execute(sql.encode())
        except psycopg.Error as err:
            raise DatabaseError(server_message(err)) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self.conn.execute(sql, tuple(params)).fetchall())
        except psycopg.Error as err:
            raise DatabaseError(server_message(err)) from None

    def begin(self) -> None:
        self.execute("BEGIN")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()


def first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def server_message(err: psycopg.Error) -> str:
    diag = err.diag
    message = diag.message_primary or first_line(err)
    if diag.message_detail:
        message += f" ({diag.message_detail})"
    return message


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class PostgresDriver(Driver):
    name = "postgres"
    dialect = Dialect.POSTGRES
    transactional_ddl = True

    def open(self, url: DatabaseURL) -> PostgresSession:
        return PostgresSession(url)

    def inspect(self, session: Session, scope: Scope) -> Realm:
        return Inspector(session, scope).realm()

    def plan(
        self,
        changes: Sequence[Change],
        scope: Scope,
        *,
        concurrent_index: tuple[bool, bool] = (False, False),
    ) -> list[PlannedStatement]:
        planner = Planner(scope, concurrent_index)
        return [s for change in order_changes(changes) for s in planner.change(change)]

    def is_clean(self, session: Session, scope: Scope) -> bool:
        realm = self.inspect(session, scope)
        if scope.bound is None and any(s.name != "public" for s in realm.schemas):
            return False
        return all(not schema.tables for schema in realm.schemas)

    def clean(self, session: Session, scope: Scope) -> None:
        names = [scope.bound] if scope.bound else [s.name for s in Inspector(session, scope).schemas()]
        for name in names:
            session.execute(f"DROP SCHEMA IF EXISTS {quote(name)} CASCADE")
        if scope.bound:
            session.execute(f"CREATE SCHEMA {quote(scope.bound)}")
        else:
            session.execute('CREATE SCHEMA IF NOT EXISTS "public"')


# --- inspection ------------------------------------------------------------------------


@dataclass
class TableBuild:
    name: str
    comment: str | None
    columns: list[Column] = field(default_factory=list)
    primary_key: PrimaryKey | None = None
    indexes: list[Index] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)


class Inspector:
    """Reads one scope with a fixed number of catalog queries."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    def schemas(self) -> list[tuple[str, str | None]]:
        rows = self.session.query(
            "SELECT n.nspname, obj_description(n.oid, 'pg_namespace') FROM pg_namespace n"
            " WHERE n.nspname <> ALL(%s) AND n.nspname NOT LIKE 'pg\\_temp\\_%%'"
            " AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'"
            " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = n.oid AND d.deptype = 'e')"
            " ORDER BY 1",
            [list(SYSTEM_SCHEMAS)],
        )
        return [(name, comment) for name, comment in rows if self.scope.includes(name)]

    def realm(self) -> Realm:
        schemas = self.schemas()
        names = [name for name, _ in schemas]
        tables: dict[tuple[str, str], TableBuild] = {}
        for schema, table, comment in self.session.query(
            "SELECT n.nspname, c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(%s) AND NOT c.relispartition"
            " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')"
            " ORDER BY 1, 2",
            [names],
        ):
            tables[(schema, table)] = TableBuild(table, comment)
        self.columns(names, tables)
        self.indexes(names, tables)
        self.constraints(names, tables)
        by_schema: dict[str, list[Table]] = defaultdict(list)
        for (schema, _), build in tables.items():
            by_schema[schema].append(finish_table(build))
        return Realm(
            schemas=tuple(
                Schema(name=name, tables=tuple(by_schema[name]), comment=comment)
                for name, comment in schemas
            )
        )

    def columns(self, names: list[str], tables: dict[tuple[str, str], TableBuild]) -> None:
        for row in self.session.query(
            "SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),"
            " a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,"
            " col_description(c.oid, a.attnum),"
            " CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,"
            " s.seqstart, s.seqincrement, owned.seq"
            " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_type t ON t.oid = a.atttypid"
            " LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum"
            " LEFT JOIN pg_collation co ON co.oid = a.attcollation"
            # The sequence a column owns (serial or identity), if any.
            " LEFT JOIN LATERAL (SELECT dep.objid::regclass::text AS seq, dep.objid FROM pg_depend dep"
            "   WHERE dep.refobjid = c.oid AND dep.refobjsubid = a.attnum"
            "   AND dep.classid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')"
            "   LIMIT 1) owned ON true"
            " LEFT JOIN pg_sequence s ON s.seqrelid = owned.objid AND a.attidentity <> ''"
            " WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p')"
            " AND n.nspname = ANY(%s) ORDER BY 1, 2, a.attnum",
            [names],
        ):
            build = tables.get((row[0], row[1]))
            if build is not None:
                build.columns.append(column_from_row(row))

    def indexes(self, names: list[str], tables: dict[tuple[str, str], TableBuild]) -> None:
        for row in self.session.query(
            "SELECT n.nspname, c.relname, i.relname, ix.indisunique, ix.indisprimary, am.amname,"
            " pg_get_expr(ix.indpred, ix.indrelid), ix.indnkeyatts, con.contype, con.conname,"
            " obj_description(i.oid, 'pg_class'),"
            " ARRAY(SELECT CASE WHEN ix.indkey[k - 1] = 0 THEN NULL ELSE"
            "   (SELECT attname FROM pg_attribute WHERE attrelid = ix.indrelid"
            "    AND attnum = ix.indkey[k - 1]) END"
            "   FROM generate_series(1, ix.indnatts) k ORDER BY k),"
            " ARRAY(SELECT pg_get_indexdef(ix.indexrelid, k, true)"
            "   FROM generate_series(1, ix.indnatts) k ORDER BY k),"
            " ARRAY(SELECT ix.indoption[k - 1] FROM generate_series(1, ix.indnkeyatts) k"
            "   ORDER BY k),"
            " ix.indnullsnotdistinct"
            " FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid"
            " JOIN pg_class c ON c.oid = ix.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_am am ON am.oid = i.relam"
            " LEFT JOIN pg_constraint con ON con.conindid = ix.indexrelid"
            "   AND con.conrelid = ix.indrelid AND con.contype IN ('p', 'u', 'x')"
            " WHERE n.nspname = ANY(%s) ORDER BY 1, 2, 3",
            [names],
        ):
            build = tables.get((row[0], row[1]))
            if build is not None:
                add_index(build, row)

    def constraints(self, names: list[str], tables: dict[tuple[str, str], TableBuild]) -> None:
        for row in self.session.query(
            "SELECT n.nspname, c.relname, con.conname, con.contype,"
            " pg_get_constraintdef(con.oid, true),"
            " ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)"
            "   JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY ord),"
            " fn.nspname, fc.relname,"
            " ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)"
            "   JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num"
            "   ORDER BY ord),"
            " con.confupdtype, con.confdeltype"
            " FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_class fc ON fc.oid = con.confrelid"
            " LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace"
            " WHERE con.contype IN ('f', 'c') AND n.nspname = ANY(%s) ORDER BY 1, 2, 3",
            [names],
        ):
            build = tables.get((row[0], row[1]))
            if build is None:
                continue
            schema, _, name, kind, definition, columns = row[:6]
            if kind == "c":
                build.checks.append(Check(name=name, expr=check_expression(definition)))
            else:
                ref_schema, ref_table, ref_columns, on_update, on_delete = row[6:]
                build.foreign_keys.append(
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


def column_from_row(row: tuple[Any, ...]) -> Column:
    (_, _, name, type_, notnull, default, identity, generated, comment, collation,
     seq_start, seq_increment, owned_seq) = row
    column = Column(
        name=name,
        type=type_,
        nullable=not notnull,
        default=default,
        comment=comment,
        collation=collation,
    )
    if identity:
        return Column(
            name=name, type=type_, nullable=not notnull, comment=comment, collation=collation,
            identity=Identity(always=identity == "a", start=int(seq_start or 1),
                              increment=int(seq_increment or 1)),
        )
    if generated == "s":
        return Column(name=name, type=type_, nullable=not notnull, comment=comment,
                      collation=collation, generated=Generated(expr=default or "", stored=True))
    if owned_seq and default and type_ in SERIALS and is_nextval_of(default, owned_seq):
        return Column(name=name, type=SERIALS[type_], nullable=not notnull, comment=comment,
                      collation=collation)
    return column


def is_nextval_of(default: str, sequence: str) -> bool:
    match = re.fullmatch(r"nextval\('(.+)'::regclass\)", default)
    return bool(match) and match.group(1).replace("''", "'") == sequence  # type: ignore[union-attr]


def check_expression(definition: str) -> str:
    """`CHECK ((a > 0)) NOT VALID` → `(a > 0)`; the diff ignores outer parentheses."""
    text = re.sub(r"\s+NOT VALID$", "", definition.strip())
    text = re.sub(r"\s+NO INHERIT$", "", text)
    return text[len("CHECK ") :].strip() if text.upper().startswith("CHECK ") else text


def add_index(build: TableBuild, row: tuple[Any, ...]) -> None:
    (_, _, name, unique, primary, method, predicate, key_count, contype, conname,
     comment, columns, definitions, options, nulls_not_distinct) = row
    key_columns = list(columns[:key_count])
    if primary:
        build.primary_key = PrimaryKey(columns=tuple(key_columns), name=conname or name)
        return
    parts = []
    for i in range(key_count):
        desc = bool(options[i] & 1) if i < len(options) and options[i] is not None else False
        if columns[i] is not None:
            parts.append(IndexPart(column=columns[i], desc=desc))
        else:
            parts.append(IndexPart(expr=definitions[i], desc=desc))
    include = tuple(c for c in columns[key_count:] if c is not None)
    build.indexes.append(
        Index(
            name=name,
            parts=tuple(parts),
            unique=bool(unique),
            method=None if method == "btree" else method,
            where=predicate,
            include=include,
            comment=comment,
            constraint=contype == "u",
        )
    )
    del nulls_not_distinct  # not modelled yet


def finish_table(build: TableBuild) -> Table:
    return Table(
        name=build.name,
        columns=tuple(build.columns),
        primary_key=build.primary_key,
        indexes=tuple(sorted(build.indexes, key=lambda i: i.name)),
        foreign_keys=tuple(sorted(build.foreign_keys, key=lambda f: f.name)),
        checks=tuple(sorted(build.checks, key=lambda c: c.name or "")),
        comment=build.comment,
    )


# --- planning ---------------------------------------------------------------------------


class Planner:
    """Renders changes; names are schema-qualified only in realm scope."""

    def __init__(self, scope: Scope, concurrent_index: tuple[bool, bool]) -> None:
        self.scope = scope
        self.concurrent_create, self.concurrent_drop = concurrent_index

    def qualified(self, schema: str | None, name: str) -> str:
        if self.scope.bound is not None or schema is None:
            return quote(name)
        return f"{quote(schema)}.{quote(name)}"

    def change(self, change: Change) -> list[PlannedStatement]:
        if isinstance(change, AddSchema):
            return [PlannedStatement(f"CREATE SCHEMA {quote(change.schema.name)}",
                                     f'Add new schema named "{change.schema.name}"')]
        if isinstance(change, DropSchema):
            return [PlannedStatement(f"DROP SCHEMA {quote(change.schema.name)} CASCADE",
                                     f'Drop schema named "{change.schema.name}"')]
        if isinstance(change, ModifySchema):
            return self.modify_schema(change)
        if isinstance(change, AddTable):
            return self.create_table(change.schema, change.table)
        if isinstance(change, DropTable):
            return [PlannedStatement(
                f"DROP TABLE {self.qualified(change.schema, change.table.name)}",
                f'Drop "{change.table.name}" table')]
        return self.modify_table(change)

    def modify_schema(self, change: ModifySchema) -> list[PlannedStatement]:
        comment = change.after.comment
        value = quote_string(comment) if comment else "NULL"
        return [PlannedStatement(f"COMMENT ON SCHEMA {quote(change.after.name)} IS {value}",
                                 f'Modify schema "{change.after.name}"')]

    def create_table(self, schema: str, table: Table) -> list[PlannedStatement]:
        name = self.qualified(schema, table.name)
        lines = [column_definition(c) for c in table.columns]
        if table.primary_key:
            lines.append(self.primary_key(table.primary_key))
        for index in table.indexes:
            if index.constraint:
                lines.append(f"CONSTRAINT {quote(index.name)} UNIQUE ({index_columns(index)})")
        lines.extend(self.foreign_key(schema, fk) for fk in table.foreign_keys)
        lines.extend(check_clause(c) for c in table.checks)
        body = ",\n  ".join(lines)
        statements = [PlannedStatement(f"CREATE TABLE {name} (\n  {body}\n)",
                                       f'Create "{table.name}" table')]
        statements.extend(
            self.create_index(schema, table.name, i, concurrently=False)
            for i in table.indexes if not i.constraint
        )
        statements.extend(self.comments(schema, table))
        return statements

    def comments(self, schema: str, table: Table) -> list[PlannedStatement]:
        out = []
        name = self.qualified(schema, table.name)
        if table.comment is not None:
            out.append(self.table_comment(name, table.name, table.comment))
        for column in table.columns:
            if column.comment is not None:
                out.append(self.column_comment(name, table.name, column.name, column.comment))
        for index in table.indexes:
            if index.comment is not None:
                out.append(PlannedStatement(
                    f"COMMENT ON INDEX {self.qualified(schema, index.name)} IS "
                    f"{quote_string(index.comment)}",
                    f'Set comment to index: "{index.name}" on table: "{table.name}"'))
        return out

    def table_comment(self, name: str, table: str, comment: str | None) -> PlannedStatement:
        value = quote_string(comment) if comment is not None else "NULL"
        return PlannedStatement(f"COMMENT ON TABLE {name} IS {value}",
                                f'Set comment to table: "{table}"')

    def column_comment(self, name: str, table: str, column: str,
                       comment: str | None) -> PlannedStatement:
        value = quote_string(comment) if comment is not None else "NULL"
        return PlannedStatement(f"COMMENT ON COLUMN {name}.{quote(column)} IS {value}",
                                f'Set comment to column: "{column}" on table: "{table}"')

    def primary_key(self, pk: PrimaryKey) -> str:
        cols = ", ".join(quote(c) for c in pk.columns)
        prefix = f"CONSTRAINT {quote(pk.name)} " if pk.name else ""
        return f"{prefix}PRIMARY KEY ({cols})"

    def foreign_key(self, schema: str, fk: ForeignKey) -> str:
        cols = ", ".join(quote(c) for c in fk.columns)
        refs = ", ".join(quote(c) for c in fk.ref_columns)
        target = self.qualified(fk.ref_schema or schema, fk.ref_table) \
            if self.scope.bound is None else (
                f"{quote(fk.ref_schema)}.{quote(fk.ref_table)}" if fk.ref_schema
                else quote(fk.ref_table))
        clause = (f"CONSTRAINT {quote(fk.name)} FOREIGN KEY ({cols}) REFERENCES {target} "
                  f"({refs})")
        if fk.on_update != "NO ACTION":
            clause += f" ON UPDATE {fk.on_update}"
        if fk.on_delete != "NO ACTION":
            clause += f" ON DELETE {fk.on_delete}"
        return clause

    def create_index(self, schema: str, table: str, index: Index, *,
                     concurrently: bool) -> PlannedStatement:
        unique = "UNIQUE " if index.unique else ""
        mode = "CONCURRENTLY " if concurrently else ""
        using = f" USING {index.method}" if index.method else ""
        include = f" INCLUDE ({', '.join(quote(c) for c in index.include)})" \
            if index.include else ""
        where = f" WHERE {index.where}" if index.where else ""
        return PlannedStatement(
            f"CREATE {unique}INDEX {mode}{quote(index.name)} ON "
            f"{self.qualified(schema, table)}{using} ({index_parts(index)}){include}{where}",
            f'Create index "{index.name}" to table: "{table}"',
            transactional=not concurrently,
        )

    def drop_index(self, schema: str, table: str, index: Index, *,
                   concurrently: bool) -> PlannedStatement:
        mode = "CONCURRENTLY " if concurrently else ""
        return PlannedStatement(
            f"DROP INDEX {mode}{self.qualified(schema, index.name)}",
            f'Drop index "{index.name}" from table: "{table}"',
            transactional=not concurrently,
        )

    def modify_table(self, change: ModifyTable) -> list[PlannedStatement]:
        schema, table = change.schema, change.after.name
        name = self.qualified(schema, table)
        before: list[PlannedStatement] = []
        clauses: list[str] = []
        after: list[PlannedStatement] = []
        for c in change.changes:
            self.table_change(schema, table, name, c, before, clauses, after)
        statements = before
        if clauses:
            statements.append(PlannedStatement(f"ALTER TABLE {name} " + ", ".join(clauses),
                                               f'Modify "{table}" table'))
        return statements + after

    def table_change(self, schema: str, table: str, name: str, c: TableChange,
                     before: list[PlannedStatement], clauses: list[str],
                     after: list[PlannedStatement]) -> None:
        if isinstance(c, AddColumn):
            clauses.append(f"ADD COLUMN {column_definition(c.column)}")
            if c.column.comment is not None:
                after.append(self.column_comment(name, table, c.column.name, c.column.comment))
        elif isinstance(c, DropColumn):
            clauses.append(f"DROP COLUMN {quote(c.column.name)}")
        elif isinstance(c, ModifyColumn):
            clauses.extend(modify_column_clauses(c))
            if "comment" in c.kinds:
                after.append(self.column_comment(name, table, c.after.name, c.after.comment))
        elif isinstance(c, (AddIndex, DropIndex, ModifyIndex)):
            self.index_change(schema, table, c, before, clauses, after)
        elif isinstance(c, AddPrimaryKey):
            clauses.append(f"ADD {self.primary_key(c.primary_key)}")
        elif isinstance(c, DropPrimaryKey):
            clauses.insert(0, f"DROP CONSTRAINT {quote(c.primary_key.name or table + '_pkey')}")
        elif isinstance(c, ModifyPrimaryKey):
            clauses.insert(0, f"DROP CONSTRAINT {quote(c.before.name or table + '_pkey')}")
            clauses.append(f"ADD {self.primary_key(c.after)}")
        elif isinstance(c, AddForeignKey):
            clauses.append(f"ADD {self.foreign_key(schema, c.foreign_key)}")
        elif isinstance(c, DropForeignKey):
            clauses.insert(0, f"DROP CONSTRAINT {quote(c.foreign_key.name)}")
        elif isinstance(c, ModifyForeignKey):
            clauses.insert(0, f"DROP CONSTRAINT {quote(c.before.name)}")
            clauses.append(f"ADD {self.foreign_key(schema, c.after)}")
        elif isinstance(c, AddCheck):
            clauses.append(f"ADD {check_clause(c.check)}")
        elif isinstance(c, DropCheck):
            clauses.insert(0, f"DROP CONSTRAINT {quote(check_name(c.check, table))}")
        elif isinstance(c, ModifyCheck):
            clauses.insert(0, f"DROP CONSTRAINT {quote(check_name(c.before, table))}")
            clauses.append(f"ADD {check_clause(c.after)}")
        elif isinstance(c, ModifyTableAttr):
            if c.name != "comment":
                raise UnsupportedChangeError(f'PostgreSQL has no table option "{c.name}"')
            after.append(self.table_comment(name, table, c.after))

    def index_change(self, schema: str, table: str, c: AddIndex | DropIndex | ModifyIndex,
                     before: list[PlannedStatement], clauses: list[str],
                     after: list[PlannedStatement]) -> None:
        dropped = c.index if isinstance(c, DropIndex) else c.before \
            if isinstance(c, ModifyIndex) else None
        added = c.index if isinstance(c, AddIndex) else c.after \
            if isinstance(c, ModifyIndex) else None
        if dropped is not None:
            if dropped.constraint:
                clauses.insert(0, f"DROP CONSTRAINT {quote(dropped.name)}")
            else:
                before.append(self.drop_index(schema, table, dropped,
                                              concurrently=self.concurrent_drop))
        if added is not None:
            if added.constraint:
                clauses.append(f"ADD CONSTRAINT {quote(added.name)} UNIQUE "
                               f"({index_columns(added)})")
            else:
                after.append(self.create_index(schema, table, added,
                                               concurrently=self.concurrent_create))
            if added.comment is not None:
                after.append(PlannedStatement(
                    f"COMMENT ON INDEX {self.qualified(schema, added.name)} IS "
                    f"{quote_string(added.comment)}",
                    f'Set comment to index: "{added.name}" on table: "{table}"'))


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
    options = []
    if identity.start != 1:
        options.append(f"START WITH {identity.start}")
    if identity.increment != 1:
        options.append(f"INCREMENT BY {identity.increment}")
    suffix = f" ({' '.join(options)})" if options else ""
    return f"GENERATED {kind} AS IDENTITY{suffix}"


def modify_column_clauses(c: ModifyColumn) -> list[str]:
    name, b, a = quote(c.after.name), c.before, c.after
    clauses: list[str] = []
    if "generated" in c.kinds:
        if b.generated is not None and a.generated is None:
            clauses.append(f"ALTER COLUMN {name} DROP EXPRESSION")
        else:
            raise UnsupportedChangeError(
                f'column "{a.name}": changing or adding a generation expression is not supported '
                "by PostgreSQL; drop and add the column instead"
            )
    if "type" in c.kinds or "collation" in c.kinds:
        if a.type in SERIALS.values() or b.type in SERIALS.values():
            clauses.extend(serial_change(c))
        else:
            collate = f" COLLATE {quote(a.collation)}" if a.collation else ""
            clauses.append(f"ALTER COLUMN {name} TYPE {a.type}{collate} USING {name}::{a.type}")
    if "nullable" in c.kinds:
        clauses.append(f"ALTER COLUMN {name} {'DROP' if a.nullable else 'SET'} NOT NULL")
    if "default" in c.kinds:
        if a.default is None:
            clauses.append(f"ALTER COLUMN {name} DROP DEFAULT")
        else:
            clauses.append(f"ALTER COLUMN {name} SET DEFAULT {a.default}")
    if "identity" in c.kinds:
        clauses.extend(identity_change(name, b.identity, a.identity))
    return clauses


def serial_change(c: ModifyColumn) -> list[str]:
    """Serial pseudo-types exist only in CREATE TABLE; other changes are refused clearly."""
    base = {v: k for k, v in SERIALS.items()}
    if base.get(c.after.type) == c.before.type or base.get(c.before.type) == c.after.type:
        raise UnsupportedChangeError(
            f'column "{c.after.name}": switching between {c.before.type} and {c.after.type} '
            "needs a sequence change that is not supported yet"
        )
    name = quote(c.after.name)
    target = base.get(c.after.type, c.after.type)
    return [f"ALTER COLUMN {name} TYPE {target} USING {name}::{target}"]


def identity_change(name: str, before: Identity | None, after: Identity | None) -> list[str]:
    if after is None:
        return [f"ALTER COLUMN {name} DROP IDENTITY"]
    if before is None:
        return [f"ALTER COLUMN {name} ADD {identity_clause(after)}"]
    clauses = []
    if before.always != after.always:
        kind = "ALWAYS" if after.always else "BY DEFAULT"
        clauses.append(f"ALTER COLUMN {name} SET GENERATED {kind}")
    if before.start != after.start:
        clauses.append(f"ALTER COLUMN {name} SET START WITH {after.start}")
    if before.increment != after.increment:
        clauses.append(f"ALTER COLUMN {name} SET INCREMENT BY {after.increment}")
    return clauses


def check_clause(check: Check) -> str:
    prefix = f"CONSTRAINT {quote(check.name)} " if check.name else ""
    expr = check.expr if check.expr.startswith("(") else f"({check.expr})"
    return f"{prefix}CHECK {expr}"


def check_name(check: Check, table: str) -> str:
    return check.name or f"{table}_check"


def index_columns(index: Index) -> str:
    return ", ".join(quote(p.column) if p.column else f"({p.expr})" for p in index.parts)


def index_parts(index: Index) -> str:
    rendered = []
    for part in index.parts:
        if part.column is not None:
            text = quote(part.column)
        else:
            expr = part.expr or ""
            text = expr if re.fullmatch(r"[\w.]+\(.*\)", expr) else f"({expr})"
        rendered.append(text + (" DESC" if part.desc else ""))
    return ", ".join(rendered)

