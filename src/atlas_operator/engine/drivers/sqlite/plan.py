"""SQLite: inspection from `sqlite_master` and the table-valued pragmas, and planning
with the table-rebuild procedure where `ALTER TABLE` cannot make a change.

SQLite keeps the original `CREATE TABLE` text and nothing else for checks,
constraint names, AUTOINCREMENT and generated expressions, so those are read from
that text; everything the pragmas describe comes from the pragmas.
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import tempfile
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from atlas_operator.engine.changes import (
    AddColumn,
    AddIndex,
    AddSchema,
    AddTable,
    Change,
    DropIndex,
    DropSchema,
    DropTable,
    ModifySchema,
    ModifyTable,
)
from atlas_operator.engine.drivers.base import (
    LOCK_TIMEOUT,
    DatabaseError,
    Driver,
    LockTimeoutError,
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
    Index,
    IndexPart,
    PrimaryKey,
    Realm,
    Schema,
    Table,
    Unmanaged,
)
from atlas_operator.engine.plan import order_changes
from atlas_operator.engine.sqltext import (
    IDENTIFIER,
    normalize_space,
    parenthesized,
    split_top_level,
    unquote_identifier,
)
from atlas_operator.engine.statements import Dialect
from atlas_operator.engine.urls import DatabaseURL

MAIN = "main"
USER_TABLES = "m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"


class SQLiteSession(Session):
    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        target, uri = url.sqlite_target()
        try:
            self.conn = sqlite3.connect(target, uri=uri, isolation_level=None)
        except sqlite3.Error as err:
            raise DatabaseError(f"cannot open {url.redacted()}: {err}") from None
        if url.params.get("_fk") in ("1", "true"):
            self.conn.execute("PRAGMA foreign_keys = on")

    def execute(self, sql: str) -> None:
        try:
            self.conn.execute(sql)
        except sqlite3.Error as err:
            raise DatabaseError(str(err)) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self.conn.execute(sql, tuple(params)).fetchall())
        except sqlite3.Error as err:
            raise DatabaseError(str(err)) from None

    def begin(self) -> None:
        self.execute("BEGIN")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()


class SQLiteDriver(Driver):
    name = "sqlite"
    dialect = Dialect.SQLITE
    transactional_ddl = True
    case_insensitive_names = True

    def open(self, url: DatabaseURL) -> SQLiteSession:
        return SQLiteSession(url)

    def scope_of(self, url: DatabaseURL, schemas: Sequence[str] = ()) -> Scope:
        return Scope(bound=MAIN)

    @contextmanager
    def lock(self, session: Session, name: str, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        """An exclusive `flock` on `$TMPDIR/<name>_<adler32 of the database>.lock`: the
        kernel drops it with the process, so a killed applier leaves no stale lock."""
        target = session.url.sqlite_target()[0]
        suffix = format(zlib.adler32(target.encode()), "x")
        path = os.path.join(tempfile.gettempdir(), f"{name}_{suffix}.lock")
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            deadline, delay = time.monotonic() + timeout, 0.025
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeoutError(
                            f"sql/schema: lock is held by other session ({name})"
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
            # Atlas's lock file holds its expiry in Unix nanoseconds.
            os.ftruncate(fd, 0)
            os.write(fd, str(time.time_ns() + int(timeout * 1e9)).encode())
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def inspect(self, session: Session, scope: Scope) -> Realm:
        return Realm(schemas=(inspect_main(session),))

    def plan(
        self,
        changes: Sequence[Change],
        scope: Scope,
        *,
        concurrent_index: tuple[bool, bool] = (False, False),
    ) -> list[PlannedStatement]:
        return [
            s
            for change in order_changes(changes, split_foreign_keys=False)
            for s in plan_change(change)
        ]

    def unmanaged_objects(self, session: Session, scope: Scope) -> list[Unmanaged]:
        # Views and triggers: the model covers tables and indexes only (DECISIONS §3.5).
        rows = session.query(
            "SELECT type, name, CASE type WHEN 'trigger' THEN tbl_name END FROM sqlite_master"
            " WHERE type IN ('view', 'trigger') ORDER BY type, name"
        )
        schema = scope.bound or "main"
        return [Unmanaged(kind, schema, name, table) for kind, name, table in rows]

    def clean(self, session: Session, scope: Scope) -> None:
        session.execute("PRAGMA foreign_keys = off")
        for kind, name in session.query(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view', 'trigger')"
            " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        ):
            session.execute(f"DROP {kind.upper()} IF EXISTS {quote(name)}")

    def before_apply(self, session: Session, statements: Sequence[PlannedStatement]) -> None:
        # A rebuild drops and recreates a table; with foreign keys on, the DROP would
        # delete (or cascade) rows of referencing tables. The pragma is a no-op inside a
        # transaction, so it is switched here, and checked with foreign_key_check below.
        if isinstance(session, SQLiteSession) and any_rebuild(statements):
            session.fk_was_on = bool(session.query("PRAGMA foreign_keys")[0][0])  # type: ignore[attr-defined]
            session.execute("PRAGMA foreign_keys = off")

    def before_commit(self, session: Session, statements: Sequence[PlannedStatement]) -> None:
        # With the pragma off during a rebuild, rows that no longer satisfy a foreign
        # key would slip through silently; the check makes the plan fail instead.
        if getattr(session, "fk_was_on", False):
            violations = session.query("PRAGMA foreign_key_check")
            if violations:
                table, rowid, parent, _ = violations[0]
                raise DatabaseError(
                    f"foreign key violation after table rebuild: {len(violations)} row(s),"
                    f" first in table {table!r} (rowid {rowid}) referencing {parent!r}"
                )

    def after_apply(self, session: Session, statements: Sequence[PlannedStatement]) -> None:
        if getattr(session, "fk_was_on", False):
            session.execute("PRAGMA foreign_keys = on")
            session.fk_was_on = False  # type: ignore[attr-defined]


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def quote_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- inspection --------------------------------------------------------------------


@dataclass
class TableParts:
    """What one table's pragmas and DDL text say, gathered before building the model."""

    sql: str
    columns: list[Column] = field(default_factory=list)
    pk: list[tuple[int, str]] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    fk_rows: dict[int, list[tuple[Any, ...]]] = field(default_factory=lambda: defaultdict(list))


