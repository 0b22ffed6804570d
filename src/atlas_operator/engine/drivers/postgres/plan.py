"""PostgreSQL planning: the `Planner` renders changes as SQL statements."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from atlas_operator.engine.changes import (
    AddCheck,
    AddColumn,
    AddForeignKey,
    AddIndex,
    AddObject,
    AddPrimaryKey,
    AddSchema,
    AddTable,
    Change,
    DropCheck,
    DropColumn,
    DropForeignKey,
    DropIndex,
    DropObject,
    DropPrimaryKey,
    DropSchema,
    DropTable,
    ModifyCheck,
    ModifyColumn,
    ModifyForeignKey,
    ModifyIndex,
    ModifyObject,
    ModifyPartitionKey,
    ModifyPartitionOf,
    ModifyPrimaryKey,
    ModifySchema,
    ModifyTable,
    ModifyTableAttr,
    TableChange,
)
from atlas_operator.engine.diff import encloses_all, strip_parens
from atlas_operator.engine.drivers.base import PlannedStatement, Scope, UnsupportedChangeError
from atlas_operator.engine.drivers.postgres.inspect import SERIAL_BASES
from atlas_operator.engine.drivers.postgres.objects_plan import ObjectPlanner
from atlas_operator.engine.drivers.postgres.session import quote, quote_string
from atlas_operator.engine.model import (
    Check,
    Column,
    ForeignKey,
    Identity,
    Index,
    IndexPart,
    PartitionKey,
    PartitionOf,
    PrimaryKey,
    Schema,
    Table,
)
from atlas_operator.engine.plan import same_reference


@dataclass
class AlterTable:
    """One table's statements: before the ALTER TABLE, its clauses, and after it."""

    before: list[PlannedStatement] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)
    """Constraint drops run first, so a constraint can be replaced in one statement."""
    clauses: list[str] = field(default_factory=list)
    after: list[PlannedStatement] = field(default_factory=list)
    partitioned: bool = False
    """The table is partitioned: its indexes are never built or dropped CONCURRENTLY,
    which PostgreSQL refuses on partitioned tables."""


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

    def parent_table(self, schema: str, parent: PartitionOf) -> str:
        """A partition's parent, qualified like a referenced table."""
        if self.scope.is_schema and parent.schema is None:
            return quote(parent.table)
        return f"{quote(parent.schema or schema)}.{quote(parent.table)}"

    # top-level changes

    def change(self, change: Change) -> list[PlannedStatement]:
        if isinstance(change, (AddObject, DropObject, ModifyObject)):
            return ObjectPlanner(self.qualify_object).change(change)
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
        # PostgreSQL creates "public" in every new database, so (as Atlas does) it is
        # created only if missing: inspect output then loads back on a fresh database.
        guard = "IF NOT EXISTS " if schema.name == "public" else ""
        statements = [
            PlannedStatement(
                f"CREATE SCHEMA {guard}{quote(schema.name)}",
                f'Add new schema named "{schema.name}"',
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
        later_keys = [fk for fk in table.foreign_keys if added_after_create(schema, table, fk)]
        lines = [column_definition(c) for c in table.columns]
        if table.primary_key is not None:
            lines.append(primary_key_clause(table.name, table.primary_key))
        lines.extend(constraint_clause(i) for i in table.indexes if i.constraint)
        lines.extend(
            self.foreign_key_clause(schema, fk) for fk in table.foreign_keys if fk not in later_keys
        )
        lines.extend(check_clause(c) for c in table.checks if not c.not_valid)
        body = ",\n  ".join(lines)
        statements = [
            PlannedStatement(
                self.create_table_sql(schema, table, body), f'Create "{table.name}" table'
            )
        ]
        # Indexes of a new table are never built concurrently: nobody writes to it yet.
        statements.extend(
            self.create_index(schema, table.name, i, concurrently=False)
            for i in table.indexes
            if not i.constraint
        )
        statements.extend(self.constraints_after_create(schema, table, later_keys))
        statements.extend(self.table_comments(schema, table))
        statements.extend(self.row_security(schema, table.name, None, table.option("row_security")))
        return statements

    def create_table_sql(self, schema: str, table: Table, body: str) -> str:
        """CREATE TABLE; a partition names its parent and bound (its columns are the
        parent's, so only its own constraints are listed), a partitioned table its key."""
        name = self.qualified(schema, table.name)
        by = f" PARTITION BY {partition_key_sql(table.partition)}" if table.partition else ""
        if table.partition_of is None:
            return f"CREATE TABLE {name} (\n  {body}\n){by}"
        parent = self.parent_table(schema, table.partition_of)
        own = f" (\n  {body}\n)" if body else ""
        return f"CREATE TABLE {name} PARTITION OF {parent}{own} {table.partition_of.bound}{by}"

    def constraints_after_create(
        self, schema: str, table: Table, foreign_keys: list[ForeignKey]
    ) -> list[PlannedStatement]:
        """Keys and checks CREATE TABLE cannot hold: NOT VALID ones (CREATE TABLE
        validates every constraint and ignores NOT VALID) and keys on the table's own
        unique indexes, which exist only after their CREATE INDEX."""
        clauses = [self.add_foreign_key(schema, fk) for fk in foreign_keys]
        clauses.extend(add_check(c) for c in table.checks if c.not_valid)
        if not clauses:
            return []
        return [
            PlannedStatement(
                f"ALTER TABLE {self.qualified(schema, table.name)} {', '.join(clauses)}",
                f'Modify "{table.name}" table',
            )
        ]

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
        match = " MATCH FULL" if fk.match_full else ""
        return (
            f"CONSTRAINT {quote(fk.name)} FOREIGN KEY ({columns})"
            f" REFERENCES {self.referenced_table(schema, fk)}{refs}{match}"
            f" ON UPDATE {fk.on_update} ON DELETE {fk.on_delete}"
            f"{deferral(fk.deferrable, fk.initially_deferred)}"
        )

    def add_foreign_key(self, schema: str, fk: ForeignKey) -> str:
        """The ADD clause; NOT VALID exists only there (CREATE TABLE validates anyway)."""
        return f"ADD {self.foreign_key_clause(schema, fk)}{' NOT VALID' if fk.not_valid else ''}"

    # indexes

    def create_index(
        self, schema: str, table: str, index: Index, *, concurrently: bool
    ) -> PlannedStatement:
        unique = "UNIQUE " if index.unique else ""
        mode = "CONCURRENTLY " if concurrently else ""
        using = f" USING {index.method}" if index.method else ""
        include = f" INCLUDE ({', '.join(map(quote, index.include))})" if index.include else ""
        nulls = " NULLS NOT DISTINCT" if index.nulls_not_distinct else ""
        where = f" WHERE {index.where}" if index.where else ""
        return PlannedStatement(
            f"CREATE {unique}INDEX {mode}{quote(index.name)} ON {self.qualified(schema, table)}"
            f"{using} ({index_parts(index)}){include}{nulls}{with_params(index.params)}{where}",
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
        check_partitioning(change)
        partitioned = change.before.partition is not None or change.after.partition is not None
        alter = AlterTable(partitioned=partitioned)
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
            alter.clauses.append(self.add_foreign_key(schema, c.foreign_key))
        elif isinstance(c, DropForeignKey):
            alter.drops.append(f"DROP CONSTRAINT {quote(c.foreign_key.name)}")
        elif isinstance(c, ModifyForeignKey) and same_reference(c.before, c.after):
            alter.clauses.extend(foreign_key_attr_changes(c.before, c.after))
        elif isinstance(c, ModifyForeignKey):
            alter.drops.append(f"DROP CONSTRAINT {quote(c.before.name)}")
            alter.clauses.append(self.add_foreign_key(schema, c.after))
        elif isinstance(c, (AddCheck, DropCheck, ModifyCheck)):
            check_change(table, c, alter)
        elif isinstance(c, ModifyPartitionOf):
            self.partition_of_change(schema, table, c, alter)
        elif isinstance(c, ModifyPartitionKey):
            raise partition_key_error(table, c)
        elif isinstance(c, ModifyTableAttr) and c.name == "row_security":
            alter.after.extend(self.row_security(schema, table, c.before, c.after))
        elif isinstance(c, ModifyTableAttr):
            if c.name != "comment":
                raise UnsupportedChangeError(
                    f'table "{table}": PostgreSQL has no table option "{c.name}"'
                )
            alter.after.append(self.table_comment(schema, table, c.after))

    def row_security(
        self, schema: str, table: str, before: str | None, after: str | None
    ) -> list[PlannedStatement]:
        """`row_security`: enabled, forced (enabled and forced) or forced-only."""
        name = self.qualified(schema, table)
        enabled_before, enabled_after = (
            before in ("enabled", "forced"),
            after
            in (
                "enabled",
                "forced",
            ),
        )
        forced_before = before in ("forced", "forced-only")
        forced_after = after in ("forced", "forced-only")
        clauses = []
        if enabled_before != enabled_after:
            clauses.append(f"{'ENABLE' if enabled_after else 'DISABLE'} ROW LEVEL SECURITY")
        if forced_before != forced_after:
            clauses.append(f"{'FORCE' if forced_after else 'NO FORCE'} ROW LEVEL SECURITY")
        return [
            PlannedStatement(f"ALTER TABLE {name} {c}", f'Set row-level security of "{table}"')
            for c in clauses
        ]

    def qualify_object(self, schema: str | None, name: str) -> str:
        return quote(name) if schema is None else self.qualified(schema, name)

    def partition_of_change(
        self, schema: str, table: str, c: ModifyPartitionOf, alter: AlterTable
    ) -> None:
        """A partition moves to another bound (or parent): detached, then attached again.
        The plan orders the two halves apart when it splits them (engine/plan.py)."""
        name = self.qualified(schema, table)
        if c.before is not None:
            parent = self.parent_table(schema, c.before)
            alter.before.append(
                PlannedStatement(
                    f"ALTER TABLE {parent} DETACH PARTITION {name}",
                    f'Detach partition "{table}" from table: "{c.before.table}"',
                )
            )
        if c.after is not None:
            parent = self.parent_table(schema, c.after)
            alter.after.append(
                PlannedStatement(
                    f"ALTER TABLE {parent} ATTACH PARTITION {name} {c.after.bound}",
                    f'Attach partition "{table}" to table: "{c.after.table}"',
                )
            )

    def modify_column(self, schema: str, table: str, c: ModifyColumn, alter: AlterTable) -> None:
        if "comment" in c.kinds:
            alter.after.append(self.column_comment(schema, table, c.after.name, c.after.comment))
        kinds = c.kinds - {"comment"}
        if not kinds:
            return
        before, after = c.before, c.after
        name = quote(after.name)
        if "generated" in kinds:
            if after.generated is not None:
                # PostgreSQL cannot make a column generated or change its expression:
                # the column is dropped and added (its values are computed anyway).
                alter.clauses += [f"DROP COLUMN {name}", f"ADD COLUMN {column_definition(after)}"]
                return
            alter.clauses.append(f"ALTER COLUMN {name} DROP EXPRESSION")
        serial = is_serial(before.type) or is_serial(after.type)
        if serial and ("type" in kinds or "default" in kinds):
            self.serial_change(schema, table, c, alter)
        elif "type" in kinds or "collation" in kinds:
            retyped_default = "type" in kinds and before.default is not None
            if retyped_default:
                # The old default may not cast to the new type (text to an enum): it is
                # dropped first and the desired one set after the type.
                alter.clauses.append(f"ALTER COLUMN {name} DROP DEFAULT")
                if after.default is not None:
                    kinds = kinds | {"default"}
            alter.clauses.append(type_clause(after, before))
        # An identity column is NOT NULL until its identity goes, and gets one only
        # once it is NOT NULL and has no default.
        dropping_identity = "identity" in kinds and after.identity is None
        if dropping_identity:
            alter.clauses.extend(identity_change(name, before.identity, after.identity))
        if "nullable" in kinds:
            action = "DROP" if after.nullable else "SET"
            alter.clauses.append(f"ALTER COLUMN {name} {action} NOT NULL")
        if "default" in kinds and not serial:
            if after.default is not None:
                alter.clauses.append(f"ALTER COLUMN {name} SET DEFAULT {after.default}")
            elif "type" not in kinds:
                alter.clauses.append(f"ALTER COLUMN {name} DROP DEFAULT")
        if "identity" in kinds and not dropping_identity:
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
            # Kept when the new default still draws from it: the desired state has it
            # as a sequence of its own (engine/dependencies.py adopts it).
            if f"{table}_{after.name}_seq" not in (after.default or ""):
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
            if is_serial(before.type) and is_serial(after.type):
                # serial → bigserial: the sequence's own type follows (its bounds too,
                # when they were the old type's), as a new bigserial's would be.
                alter.after.append(
                    PlannedStatement(
                        f"ALTER SEQUENCE {sequence} AS {base_after}",
                        f'Change the type of the sequence of serial column "{after.name}"',
                    )
                )

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
                concurrently = self.concurrent_drop and not alter.partitioned
                alter.before.append(
                    self.drop_index(schema, table, dropped, concurrently=concurrently)
                )
        if isinstance(added, Index):
            if added.constraint:
                alter.clauses.append(f"ADD {constraint_clause(added)}")
            else:
                concurrently = self.concurrent_create and not alter.partitioned
                alter.after.append(
                    self.create_index(schema, table, added, concurrently=concurrently)
                )
            if added.comment is not None:
                alter.after.append(self.index_comment(schema, table, added.name, added.comment))


def check_partitioning(change: ModifyTable) -> None:
    """Refuses what PostgreSQL cannot do in place: a new, changed or removed partition
    key, and a table turning into a partition or back (Atlas: drop and add)."""
    for c in change.changes:
        if isinstance(c, ModifyPartitionKey):
            raise partition_key_error(change.after.name, c)
    before, after = change.before.partition_of, change.after.partition_of
    if (before is None) != (after is None):
        now = "a partition" if before is not None else "a plain table"
        wanted = f'a partition of "{after.table}"' if after is not None else "a plain table"
        raise UnsupportedChangeError(
            f'table "{change.after.name}" is {now} and cannot become {wanted} in place:'
            " drop and add is required"
        )


def partition_key_error(table: str, c: ModifyPartitionKey) -> UnsupportedChangeError:
    before = partition_key_sql(c.before) if c.before else "not partitioned"
    after = partition_key_sql(c.after) if c.after else "not partitioned"
    return UnsupportedChangeError(
        f'table "{table}": the partition key cannot change in place ({before} → {after}):'
        " drop and add is required"
    )


def partition_key_sql(key: PartitionKey) -> str:
    """`RANGE ("created", (lower(name)) COLLATE "C" text_pattern_ops)`."""
    parts = []
    for part in key.parts:
        text = quote(part.column) if part.column is not None else f"({part.expr})"
        if part.collation:
            text += f" COLLATE {part.collation}"
        if part.opclass:
            text += f" {part.opclass}"
        parts.append(text)
    return f"{key.strategy} ({', '.join(parts)})"


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
    if before.start != after.start and narrower(before, after):
        # Tighter bounds may leave the sequence's position outside them (PostgreSQL
        # refuses that): it restarts at the new start, as a new identity would.
        settings.append("RESTART")
    return [f"ALTER COLUMN {name} {' '.join(settings)}"] if settings else []


def narrower(before: Identity, after: Identity) -> bool:
    """Whether `after`'s bounds exclude values `before`'s allowed."""
    low = after.min_value is not None and (
        before.min_value is None or after.min_value > before.min_value
    )
    high = after.max_value is not None and (
        before.max_value is None or after.max_value < before.max_value
    )
    return low or high


def type_clause(column: Column, before: Column | None = None) -> str:
    """ALTER COLUMN … TYPE with an explicit cast, so conversions without an implicit
    (assignment) cast, such as text to integer, work when the data allows it. From or
    to a user-defined type (an enum, a domain) the cast goes through text: PostgreSQL
    has no cast between two enums, but every type reads and writes its text form."""
    name = quote(column.name)
    collate = f" COLLATE {quote(column.collation)}" if column.collation else ""
    via = "::text" if before is not None and user_type(before.type, column.type) else ""
    return f"ALTER COLUMN {name} TYPE {column.type}{collate} USING {name}{via}::{column.type}"


BUILTIN_TYPES = frozenset(
    [
        "smallint",
        "integer",
        "bigint",
        "numeric",
        "real",
        "double_precision",
        "boolean",
        "text",
        "character",
        "character_varying",
        "bytea",
        "date",
        "time",
        "time_with_time_zone",
        "time_without_time_zone",
        "timestamp",
        "timestamp_with_time_zone",
        "timestamp_without_time_zone",
        "interval",
        "json",
        "jsonb",
        "uuid",
        "inet",
        "cidr",
        "macaddr",
        "macaddr8",
        "money",
        "bit",
        "bit_varying",
        "xml",
        "tsvector",
        "tsquery",
        "point",
        "line",
        "lseg",
        "box",
        "path",
        "polygon",
        "circle",
        "oid",
        "serial",
        "bigserial",
        "smallserial",
        "int4range",
        "int8range",
        "numrange",
        "tsrange",
        "tstzrange",
        "daterange",
        "name",
        "regclass",
        '"char"',
        "pg_lsn",
    ]
)


def user_type(*types: str) -> bool:
    """Whether any of the types (as format_type prints them) is not built in."""
    for type_ in types:
        base = type_.split("[", 1)[0]
        base = base.split("(", 1)[0] if not base.startswith("time") else base
        base = re.sub(r"\(\d+\)", "", base).strip().replace(" ", "_")
        if base not in BUILTIN_TYPES:
            return True
    return False


def primary_key_clause(table: str, pk: PrimaryKey) -> str:
    columns = ", ".join(map(quote, pk.columns))
    rest = index_parameters(pk.include, pk.params) + deferral(pk.deferrable, pk.initially_deferred)
    # PostgreSQL names an unnamed key `<table>_pkey`; only another name is spelled out.
    if pk.name is None or pk.name == f"{table}_pkey":
        return f"PRIMARY KEY ({columns}){rest}"
    return f"CONSTRAINT {quote(pk.name)} PRIMARY KEY ({columns}){rest}"


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
    return f"{prefix}CHECK ({check.expr}){' NO INHERIT' if check.no_inherit else ''}"


def add_check(check: Check) -> str:
    """The ADD clause; NOT VALID exists only there (CREATE TABLE validates anyway)."""
    return f"ADD {check_clause(check)}{' NOT VALID' if check.not_valid else ''}"


def check_change(table: str, c: AddCheck | DropCheck | ModifyCheck, alter: AlterTable) -> None:
    if isinstance(c, ModifyCheck) and same_check(c.before, c.after):
        # Only the validity differs, and the diff asks for no change when the current
        # check is already valid: validate it in place instead of re-adding it.
        if c.before.not_valid and not c.after.not_valid and c.after.name:
            alter.clauses.append(f"VALIDATE CONSTRAINT {quote(c.after.name)}")
        return
    dropped = c.check if isinstance(c, DropCheck) else getattr(c, "before", None)
    added = c.check if isinstance(c, AddCheck) else getattr(c, "after", None)
    if isinstance(dropped, Check):
        if dropped.name is None:
            raise UnsupportedChangeError(
                f'table "{table}": an unnamed check constraint cannot be dropped'
            )
        alter.drops.append(f"DROP CONSTRAINT {quote(dropped.name)}")
    if isinstance(added, Check):
        alter.clauses.append(add_check(added))


def same_check(before: Check, after: Check) -> bool:
    """The same check but for its validity (outer parentheses do not count)."""
    return (strip_parens(before.expr), before.no_inherit) == (
        strip_parens(after.expr),
        after.no_inherit,
    )


def foreign_key_attr_changes(before: ForeignKey, after: ForeignKey) -> list[str]:
    """ALTER CONSTRAINT for the deferral (foreign keys are the only constraints it can
    alter) and VALIDATE CONSTRAINT for a key that became valid. A key that is valid
    while NOT VALID is wanted stays as it is: PostgreSQL cannot un-validate one."""
    name = quote(after.name)
    clauses = []
    if (before.deferrable, before.initially_deferred) != (
        after.deferrable,
        after.initially_deferred,
    ):
        initially = "DEFERRED" if after.initially_deferred else "IMMEDIATE"
        deferrable = after.deferrable or after.initially_deferred
        timing = f"DEFERRABLE INITIALLY {initially}" if deferrable else "NOT DEFERRABLE"
        clauses.append(f"ALTER CONSTRAINT {name} {timing}")
    if before.not_valid and not after.not_valid:
        clauses.append(f"VALIDATE CONSTRAINT {name}")
    return clauses


def deferral(deferrable: bool, initially_deferred: bool) -> str:
    """A constraint's timing as pg_get_constraintdef prints it (INITIALLY DEFERRED
    implies DEFERRABLE)."""
    if initially_deferred:
        return " DEFERRABLE INITIALLY DEFERRED"
    return " DEFERRABLE" if deferrable else ""


def constraint_clause(index: Index) -> str:
    """The table constraint behind an index: UNIQUE, or EXCLUDE when it has operators."""
    parameters = index_parameters(index.include, index.params)
    timing = deferral(index.deferrable, index.initially_deferred)
    if index.exclusion:
        using = f" USING {index.method}" if index.method else ""
        elements = ", ".join(
            f"{index_part(part)} WITH {operator}"
            for part, operator in zip(index.parts, index.exclusion, strict=True)
        )
        where = f" WHERE ({index.where})" if index.where else ""
        return (
            f"CONSTRAINT {quote(index.name)} EXCLUDE{using} ({elements}){parameters}{where}{timing}"
        )
    nulls = " NULLS NOT DISTINCT" if index.nulls_not_distinct else ""
    columns = ", ".join(map(quote, index.columns))
    return f"CONSTRAINT {quote(index.name)} UNIQUE{nulls} ({columns}){parameters}{timing}"


def index_parameters(include: tuple[str, ...], params: tuple[tuple[str, str], ...]) -> str:
    """A constraint's `INCLUDE (…) WITH (…)` (PostgreSQL's index_parameters)."""
    columns = f" INCLUDE ({', '.join(map(quote, include))})" if include else ""
    return columns + with_params(params)


SIMPLE_VALUE = re.compile(r"[A-Za-z0-9_.]+")


def with_params(params: tuple[tuple[str, str], ...]) -> str:
    """` WITH (fillfactor = 70)`; values are bare unless they need quotes."""
    if not params:
        return ""
    values = (
        f"{name} = {value if SIMPLE_VALUE.fullmatch(value) else quote_string(value)}"
        for name, value in params
    )
    return f" WITH ({', '.join(values)})"


def added_after_create(schema: str, table: Table, fk: ForeignKey) -> bool:
    """Whether a new table's key must wait for an ALTER TABLE after its CREATE TABLE:
    a NOT VALID key, or one on the table's own columns that only a unique index (made
    after the table) can back."""
    if fk.not_valid:
        return True
    if fk.ref_table != table.name or fk.ref_schema not in (None, schema):
        return False
    wanted = set(fk.ref_columns)
    if table.primary_key is not None and set(table.primary_key.columns) == wanted:
        return False
    return not any(i.constraint and i.unique and set(i.columns) == wanted for i in table.indexes)


def index_parts(index: Index) -> str:
    return ", ".join(index_part(part) for part in index.parts)


def index_part(part: IndexPart) -> str:
    if part.column is not None:
        text = quote(part.column)
    else:
        expr = part.expr or ""
        # A bare expression needs parentheses; one already enclosed needs no second pair.
        text = expr if expr.startswith("(") and encloses_all(expr) else f"({expr})"
    if part.collation:
        text += f" COLLATE {quote(part.collation)}"
    if part.opclass:
        text += f" {part.opclass}"
    if part.desc:
        text += " DESC"
    if part.nulls_first is not None:
        text += " NULLS FIRST" if part.nulls_first else " NULLS LAST"
    return text
