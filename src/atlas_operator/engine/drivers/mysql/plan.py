"""MySQL/MariaDB planning: the `Planner` renders changes as ALTER TABLE and friends."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from atlas_operator.engine.changes import (
    PARTITION_CHANGES,
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
    ModifyPartitioning,
    ModifyPrimaryKey,
    ModifySchema,
    ModifyTable,
    ModifyTableAttr,
    TableChange,
)
from atlas_operator.engine.diff import strip_parens
from atlas_operator.engine.drivers.base import PlannedStatement, Scope, UnsupportedChangeError
from atlas_operator.engine.drivers.mysql.inspect import base_type, charset_of
from atlas_operator.engine.drivers.mysql.partitions import (
    partition_statements,
    partitioning_sql,
    repartition_clause,
)
from atlas_operator.engine.drivers.mysql.session import MARIADB, ServerInfo, quote, quote_string
from atlas_operator.engine.model import (
    Check,
    Column,
    ForeignKey,
    Index,
    IndexPart,
    PrimaryKey,
    Schema,
    Table,
)

# Types with a character set: they follow the table's default collation.
TEXT_TYPES = frozenset(
    {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"}
)


# The order of sub-commands inside one ALTER TABLE: constraints go before the columns
# they use, new columns exist before keys on them are added.
CLAUSE_ORDER = (
    "drop_check",
    "drop_fk",
    "drop_index",
    "drop_pk",
    "drop_column",
    "add_column",
    "modify_column",
    "add_pk",
    "add_index",
    "add_fk",
    "add_check",
    "option",
)


class Planner:
    """Renders ordered changes; names are schema-qualified only in realm scope."""

    def __init__(self, scope: Scope, flavor: str, server: ServerInfo | None = None) -> None:
        self.scope = scope
        self.flavor = flavor
        self.server = server

    def qualified(self, schema: str, name: str) -> str:
        if self.scope.bound is not None:
            return quote(name)
        return f"{quote(schema)}.{quote(name)}"

    def change(self, change: Change) -> list[PlannedStatement]:
        if isinstance(change, AddSchema):
            return [self.create_schema(change.schema)]
        if isinstance(change, DropSchema):
            name = change.schema.name
            return [PlannedStatement(f"DROP DATABASE {quote(name)}", f'Drop schema named "{name}"')]
        if isinstance(change, ModifySchema):
            return self.modify_schema(change)
        if isinstance(change, AddTable):
            return [self.create_table(change.schema, change.table)]
        if isinstance(change, DropTable):
            return [
                PlannedStatement(
                    f"DROP TABLE {self.qualified(change.schema, change.table.name)}",
                    f'Drop "{change.table.name}" table',
                )
            ]
        if not isinstance(change, ModifyTable):
            raise UnsupportedChangeError(f"MySQL: {type(change).__name__} is not supported yet")
        return self.modify_table(change)

    # schemas

    def create_schema(self, schema: Schema) -> PlannedStatement:
        sql = f"CREATE DATABASE {quote(schema.name)}"
        if schema.charset:
            sql += f" CHARSET {schema.charset}"
        if schema.collation:
            sql += f" COLLATE {schema.collation}"
        if schema.comment and self.flavor == MARIADB:
            sql += f" COMMENT {quote_string(schema.comment)}"
        return PlannedStatement(sql, f'Add new schema named "{schema.name}"')

    def modify_schema(self, change: ModifySchema) -> list[PlannedStatement]:
        before, after = change.before, change.after
        options = []
        if (before.charset, before.collation) != (after.charset, after.collation):
            charset, collation = after.charset, after.collation
            if collation is None:
                if self.server is None:
                    raise UnsupportedChangeError(
                        f'schema "{after.name}": resetting the collation needs the '
                        "server's default; inspect the database first"
                    )
                charset, collation = self.server.charset, self.server.collation
            options.append(f"CHARSET {charset or charset_of(collation)} COLLATE {collation}")
        if before.comment != after.comment and self.flavor == MARIADB:
            options.append(f"COMMENT {quote_string(after.comment or '')}")
        if not options:
            return []
        return [
            PlannedStatement(
                f"ALTER DATABASE {quote(after.name)} {' '.join(options)}",
                f'Modify "{after.name}" schema',
            )
        ]

    # tables

    def inline_check(self, table: Table, column: str) -> Check | None:
        """MariaDB: a check named after a column is that column's (inline) check.

        MariaDB names column-level checks after their column, refuses DROP CONSTRAINT
        for them and drops them on every MODIFY COLUMN that does not repeat them; so
        they are written inline in the column definition, where they stay column-level.
        """
        if self.flavor != MARIADB:
            return None
        for check in table.checks:
            if check.name == column:
                return check
        return None

    def is_inline(self, table: Table, check: Check) -> bool:
        return (
            self.flavor == MARIADB
            and check.name is not None
            and table.column(check.name) is not None
        )

    def column(self, table: Table, column: Column) -> str:
        return column_definition(column, self.inline_check(table, column.name))

    def create_table(self, schema: str, table: Table) -> PlannedStatement:
        lines = [self.column(table, c) for c in table.columns]
        if table.primary_key is not None:
            lines.append(primary_key_clause(table.primary_key))
        lines.extend(index_clause(i) for i in table.indexes)
        lines.extend(self.foreign_key(schema, fk) for fk in table.foreign_keys)
        lines.extend(check_clause(c) for c in table.checks if not self.is_inline(table, c))
        body = ",\n  ".join(lines)
        options = table_options(table)
        suffix = f" {options}" if options else ""
        if table.partitioning is not None:
            suffix += f"\n{partitioning_sql(table.partitioning)}"
        return PlannedStatement(
            f"CREATE TABLE {self.qualified(schema, table.name)} (\n  {body}\n){suffix}",
            f'Create "{table.name}" table',
        )

    def foreign_key(self, schema: str, fk: ForeignKey) -> str:
        cols = ", ".join(quote(c) for c in fk.columns)
        refs = ", ".join(quote(c) for c in fk.ref_columns)
        if self.scope.bound is None:
            target = self.qualified(fk.ref_schema or schema, fk.ref_table)
        elif fk.ref_schema:
            target = f"{quote(fk.ref_schema)}.{quote(fk.ref_table)}"
        else:
            target = quote(fk.ref_table)
        clause = f"CONSTRAINT {quote(fk.name)} FOREIGN KEY ({cols}) REFERENCES {target} ({refs})"
        # The action the server reports when none is written (MariaDB says RESTRICT,
        # MySQL NO ACTION) is left out, so plans read like the SQL that was written.
        implied = "RESTRICT" if self.flavor == MARIADB else "NO ACTION"
        if fk.on_update != implied:
            clause += f" ON UPDATE {fk.on_update}"
        if fk.on_delete != implied:
            clause += f" ON DELETE {fk.on_delete}"
        return clause

    def modify_table(self, change: ModifyTable) -> list[PlannedStatement]:
        """One ALTER TABLE for the table's own changes, ending with its new partitioning
        when that changes (the server checks the keys against the new layout); then one
        statement per partition operation, which the server takes only alone."""
        partitioning = tuple(c for c in change.changes if isinstance(c, PARTITION_CHANGES))
        own = change.with_changes(
            tuple(c for c in change.changes if not isinstance(c, PARTITION_CHANGES))
        )
        repartition = next((c for c in partitioning if isinstance(c, ModifyPartitioning)), None)
        statements = self.alter_table(own, repartition)
        name = self.qualified(change.schema, change.after.name)
        return statements + partition_statements(name, change.after.name, partitioning)

    def alter_table(
        self, change: ModifyTable, repartition: ModifyPartitioning | None
    ) -> list[PlannedStatement]:
        clauses: dict[str, list[str]] = defaultdict(list)
        rewrite: set[str] = set()
        recreate: set[str] = set()
        for c in change.changes:
            self.table_change(change, c, clauses, rewrite, recreate)
        rewrite = (rewrite | columns_following_table_charset(change)) - recreate
        for column in change.after.columns:
            definition = self.column(change.after, column)
            if column.name in recreate:
                clauses["drop_column"].append(f"DROP COLUMN {quote(column.name)}")
                clauses["add_column"].append(f"ADD COLUMN {definition}")
            elif column.name in rewrite:
                clauses["modify_column"].append(f"MODIFY COLUMN {definition}")
        for index in indexes_to_rebuild(change, recreate):
            clauses["drop_index"].append(f"DROP INDEX {quote(index.name)}")
            clauses["add_index"].append(f"ADD {index_clause(index)}")
        ordered = [clause for kind in CLAUSE_ORDER for clause in clauses.get(kind, [])]
        if repartition is not None:
            # Not comma-separated: the partitioning clause follows the alter list.
            ordered = [" ".join([", ".join(ordered), repartition_clause(repartition)]).strip()]
        if not ordered:
            return []
        name = self.qualified(change.schema, change.after.name)
        return [
            PlannedStatement(
                f"ALTER TABLE {name} {', '.join(ordered)}", f'Modify "{change.after.name}" table'
            )
        ]

    def table_change(
        self,
        change: ModifyTable,
        c: TableChange,
        clauses: dict[str, list[str]],
        rewrite: set[str],
        recreate: set[str],
    ) -> None:
        """Adds one change's sub-commands; columns to MODIFY (or drop and add again) are
        collected in `rewrite` (`recreate`) and written once each."""
        if isinstance(c, AddColumn):
            clauses["add_column"].append(f"ADD COLUMN {self.column(change.after, c.column)}")
        elif isinstance(c, DropColumn):
            clauses["drop_column"].append(f"DROP COLUMN {quote(c.column.name)}")
        elif isinstance(c, ModifyColumn):
            (recreate if needs_recreate(c.before, c.after) else rewrite).add(c.after.name)
        elif isinstance(c, (AddIndex, DropIndex, ModifyIndex)):
            index_change(c, clauses)
        elif isinstance(c, (AddPrimaryKey, DropPrimaryKey, ModifyPrimaryKey)):
            primary_key_change(c, clauses)
        elif isinstance(c, (AddForeignKey, DropForeignKey, ModifyForeignKey)):
            self.foreign_key_change(change.schema, c, clauses)
        elif isinstance(c, (AddCheck, DropCheck, ModifyCheck)):
            self.check_change(change, c, clauses, rewrite)
        elif isinstance(c, ModifyTableAttr):
            clauses["option"].append(self.table_attr(c))

    def foreign_key_change(
        self,
        schema: str,
        c: AddForeignKey | DropForeignKey | ModifyForeignKey,
        clauses: dict[str, list[str]],
    ) -> None:
        dropped = c.foreign_key if isinstance(c, DropForeignKey) else None
        added = c.foreign_key if isinstance(c, AddForeignKey) else None
        if isinstance(c, ModifyForeignKey):
            dropped, added = c.before, c.after
        if dropped is not None:
            clauses["drop_fk"].append(f"DROP FOREIGN KEY {quote(dropped.name)}")
        if added is not None:
            clauses["add_fk"].append(f"ADD {self.foreign_key(schema, added)}")

    def check_change(
        self,
        change: ModifyTable,
        c: AddCheck | DropCheck | ModifyCheck,
        clauses: dict[str, list[str]],
        rewrite: set[str],
    ) -> None:
        dropped = c.check if isinstance(c, DropCheck) else None
        added = c.check if isinstance(c, AddCheck) else None
        if isinstance(c, ModifyCheck):
            dropped, added = c.before, c.after
        before, after = change.before, change.after
        if dropped is not None:
            if self.is_inline(before, dropped):
                # Gone with a dropped column, or dropped by redefining the column.
                if after.column(dropped.name or "") is not None:
                    rewrite.add(dropped.name or "")
            else:
                clauses["drop_check"].append(self.drop_check(dropped))
        if added is not None:
            if self.is_inline(after, added):
                # A new column carries it in ADD COLUMN; an existing one is redefined.
                if before.column(added.name or "") is not None:
                    rewrite.add(added.name or "")
            else:
                clauses["add_check"].append(f"ADD {check_clause(added)}")

    def drop_check(self, check: Check) -> str:
        if check.name is None:
            raise UnsupportedChangeError(f"cannot drop the unnamed check ({check.expr})")
        keyword = "CONSTRAINT" if self.flavor == MARIADB else "CHECK"
        return f"DROP {keyword} {quote(check.name)}"

    def table_attr(self, c: ModifyTableAttr) -> str:
        if c.name == "comment":
            return f"COMMENT {quote_string(c.after or '')}"
        if c.name == "engine":
            default = self.server.default_engine if self.server else "InnoDB"
            return f"ENGINE {c.after or default}"
        if c.name == "charset":
            # DEFAULT: the schema's character set, which an absent option stands for.
            return f"CHARSET {c.after or 'DEFAULT'}"
        if c.name == "collation":
            return f"COLLATE {c.after or 'DEFAULT'}"
        if c.name == "row_format":
            # DEFAULT takes the declaration away: the engine's default format applies.
            return f"ROW_FORMAT={c.after or 'DEFAULT'}"
        if c.name == "key_block_size":
            return f"KEY_BLOCK_SIZE={c.after or 0}"  # 0: none declared
        raise UnsupportedChangeError(f'MySQL has no table option "{c.name}"')


def generation_kind(column: Column) -> str:
    if column.generated is None:
        return "regular"
    return "stored" if column.generated.stored else "virtual"


def needs_recreate(before: Column, after: Column) -> bool:
    """Whether MODIFY COLUMN cannot make the change (error 1907 on both flavours).

    A column can turn from regular to STORED generated and back, but not into or out
    of VIRTUAL: it is dropped and added again (a VIRTUAL column holds no data to lose;
    a regular column turned VIRTUAL is computed from then on).
    """
    kinds = {generation_kind(before), generation_kind(after)}
    return len(kinds) == 2 and "virtual" in kinds


def indexes_to_rebuild(change: ModifyTable, recreate: set[str]) -> list[Index]:
    """Unchanged indexes a statement must drop and create again to keep them as they are.

    - Indexes on a column that is dropped and added again would vanish with it.
    - An index the server created implicitly for a foreign key is renamed after the
      next key added on its columns (the table is copied and the "generated" index
      takes the new constraint's name). Created again explicitly in the same
      statement, it keeps its name.
    """
    changed = {
        i.name
        for c in change.changes
        if isinstance(c, (AddIndex, DropIndex, ModifyIndex))
        for i in ((c.before, c.after) if isinstance(c, ModifyIndex) else (c.index,))
    }
    added_fks = [
        c.after if isinstance(c, ModifyForeignKey) else c.foreign_key
        for c in change.changes
        if isinstance(c, (AddForeignKey, ModifyForeignKey))
    ]
    stale_size = keeps_old_block_size(change)
    rebuilt = []
    for index in change.after.indexes:
        if index.name in changed or change.before.index(index.name) != index:
            continue
        if (
            recreate & set(index.columns)
            or any(may_rename(index, fk) for fk in added_fks)
            or (stale_size and not dict(index.params).get("key_block_size"))
        ):
            rebuilt.append(index)
    return rebuilt


def keeps_old_block_size(change: ModifyTable) -> bool:
    """Whether the table's KEY_BLOCK_SIZE changes from a declared one.

    An index created while the table declared KEY_BLOCK_SIZE=n keeps n as its own
    after the table's changes, and SHOW CREATE TABLE then prints it on the index. The
    indexes that should follow the table are created again in the same statement (the
    table is rebuilt for the new size anyway), so they take the new size.
    """
    before = change.before.option("key_block_size")
    return before is not None and before != change.after.option("key_block_size")


def may_rename(index: Index, fk: ForeignKey) -> bool:
    """Whether `index` could be the server's implicit index for `fk`'s columns."""
    plain = all(p.column is not None and p.prefix is None for p in index.parts)
    leading = tuple(p.column for p in index.parts[: len(fk.columns)])
    return (
        plain
        and not index.unique
        and index.method is None
        and leading == fk.columns
        and index.name != fk.name
    )


def columns_following_table_charset(change: ModifyTable) -> set[str]:
    """Text columns that take the table's default, when that default changes.

    ALTER TABLE … CHARSET only changes the default for later columns; the existing
    ones keep their collation and would no longer match the desired state. Redefined
    in the same statement, they take the new default, as they would in CREATE TABLE.
    """
    options = {"charset", "collation"}
    if not any(isinstance(c, ModifyTableAttr) and c.name in options for c in change.changes):
        return set()
    return {
        column.name
        for column in change.after.columns
        if column.collation is None
        and column.generated is None
        and base_type(column.type) in TEXT_TYPES
        and change.before.column(column.name) is not None
    }


def column_definition(column: Column, inline_check: Check | None = None) -> str:
    parts = [quote(column.name), column.type]
    if column.charset:
        parts.append(f"CHARACTER SET {column.charset}")
    if column.collation:
        parts.append(f"COLLATE {column.collation}")
    if column.generated is not None:
        kind = "STORED" if column.generated.stored else "VIRTUAL"
        parts.append(f"GENERATED ALWAYS AS ({strip_parens(column.generated.expr)}) {kind}")
        if not column.nullable:  # MariaDB accepts no NULL/NOT NULL on generated columns
            parts.append("NOT NULL")
    else:
        parts.append("NULL" if column.nullable else "NOT NULL")
        if column.default is not None:
            parts.append(f"DEFAULT {column.default}")
    if column.auto_increment:
        parts.append("AUTO_INCREMENT")
    if column.on_update:
        parts.append(f"ON UPDATE {column.on_update}")
    if column.comment is not None:
        parts.append(f"COMMENT {quote_string(column.comment)}")
    if inline_check is not None:
        parts.append(f"CHECK ({strip_parens(inline_check.expr)})")
    return " ".join(parts)


def primary_key_clause(pk: PrimaryKey) -> str:
    return f"PRIMARY KEY ({', '.join(quote(c) for c in pk.columns)})"


def index_kind(index: Index) -> str:
    """`UNIQUE `, `FULLTEXT `, `SPATIAL ` or nothing, before the INDEX keyword."""
    if index.method in ("FULLTEXT", "SPATIAL"):
        return f"{index.method} "
    return "UNIQUE " if index.unique else ""


def index_clause(index: Index) -> str:
    clause = f"{index_kind(index)}INDEX {quote(index.name)} ({index_parts(index.parts)})"
    if index.method and index.method not in ("FULLTEXT", "SPATIAL"):
        # Only when the model has it: B-tree, the default, is written only when the
        # desired state wrote it (SHOW CREATE TABLE prints it then, inspect.py).
        clause += f" USING {index.method}"
    clause += index_params(index)
    if index.comment:
        clause += f" COMMENT {quote_string(index.comment)}"
    return clause


def index_params(index: Index) -> str:
    """` KEY_BLOCK_SIZE=n`, the one index option MySQL keeps in `Index.params`."""
    params = dict(index.params)
    unknown = sorted(set(params) - {"key_block_size"})
    if unknown:
        raise UnsupportedChangeError(
            f'index "{index.name}": MySQL has no index option {", ".join(unknown)}'
        )
    size = params.get("key_block_size")
    return f" KEY_BLOCK_SIZE={size}" if size else ""


def index_parts(parts: Iterable[IndexPart]) -> str:
    rendered = []
    for part in parts:
        if part.column is not None:
            text = quote(part.column)
            if part.prefix:
                text += f"({part.prefix})"
        else:
            text = f"({strip_parens(part.expr or '')})"
        rendered.append(text + (" DESC" if part.desc else ""))
    return ", ".join(rendered)


def index_change(c: AddIndex | DropIndex | ModifyIndex, clauses: dict[str, list[str]]) -> None:
    dropped = c.index if isinstance(c, DropIndex) else None
    added = c.index if isinstance(c, AddIndex) else None
    if isinstance(c, ModifyIndex):
        dropped, added = c.before, c.after
    if dropped is not None:
        clauses["drop_index"].append(f"DROP INDEX {quote(dropped.name)}")
    if added is not None:
        clauses["add_index"].append(f"ADD {index_clause(added)}")


def primary_key_change(
    c: AddPrimaryKey | DropPrimaryKey | ModifyPrimaryKey, clauses: dict[str, list[str]]
) -> None:
    if isinstance(c, (DropPrimaryKey, ModifyPrimaryKey)):
        clauses["drop_pk"].append("DROP PRIMARY KEY")
    if isinstance(c, AddPrimaryKey):
        clauses["add_pk"].append(f"ADD {primary_key_clause(c.primary_key)}")
    elif isinstance(c, ModifyPrimaryKey):
        clauses["add_pk"].append(f"ADD {primary_key_clause(c.after)}")


def check_clause(check: Check) -> str:
    prefix = f"CONSTRAINT {quote(check.name)} " if check.name else ""
    return f"{prefix}CHECK ({strip_parens(check.expr)})"


# Table options the model carries, in the order CREATE TABLE writes them.
TABLE_OPTIONS = {
    "engine": "ENGINE ",
    "charset": "CHARSET ",
    "collation": "COLLATE ",
    "row_format": "ROW_FORMAT=",
    "key_block_size": "KEY_BLOCK_SIZE=",
}


def table_options(table: Table) -> str:
    rendered = []
    for name, keyword in TABLE_OPTIONS.items():
        value = table.option(name)
        if value:
            rendered.append(f"{keyword}{value}")
    unknown = sorted({n for n, _ in table.options} - set(TABLE_OPTIONS))
    if unknown:
        raise UnsupportedChangeError(
            f'table "{table.name}": MySQL has no table option {", ".join(unknown)}'
        )
    if table.comment is not None:
        rendered.append(f"COMMENT {quote_string(table.comment)}")
    return " ".join(rendered)