def inspect_main(session: Session) -> Schema:
    tables = {
        name: TableParts(sql or "")
        for name, sql in session.query(
            f"SELECT m.name, m.sql FROM sqlite_master m WHERE {USER_TABLES}"
        )
    }
    for table, _cid, name, type_, notnull, default, pk, hidden in session.query(
        'SELECT m.name, p.cid, p.name, p.type, p."notnull", p.dflt_value, p.pk, p.hidden'
        f" FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p WHERE {USER_TABLES}"
        " ORDER BY m.name, p.cid"
    ):
        parts = tables[table]
        generated = Generated("", stored=hidden == 3) if hidden in (2, 3) else None
        parts.columns.append(
            Column(
                name=name,
                type=(type_ or "").lower(),
                nullable=not notnull,
                default=default,
                generated=generated,
            )
        )
        if pk:
            parts.pk.append((pk, name))
    inspect_indexes(session, tables)
    for row in session.query(
        'SELECT m.name, f.id, f.seq, f."table", f."from", f."to", f.on_update, f.on_delete'
        f" FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE {USER_TABLES}"
        " ORDER BY m.name, f.id, f.seq"
    ):
        tables[row[0]].fk_rows[row[1]].append(row)
    return Schema(name=MAIN, tables=tuple(build_table(n, p) for n, p in sorted(tables.items())))


def inspect_indexes(session: Session, tables: dict[str, TableParts]) -> None:
    keys: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in session.query(
        'SELECT il.name, x.seqno, x.cid, x.name, x."desc", x.coll'
        " FROM sqlite_master m JOIN pragma_index_list(m.name) il"
        " JOIN pragma_index_xinfo(il.name) x WHERE " + USER_TABLES + " AND x.key = 1"
        " ORDER BY il.name, x.seqno"
    ):
        keys[row[0]].append(row)
    for table, name, unique, origin, sql in session.query(
        'SELECT m.name, il.name, il."unique", il.origin, s.sql'
        " FROM sqlite_master m JOIN pragma_index_list(m.name) il"
        " LEFT JOIN sqlite_master s ON s.type = 'index' AND s.name = il.name"
        f" WHERE {USER_TABLES} ORDER BY m.name, il.name"
    ):
        if origin == "pk":
            continue
        texts, where = index_sql_parts(sql) if sql else ([], None)
        parts = []
        for i, (_, _, cid, column, desc, _) in enumerate(keys[name]):
            if cid == -2:
                expr = strip_order(texts[i]) if i < len(texts) else ""
                parts.append(IndexPart(expr=expr, desc=bool(desc)))
            else:
                parts.append(IndexPart(column=column, desc=bool(desc)))
        tables[table].indexes.append(
            Index(
                name=name,
                parts=tuple(parts),
                unique=bool(unique),
                where=where,
                constraint=origin == "u",
            )
        )


def index_sql_parts(sql: str) -> tuple[list[str], str | None]:
    """The key-part texts and the WHERE predicate of a CREATE INDEX statement."""
    match = re.search(r"\bON\s+" + IDENTIFIER + r"\s*\(", sql, re.IGNORECASE)
    if not match:
        return [], None
    inner, end = parenthesized(sql, match.end() - 1)
    rest = sql[end:].strip()
    where = None
    if rest.upper().startswith("WHERE"):
        where = normalize_space(rest[5:].strip().rstrip(";"))
    return split_top_level(inner), where


def strip_order(part: str) -> str:
    return normalize_space(re.sub(r"\s+(ASC|DESC)\s*$", "", part, flags=re.IGNORECASE))


def build_table(name: str, parts: TableParts) -> Table:
    ddl = parse_create_table(parts.sql)
    columns = tuple(
        replace(
            column,
            generated=replace(column.generated, expr=ddl.generated.get(column.name, ""))
            if column.generated
            else None,
            auto_increment=column.name in ddl.autoincrement,
            collation=ddl.collations.get(column.name),
        )
        for column in parts.columns
    )
    primary_key = None
    if parts.pk:
        primary_key = PrimaryKey(columns=tuple(c for _, c in sorted(parts.pk)), name=ddl.pk_name)
    fks = []
    for _fk_id, rows in sorted(parts.fk_rows.items()):
        cols = tuple(r[4] for r in rows)
        ref_table = rows[0][3]
        ref_cols = tuple(r[5] for r in rows)
        if any(c is None for c in ref_cols):  # references the parent's primary key implicitly
            ref_cols = ()
        fk_name = ddl.fk_names.get(cols) or f"{name}_{'_'.join(cols)}_fkey"
        fks.append(
            ForeignKey(
                name=fk_name,
                columns=cols,
                ref_table=ref_table,
                ref_columns=ref_cols,
                on_update=rows[0][6],
                on_delete=rows[0][7],
            )
        )
    return Table(
        name=name,
        columns=columns,
        primary_key=primary_key,
        indexes=tuple(parts.indexes),
        foreign_keys=tuple(sorted(fks, key=lambda f: f.name)),
        checks=tuple(ddl.checks),
        options=tuple(sorted(ddl.options)),
    )


@dataclass
class ParsedDDL:
    checks: list[Check] = field(default_factory=list)
    generated: dict[str, str] = field(default_factory=dict)
    autoincrement: set[str] = field(default_factory=set)
    collations: dict[str, str] = field(default_factory=dict)
    fk_names: dict[tuple[str, ...], str] = field(default_factory=dict)
    pk_name: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)


CONSTRAINT_START = re.compile(
    r"^(CONSTRAINT\s+(?P<name>" + IDENTIFIER + r")\s+)?(?P<kind>PRIMARY|UNIQUE|CHECK|FOREIGN)\b",
    re.IGNORECASE,
)


def parse_create_table(sql: str) -> ParsedDDL:
    """Reads from CREATE TABLE text what the pragmas do not report."""
    parsed = ParsedDDL()
    open_index = sql.find("(")
    if open_index < 0:
        return parsed
    body, end = parenthesized(sql, open_index)
    tail = sql[end:].upper()
    if "WITHOUT ROWID" in tail:
        parsed.options.append(("without_rowid", "true"))
    if re.search(r"\bSTRICT\b", tail):
        parsed.options.append(("strict", "true"))
    for item in split_top_level(body):
        constraint = CONSTRAINT_START.match(item)
        if constraint:
            parse_table_constraint(item, constraint, parsed)
        else:
            parse_column_definition(item, parsed)
    return parsed


def parse_table_constraint(item: str, match: re.Match[str], parsed: ParsedDDL) -> None:
    name = unquote_identifier(match.group("name")) if match.group("name") else None
    kind = match.group("kind").upper()
    rest = item[match.end() :]
    if kind == "CHECK":
        inner, _ = parenthesized(rest, rest.index("("))
        parsed.checks.append(Check(name=name, expr=normalize_space(inner)))
    elif kind == "FOREIGN" and name:
        inner, _ = parenthesized(rest, rest.index("("))
        cols = tuple(unquote_identifier(c) for c in split_top_level(inner))
        parsed.fk_names[cols] = name
    elif kind == "PRIMARY":
        parsed.pk_name = name


def parse_column_definition(item: str, parsed: ParsedDDL) -> None:
    match = re.match(IDENTIFIER, item.strip())
    if not match:
        return
    column = unquote_identifier(match.group(0))
    rest = item.strip()[match.end() :]
    for check in re.finditer(
        r"(?:CONSTRAINT\s+(" + IDENTIFIER + r")\s+)?\bCHECK\s*\(", rest, re.IGNORECASE
    ):
        inner, _ = parenthesized(rest, check.end() - 1)
        name = unquote_identifier(check.group(1)) if check.group(1) else None
        parsed.checks.append(Check(name=name, expr=normalize_space(inner)))
    generated = re.search(r"\b(?:GENERATED\s+ALWAYS\s+)?AS\s*\(", rest, re.IGNORECASE)
    if generated:
        inner, _ = parenthesized(rest, generated.end() - 1)
        parsed.generated[column] = normalize_space(inner)
    if re.search(r"\bAUTOINCREMENT\b", rest, re.IGNORECASE):
        parsed.autoincrement.add(column)
    collate = re.search(r"\bCOLLATE\s+(" + IDENTIFIER + ")", rest, re.IGNORECASE)
    if collate:
        parsed.collations[column] = unquote_identifier(collate.group(1))
    fk = re.search(r"(?:CONSTRAINT\s+(" + IDENTIFIER + r")\s+)?\bREFERENCES\b", rest, re.IGNORECASE)
    if fk and fk.group(1):
        parsed.fk_names[(column,)] = unquote_identifier(fk.group(1))


# --- planning -------------------------------------------------------------------------


def any_rebuild(statements: Sequence[PlannedStatement]) -> bool:
    return any(s.comment.startswith('Create "new_') for s in statements)


def plan_change(change: Change) -> list[PlannedStatement]:
    if isinstance(change, AddTable):
        return create_table(change.table)
    if isinstance(change, DropTable):
        return [
            PlannedStatement(
                f"DROP TABLE {quote(change.table.name)}", f'Drop "{change.table.name}" table'
            )
        ]
    if isinstance(change, ModifyTable):
        return modify_table(change)
    if isinstance(change, (AddSchema, DropSchema, ModifySchema)):
        raise UnsupportedChangeError("SQLite has a single schema (main); schemas cannot change")
    raise UnsupportedChangeError(f"SQLite cannot plan {type(change).__name__}")


def create_table(table: Table, name: str | None = None) -> list[PlannedStatement]:
    table_name = name or table.name
    lines = [column_definition(c, table) for c in table.columns]
    if table.primary_key and not inline_primary_key(table):
        constraint = (
            f"CONSTRAINT {quote(table.primary_key.name)} " if table.primary_key.name else ""
        )
        cols = ", ".join(quote(c) for c in table.primary_key.columns)
        lines.append(f"{constraint}PRIMARY KEY ({cols})")
    for index in table.indexes:
        if index.constraint:
            lines.append(f"UNIQUE ({index_parts(index)})")
    for check in table.checks:
        prefix = f"CONSTRAINT {quote(check.name)} " if check.name else ""
        lines.append(f"{prefix}CHECK ({check.expr})")
    for fk in table.foreign_keys:
        lines.append(foreign_key_clause(fk))
    options = []
    if table.option("without_rowid"):
        options.append("WITHOUT ROWID")
    if table.option("strict"):
        options.append("STRICT")
    body = ",\n  ".join(lines)
    suffix = (" " + ", ".join(options)) if options else ""
    statements = [
        PlannedStatement(
            f"CREATE TABLE {quote(table_name)} (\n  {body}\n){suffix}",
            f'Create "{table_name}" table',
        )
    ]
    if name is None:
        statements.extend(create_index(table.name, i) for i in table.indexes if not i.constraint)
    return statements


def inline_primary_key(table: Table) -> bool:
    pk = table.primary_key
    if pk is None or len(pk.columns) != 1:
        return False
    column = table.column(pk.columns[0])
    return column is not None and column.auto_increment


def column_definition(column: Column, table: Table) -> str:
    parts = [quote(column.name)]
    if column.type:
        parts.append(column.type)
    if not column.nullable:
        parts.append("NOT NULL")
    if column.auto_increment and inline_primary_key(table):
        parts.append("PRIMARY KEY AUTOINCREMENT")
    if column.default is not None:
        parts.append(f"DEFAULT {column.default}")
    if column.collation:
        parts.append(f"COLLATE {column.collation}")
    if column.generated:
        kind = "STORED" if column.generated.stored else "VIRTUAL"
        parts.append(f"GENERATED ALWAYS AS ({column.generated.expr}) {kind}")
    return " ".join(parts)


def foreign_key_clause(fk: ForeignKey) -> str:
    cols = ", ".join(quote(c) for c in fk.columns)
    refs = f" ({', '.join(quote(c) for c in fk.ref_columns)})" if fk.ref_columns else ""
    clause = (
        f"CONSTRAINT {quote(fk.name)} FOREIGN KEY ({cols}) REFERENCES {quote(fk.ref_table)}{refs}"
    )
    if fk.on_update != "NO ACTION":
        clause += f" ON UPDATE {fk.on_update}"
    if fk.on_delete != "NO ACTION":
        clause += f" ON DELETE {fk.on_delete}"
    return clause


def index_parts(index: Index) -> str:
    rendered = []
    for part in index.parts:
        text = quote(part.column) if part.column is not None else f"({part.expr})"
        rendered.append(text + (" DESC" if part.desc else ""))
    return ", ".join(rendered)


def create_index(table: str, index: Index) -> PlannedStatement:
    unique = "UNIQUE " if index.unique else ""
    where = f" WHERE {index.where}" if index.where else ""
    return PlannedStatement(
        f"CREATE {unique}INDEX {quote(index.name)} ON {quote(table)} ({index_parts(index)}){where}",
        f'Create index "{index.name}" to table: "{table}"',
    )


def modify_table(change: ModifyTable) -> list[PlannedStatement]:
    if all(simple_alter(c) for c in change.changes):
        return [s for c in change.changes for s in simple_statement(change.after.name, c)]
    return rebuild_table(change)


def simple_alter(change: object) -> bool:
    """Changes SQLite's ALTER TABLE (or CREATE/DROP INDEX) can make in place."""
    if isinstance(change, (AddIndex, DropIndex)):
        return not change.index.constraint
    if isinstance(change, AddColumn):
        column = change.column
        constant_default = column.default is None or not re.search(
            r"\(|CURRENT_", column.default, re.IGNORECASE
        )
        return (
            constant_default
            and (column.nullable or column.default is not None)
            and not (column.generated and column.generated.stored)
            and not column.auto_increment
        )
    return False


def simple_statement(table: str, change: object) -> list[PlannedStatement]:
    if isinstance(change, AddIndex):
        return [create_index(table, change.index)]
    if isinstance(change, DropIndex):
        return [
            PlannedStatement(
                f"DROP INDEX {quote(change.index.name)}",
                f'Drop index "{change.index.name}" from table: "{table}"',
            )
        ]
    assert isinstance(change, AddColumn)
    definition = column_definition(change.column, Table(name=table))
    return [
        PlannedStatement(
            f"ALTER TABLE {quote(table)} ADD COLUMN {definition}",
            f'Add column "{change.column.name}" to table: "{table}"',
        )
    ]


def rebuild_table(change: ModifyTable) -> list[PlannedStatement]:
    """SQLite's documented 12-step procedure: new table, copy rows, drop, rename."""
    table, before = change.after, change.before
    temp = f"new_{table.name}"
    copied = [
        c.name
        for c in table.columns
        if before.column(c.name) is not None
        and c.generated is None
        and before.column(c.name).generated is None  # type: ignore[union-attr]
    ]
    cols = ", ".join(quote(c) for c in copied)
    statements = create_table(table, name=temp)
    statements.append(
        PlannedStatement(
            f"INSERT INTO {quote(temp)} ({cols}) SELECT {cols} FROM {quote(table.name)}",
            f'Copy rows from old table "{table.name}" to new temporary table "{temp}"',
        )
    )
    statements.append(
        PlannedStatement(
            f"DROP TABLE {quote(table.name)}", f'Drop "{table.name}" table after copying rows'
        )
    )
    statements.append(
        PlannedStatement(
            f"ALTER TABLE {quote(temp)} RENAME TO {quote(table.name)}",
            f'Rename temporary table "{temp}" to "{table.name}"',
        )
    )
    statements.extend(create_index(table.name, i) for i in table.indexes if not i.constraint)
    return statements
