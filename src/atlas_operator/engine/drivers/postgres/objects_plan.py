"""PostgreSQL planning of schema objects: CREATE, DROP and in-place changes of views,
materialized views, routines, triggers, sequences, types, domains, policies and
extensions, and the rules deciding what can change in place (`ObjectRules`).

Each kind renders from the model `inspect` built (objects.py): definitions as the
server deparsed them, so what is created is what the dev database normalised.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from atlas_operator.engine.changes import (
    AddObject,
    ColumnUse,
    DropObject,
    ModifyObject,
    ModifyTable,
    TableChange,
)
from atlas_operator.engine.dependencies import renamed_away
from atlas_operator.engine.drivers.base import PlannedStatement
from atlas_operator.engine.drivers.postgres.inspect import SERIAL_BASES
from atlas_operator.engine.drivers.postgres.session import quote, quote_string
from atlas_operator.engine.model import Realm, SchemaObject

Qualify = Callable[[str | None, str], str]

COMMENT_KINDS = {
    "collation": "COLLATION",
    "extension": "EXTENSION",
    "enum": "TYPE",
    "composite": "TYPE",
    "domain": "DOMAIN",
    "sequence": "SEQUENCE",
    "function": "FUNCTION",
    "procedure": "PROCEDURE",
    "view": "VIEW",
    "materialized": "MATERIALIZED VIEW",
    "trigger": "TRIGGER",
    "policy": "POLICY",
    "event_trigger": "EVENT TRIGGER",
}
DROP_KINDS = COMMENT_KINDS
LABELS = {
    "collation": "collation",
    "extension": "extension",
    "enum": "enum type",
    "composite": "composite type",
    "domain": "domain",
    "sequence": "sequence",
    "function": "function",
    "procedure": "procedure",
    "view": "view",
    "materialized": "materialized view",
    "trigger": "trigger",
    "policy": "policy",
    "event_trigger": "event trigger",
}
TRIGGER_STATES = {"D": "DISABLE", "R": "ENABLE REPLICA", "A": "ENABLE ALWAYS", "O": "ENABLE"}


class ObjectRules:
    """What PostgreSQL can change in place (`engine/dependencies.py` asks)."""

    def replaces(self, before: SchemaObject, after: SchemaObject) -> bool:
        kind = after.kind
        if kind == "view":
            return not columns_extend(before, after)
        if kind == "materialized":
            return any(before.attr(a) != after.attr(a) for a in ("columns", "options")) or (
                before.definition != after.definition
            )
        if kind in ("function", "procedure"):
            return before.attrs != after.attrs
        if kind == "trigger":
            constraint = after.definition.startswith("CREATE CONSTRAINT TRIGGER")
            return constraint and before.definition != after.definition
        if kind == "enum":
            return enum_additions(labels(before), labels(after)) is None
        if kind == "domain":
            return any(before.attr(a) != after.attr(a) for a in ("type", "collation"))
        if kind == "composite":
            return composite_changes(before, after) is None
        if kind == "policy":
            return policy_replaced(before, after)
        if kind == "event_trigger":
            return any(before.attr(a) != after.attr(a) for a in ("event", "function", "tags"))
        if kind == "extension":
            # Extensions have update paths to newer versions only: an older one is
            # dropped and created (refused by the server while anything uses it).
            return version_key(after.attr("version")) < version_key(before.attr("version"))
        if kind == "collation":
            return before.attrs != after.attrs
        return False

    def implicit_object(self, current: Realm, obj: SchemaObject) -> SchemaObject | None:
        """The serial column's own sequence a new sequence object would be: the column
        owns `<table>_<column>_seq`, of the serial's integer type."""
        if obj.kind != "sequence":
            return None
        for schema in current.schemas:
            for table in schema.tables:
                for column in table.columns:
                    if (
                        column.type in SERIAL_BASES
                        and obj.name == f"{table.name}_{column.name}_seq"
                    ):
                        attrs = {
                            "type": SERIAL_BASES[column.type],
                            "owned_by": f"{table.name}.{column.name}",
                        }
                        return SchemaObject(
                            kind="sequence", name=obj.name, attrs=tuple(sorted(attrs.items()))
                        )
        return None

    def converts_columns(self, obj: SchemaObject) -> bool:
        """An enum's columns are cast through text to the re-created type; the column
        defaults calling a re-created function are dropped around it and set again."""
        return obj.kind in ("enum", "function")

    def recreates_table(self, change: ModifyTable) -> bool:
        return False  # every table change is an ALTER TABLE

    def breaks_dependents(self, change: TableChange) -> bool:
        """A dropped column, or one whose type or collation changes: PostgreSQL refuses
        both while a view, rule, trigger or policy uses the column."""
        from atlas_operator.engine.changes import DropColumn, ModifyColumn

        if isinstance(change, DropColumn):
            return True
        if not isinstance(change, ModifyColumn):
            return False
        regenerated = "generated" in change.kinds and change.after.generated is not None
        return regenerated or bool({"type", "collation"} & change.kinds)


class ObjectPlanner:
    """Renders object changes; `qualify(schema, name)` names an object as the plan does
    (qualified in realm scope only)."""

    def __init__(self, qualify: Qualify) -> None:
        self.qualify = qualify

    def change(self, change: AddObject | DropObject | ModifyObject) -> list[PlannedStatement]:
        if isinstance(change, AddObject):
            return self.create(change.schema, change.object)
        if isinstance(change, DropObject):
            return [self.drop(change.schema, change.object)]
        if change.columns:
            return self.convert(change.schema, change.before, change.after, change.columns)
        if ObjectRules().replaces(change.before, change.after):
            return [
                self.drop(change.schema, change.before),
                *self.create(change.schema, change.after),
            ]
        return self.modify(change.schema, change.before, change.after)

    def convert(
        self,
        schema: str | None,
        before: SchemaObject,
        after: SchemaObject,
        columns: tuple[ColumnUse, ...],
    ) -> list[PlannedStatement]:
        """Replaces a type its columns keep using: the old one is renamed away, the new
        one created and each column cast through text (a value the new type lacks fails
        the plan, which then rolls back); the old type is dropped at the end of the plan
        (engine/dependencies.py)."""
        if after.kind == "function":
            return self.replace_under_defaults(schema, before, after, columns)
        old_name = renamed_away(before.name)
        statements = [
            self.statement(
                f"ALTER TYPE {self.name(schema, before)} RENAME TO {quote(old_name)}",
                "Rename",
                before,
            ),
            *self.create(schema, after),
        ]
        for use in columns:
            table = self.qualify(use.schema, use.table)
            column = quote(use.column)
            clauses = [
                f"ALTER COLUMN {column} DROP DEFAULT",
                f"ALTER COLUMN {column} TYPE {use.type} USING {column}::text::{use.type}",
            ]
            if use.default is not None:
                clauses.append(f"ALTER COLUMN {column} SET DEFAULT {use.default}")
            statements.append(
                PlannedStatement(
                    f"ALTER TABLE {table} {', '.join(clauses)}",
                    f'Convert column "{use.column}" of "{use.table}" to {self.describe(after)}',
                )
            )
        return statements

    def replace_under_defaults(
        self,
        schema: str | None,
        before: SchemaObject,
        after: SchemaObject,
        columns: tuple[ColumnUse, ...],
    ) -> list[PlannedStatement]:
        """A function column defaults call is re-created between dropping those defaults
        and setting the desired ones."""
        statements = [self.set_default(use, None) for use in columns]
        statements += [self.drop(schema, before), *self.create(schema, after)]
        statements += [self.set_default(use, use.default) for use in columns if use.default]
        return statements

    def set_default(self, use: ColumnUse, default: str | None) -> PlannedStatement:
        action = f"SET DEFAULT {default}" if default else "DROP DEFAULT"
        return PlannedStatement(
            f"ALTER TABLE {self.qualify(use.schema, use.table)} ALTER COLUMN"
            f" {quote(use.column)} {action}",
            f'Set default of column "{use.column}" of "{use.table}"',
        )

    # names

    def name(self, schema: str | None, obj: SchemaObject) -> str:
        if obj.kind in ("function", "procedure"):
            base = obj.rendering("name") or obj.name
            return f"{self.qualify(schema, base)}({obj.rendering('identity') or ''})"
        if obj.kind in ("trigger", "policy"):
            return f"{quote(obj.name)} ON {self.qualify(schema, obj.table or '')}"
        if obj.kind in ("extension", "event_trigger"):
            return quote(obj.name)
        return self.qualify(schema, obj.name)

    def describe(self, obj: SchemaObject) -> str:
        on = f' on table "{obj.table}"' if obj.table else ""
        return f'{LABELS[obj.kind]} "{obj.name}"{on}'

    # create

    def create(self, schema: str | None, obj: SchemaObject) -> list[PlannedStatement]:
        render = getattr(self, f"create_{obj.kind}")
        statements: list[PlannedStatement] = render(schema, obj)
        if obj.comment is not None:
            statements.append(self.comment(schema, obj, obj.comment))
        return statements

    def statement(self, sql: str, verb: str, obj: SchemaObject) -> PlannedStatement:
        return PlannedStatement(sql, f"{verb} {self.describe(obj)}")

    def create_extension(self, schema: str | None, obj: SchemaObject) -> list[PlannedStatement]:
        version = obj.attr("version")
        sql = f"CREATE EXTENSION {quote(obj.name)}"
        if schema is not None:
            sql += f" WITH SCHEMA {quote(schema)}"
        if version:
            sql += f" VERSION {quote_string(version)}"
        return [self.statement(sql, "Create", obj)]

    def create_enum(self, schema: str | None, obj: SchemaObject) -> list[PlannedStatement]:
        values = ", ".join(quote_string(v) for v in labels(obj))
        sql = f"CREATE TYPE {self.name(schema, obj)} AS ENUM ({values})"
        return [self.statement(sql, "Create", obj)]

    def create_composite(self, schema: str | None, obj: SchemaObject) -> list[PlannedStatement]:
        members = ", ".join(f"{quote(f)} {t}" for f, t in fields(obj))
        sql = f"CREATE TYPE {self.name(schema, obj)} AS ({members})"
        return [self.statement(sql, "Create", obj)]

    def create_domain(self, schema: str | None, obj: SchemaObject) -> list[PlannedStatement]:
        sql = f"CREATE DOMAIN {self.name(schema, obj)} AS {obj.attr('type')}"
        if obj.attr("collation"):
            sql += f" COLLATE {obj.attr('collation')}"
        if obj.attr("default"):
            sql += f" DEFAULT {obj.attr('default')}"
        if obj.attr("not_null"):
            sql += " NOT NULL"
        for name, check in domain_checks(obj):
            sql += f" CONSTRAINT {quote(name)} {check}"
        return [self.statement(sql, "Create", obj)]

    def create_sequence(self, schema: str | None, obj: SchemaObject) -> list[PlannedStatement]:
        options = sequence_options(obj, None)
        owner = self.sequence_owner(schema, obj)
        sql = f"CREATE SEQUENCE {self.name(schema, obj)}"
        sql += "".join(f" {o}" for o in options)
        if owner != "NONE":
            sql += f" OWNED BY {owner}"
        return [self.statement(sql, "Create", obj)]

    def sequence_owner(self, schema: str | None, obj: SchemaObject) -> str:
        owned = obj.attr("owned_by")
        if not owned:
            return "NONE"
        table, column = owned.rsplit(".", 1)
        return f"{self.qualify(schema, table)}.{quote(column)}"

    def create_collation(self, schema: str | None, obj: SchemaObject) -> list[PlannedStatement]:
        options = [f"provider = {obj.attr('provider')}"]
        collate, ctype = obj.attr("lc_collate"), obj.attr("lc_ctype")
        if obj.attr("locale"):
            options.append(f"locale = {quote_string(obj.attr('locale') or '')}")
        elif collate == ctype:
            options.append(f"locale = {quote_string(collate or '')}")
        else:
            options.append(f"lc_collate = {quote_string(collate or '')}")
            options.append(f"lc_ctype = {quote_string(ctype or '')}")
        if obj.attr("deterministic") == "false":
            options.append("deterministic = false")
        sql = f"CREATE COLLATION {self.name(schema, obj)} ({', '.join(options)})"
        return [self.statement(sql, "Create", obj)]

    def create_function(self, schema: str | None, obj: SchemaObject) -> list[PlannedStatement]:
        return [self.statement(self.routine(schema, obj, replace=False), "Create", obj)]

    create_procedure = create_function

    def routine(self, schema: str | None, obj: SchemaObject, *, replace: bool) -> str:
        verb = "CREATE OR REPLACE" if replace else "CREATE"
        base = self.qualify(schema, obj.rendering("name") or obj.name)
        rest = (obj.rendering("rest") or "").rstrip()
        return f"{verb} {obj.kind.upper()} {base}({rest}"

    def create_view(self, schema: str | None, obj: SchemaObject) -> list[PlannedStatement]:
        sql = f"CREATE VIEW {self.name(schema, obj)}{with_options(obj)} AS {view_query(obj)}"
        return [self.statement(sql, "Create", obj), *self.column_comments(schema, obj, None)]

    def create_materialized(self, schema: str | None, obj: SchemaObject) -> list[PlannedStatement]:
        sql = (
            f"CREATE MATERIALIZED VIEW {self.name(schema, obj)}{with_options(obj)}"
            f" AS {view_query(obj)}"
        )
        statements = [self.statement(sql, "Create", obj)]
        statements.extend(self.create_view_index(schema, obj, i) for i in view_indexes(obj))
        statements.extend(self.column_comments(schema, obj, None))
        return statements

    def create_view_index(
        self, schema: str | None, obj: SchemaObject, index: list[str]
    ) -> PlannedStatement:
        name, tail, _ = index
        unique, _, using = tail.partition("|")
        head = "CREATE UNIQUE INDEX" if unique else "CREATE INDEX"
        return PlannedStatement(
            f"{head} {quote(name)} ON {self.name(schema, obj)} {using}",
            f'Create index "{name}" to materialized view: "{obj.name}"',
        )

    def create_trigger(self, schema: str | None, obj: SchemaObject) -> list[PlannedStatement]:
        statements = [self.statement(obj.definition, "Create", obj)]
        state = obj.attr("enabled")
        if state:
            statements.append(self.trigger_state(schema, obj, state))
        return statements

    def trigger_state(self, schema: str | None, obj: SchemaObject, state: str) -> PlannedStatement:
        table = self.qualify(schema, obj.table or "")
        return self.statement(
            f"ALTER TABLE {table} {TRIGGER_STATES[state]} TRIGGER {quote(obj.name)}",
            "Set state of",
            obj,
        )

    def create_policy(self, schema: str | None, obj: SchemaObject) -> list[PlannedStatement]:
        sql = (
            f"CREATE POLICY {self.name(schema, obj)} AS {obj.attr('as')}"
            f" FOR {obj.attr('command')} TO {obj.attr('roles') or 'PUBLIC'}"
        )
        if obj.attr("using"):
            sql += f" USING ({obj.attr('using')})"
        if obj.attr("check"):
            sql += f" WITH CHECK ({obj.attr('check')})"
        return [self.statement(sql, "Create", obj)]

    def create_event_trigger(self, schema: str | None, obj: SchemaObject) -> list[PlannedStatement]:
        sql = f"CREATE EVENT TRIGGER {quote(obj.name)} ON {obj.attr('event')}"
        tags = json.loads(obj.attr("tags") or "[]")
        if tags:
            sql += f" WHEN TAG IN ({', '.join(quote_string(t) for t in tags)})"
        function = (obj.attr("function") or "").split("(", 1)[0]
        statements = [self.statement(f"{sql} EXECUTE FUNCTION {function}()", "Create", obj)]
        if obj.attr("enabled"):
            statements.append(self.event_trigger_state(obj))
        return statements

    def event_trigger_state(self, obj: SchemaObject) -> PlannedStatement:
        verb = TRIGGER_STATES[obj.attr("enabled") or "O"]
        sql = f"ALTER EVENT TRIGGER {quote(obj.name)} {verb}"
        return self.statement(sql, "Set state of", obj)

    def modify_event_trigger(
        self, schema: str | None, before: SchemaObject, after: SchemaObject
    ) -> list[PlannedStatement]:
        if before.attr("enabled") == after.attr("enabled"):
            return []
        return [self.event_trigger_state(after)]

    # drop

    def drop(self, schema: str | None, obj: SchemaObject) -> PlannedStatement:
        return self.statement(f"DROP {DROP_KINDS[obj.kind]} {self.name(schema, obj)}", "Drop", obj)

    # comments

    def comment(self, schema: str | None, obj: SchemaObject, text: str | None) -> PlannedStatement:
        value = "NULL" if text is None else quote_string(text)
        return self.statement(
            f"COMMENT ON {COMMENT_KINDS[obj.kind]} {self.name(schema, obj)} IS {value}",
            "Set comment to",
            obj,
        )

    def column_comments(
        self, schema: str | None, obj: SchemaObject, before: SchemaObject | None
    ) -> list[PlannedStatement]:
        old = dict(column_comment_pairs(before)) if before is not None else {}
        new = dict(column_comment_pairs(obj))
        statements = []
        for column in sorted(set(old) | set(new)):
            if old.get(column) == new.get(column):
                continue
            value = quote_string(new[column]) if column in new else "NULL"
            statements.append(
                PlannedStatement(
                    f"COMMENT ON COLUMN {self.name(schema, obj)}.{quote(column)} IS {value}",
                    f'Set comment to column: "{column}" on view: "{obj.name}"',
                )
            )
        return statements

    # in-place changes

    def modify(
        self, schema: str | None, before: SchemaObject, after: SchemaObject
    ) -> list[PlannedStatement]:
        render = getattr(self, f"modify_{after.kind}", None)
        statements: list[PlannedStatement] = render(schema, before, after) if render else []
        if before.comment != after.comment:
            statements.append(self.comment(schema, after, after.comment))
        return statements

    def modify_extension(
        self, schema: str | None, before: SchemaObject, after: SchemaObject
    ) -> list[PlannedStatement]:
        version = after.attr("version")
        if before.attr("version") == version or not version:
            return []
        sql = f"ALTER EXTENSION {quote(after.name)} UPDATE TO {quote_string(version)}"
        return [self.statement(sql, "Update", after)]

    def modify_enum(
        self, schema: str | None, before: SchemaObject, after: SchemaObject
    ) -> list[PlannedStatement]:
        # Outside the plan's transaction: a label added in a transaction cannot be used
        # before it commits ("unsafe use of new value"). IF NOT EXISTS: a rerun after a
        # later failure finds it there.
        name = self.name(schema, after)
        return [
            PlannedStatement(
                f"ALTER TYPE {name} ADD VALUE IF NOT EXISTS {clause}",
                f"Add value to {self.describe(after)}",
                transactional=False,
            )
            for clause in enum_additions(labels(before), labels(after)) or []
        ]

    def modify_domain(
        self, schema: str | None, before: SchemaObject, after: SchemaObject
    ) -> list[PlannedStatement]:
        name = self.name(schema, after)
        clauses = []
        if before.attr("default") != after.attr("default"):
            default = after.attr("default")
            clauses.append(f"SET DEFAULT {default}" if default else "DROP DEFAULT")
        if before.attr("not_null") != after.attr("not_null"):
            clauses.append("SET NOT NULL" if after.attr("not_null") else "DROP NOT NULL")
        old, new = dict(domain_checks(before)), dict(domain_checks(after))
        for check in sorted(old):
            if new.get(check) != old[check]:
                clauses.append(f"DROP CONSTRAINT {quote(check)}")
        for check in sorted(new):
            if old.get(check) != new[check]:
                clauses.append(f"ADD CONSTRAINT {quote(check)} {new[check]}")
        return [self.statement(f"ALTER DOMAIN {name} {c}", "Modify", after) for c in clauses]

    def modify_composite(
        self, schema: str | None, before: SchemaObject, after: SchemaObject
    ) -> list[PlannedStatement]:
        actions = composite_changes(before, after) or []
        if not actions:
            return []
        sql = f"ALTER TYPE {self.name(schema, after)} {', '.join(actions)}"
        return [self.statement(sql, "Modify", after)]

    def modify_sequence(
        self, schema: str | None, before: SchemaObject, after: SchemaObject
    ) -> list[PlannedStatement]:
        options = sequence_options(after, before)
        if before.attr("owned_by") != after.attr("owned_by"):
            options.append(f"OWNED BY {self.sequence_owner(schema, after)}")
        if not options:
            return []
        sql = f"ALTER SEQUENCE {self.name(schema, after)} {' '.join(options)}"
        return [self.statement(sql, "Modify", after)]

    def modify_function(
        self, schema: str | None, before: SchemaObject, after: SchemaObject
    ) -> list[PlannedStatement]:
        if before.definition == after.definition:
            return []
        return [self.statement(self.routine(schema, after, replace=True), "Replace", after)]

    modify_procedure = modify_function

    def modify_view(
        self, schema: str | None, before: SchemaObject, after: SchemaObject
    ) -> list[PlannedStatement]:
        name = self.name(schema, after)
        statements = []
        if before.definition != after.definition or before.attr("columns") != after.attr("columns"):
            # CREATE OR REPLACE VIEW resets the options to those it names.
            sql = f"CREATE OR REPLACE VIEW {name}{with_options(after)} AS {view_query(after)}"
            statements.append(self.statement(sql, "Replace", after))
        else:
            statements.extend(self.option_changes(f"ALTER VIEW {name}", before, after))
        statements.extend(self.column_comments(schema, after, before))
        return statements

    def option_changes(
        self, prefix: str, before: SchemaObject, after: SchemaObject
    ) -> list[PlannedStatement]:
        old = dict(option_pairs(before))
        new = dict(option_pairs(after))
        statements = []
        reset = sorted(set(old) - set(new))
        if reset:
            statements.append(
                self.statement(f"{prefix} RESET ({', '.join(reset)})", "Modify", after)
            )
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        if changed:
            settings = ", ".join(f"{k}={v}" for k, v in sorted(changed.items()))
            statements.append(self.statement(f"{prefix} SET ({settings})", "Modify", after))
        return statements

    def modify_materialized(
        self, schema: str | None, before: SchemaObject, after: SchemaObject
    ) -> list[PlannedStatement]:
        statements = []
        old = {i[0]: i for i in view_indexes(before)}
        new = {i[0]: i for i in view_indexes(after)}
        for name in sorted(old):
            if new.get(name) != old[name]:
                statements.append(
                    PlannedStatement(
                        f"DROP INDEX {self.qualify(schema, name)}",
                        f'Drop index "{name}" from materialized view: "{after.name}"',
                    )
                )
        for name in sorted(new):
            if old.get(name) != new[name]:
                statements.append(self.create_view_index(schema, after, new[name]))
        statements.extend(self.column_comments(schema, after, before))
        return statements

    def modify_trigger(
        self, schema: str | None, before: SchemaObject, after: SchemaObject
    ) -> list[PlannedStatement]:
        statements = []
        if before.definition != after.definition:
            sql = after.definition.replace("CREATE TRIGGER", "CREATE OR REPLACE TRIGGER", 1)
            statements.append(self.statement(sql, "Replace", after))
        if before.attr("enabled") != after.attr("enabled"):
            statements.append(self.trigger_state(schema, after, after.attr("enabled") or "O"))
        return statements

    def modify_policy(
        self, schema: str | None, before: SchemaObject, after: SchemaObject
    ) -> list[PlannedStatement]:
        clauses = []
        if before.attr("roles") != after.attr("roles"):
            clauses.append(f"TO {after.attr('roles') or 'PUBLIC'}")
        if before.attr("using") != after.attr("using"):
            clauses.append(f"USING ({after.attr('using')})")
        if before.attr("check") != after.attr("check"):
            clauses.append(f"WITH CHECK ({after.attr('check')})")
        if not clauses:
            return []
        sql = f"ALTER POLICY {self.name(schema, after)} {' '.join(clauses)}"
        return [self.statement(sql, "Modify", after)]


# --- attribute helpers ---------------------------------------------------------------


def labels(obj: SchemaObject) -> list[str]:
    return [str(v) for v in json.loads(obj.attr("labels") or "[]")]


def fields(obj: SchemaObject) -> list[tuple[str, str]]:
    return [(str(f), str(t)) for f, t in json.loads(obj.attr("fields") or "[]")]


def domain_checks(obj: SchemaObject) -> list[tuple[str, str]]:
    return [(str(n), str(c)) for n, c in json.loads(obj.attr("checks") or "[]")]


def view_indexes(obj: SchemaObject) -> list[list[str]]:
    return [[str(x) for x in i] for i in json.loads(obj.attr("indexes") or "[]")]


def column_comment_pairs(obj: SchemaObject) -> list[tuple[str, str]]:
    return [(str(c), str(t)) for c, t in json.loads(obj.attr("column_comments") or "[]")]


def option_pairs(obj: SchemaObject) -> list[tuple[str, str]]:
    options = [str(o) for o in json.loads(obj.attr("options") or "[]")]
    return [(k, v) for k, _, v in (o.partition("=") for o in options)]


def with_options(obj: SchemaObject) -> str:
    options = json.loads(obj.attr("options") or "[]")
    return f" WITH ({', '.join(options)})" if options else ""


def view_query(obj: SchemaObject) -> str:
    """The deparsed query without its final semicolon."""
    return obj.definition.strip().rstrip(";").strip()


def columns_extend(before: SchemaObject, after: SchemaObject) -> bool:
    """CREATE OR REPLACE VIEW keeps every column (name and type, in order) and may add
    new ones at the end; any other change needs the view dropped and created again."""
    old = json.loads(before.attr("columns") or "[]")
    new = json.loads(after.attr("columns") or "[]")
    return bool(new[: len(old)] == old)


def enum_additions(before: list[str], after: list[str]) -> list[str] | None:
    """The `ADD VALUE` clauses that turn `before` into `after`, or None when a label
    goes away or moves (PostgreSQL cannot remove or reorder enum labels)."""
    if [label for label in after if label in before] != before:
        return None
    clauses: list[str] = []
    current = list(before)
    for i, label in enumerate(after):
        if label in current:
            continue
        following = next((x for x in after[i + 1 :] if x in current), None)
        if following is not None:
            clauses.append(f"{quote_string(label)} BEFORE {quote_string(following)}")
            current.insert(current.index(following), label)
        else:
            clauses.append(quote_string(label))
            current.append(label)
    return clauses


def composite_changes(before: SchemaObject, after: SchemaObject) -> list[str] | None:
    """ALTER TYPE actions for a composite, or None when the fields the two share are not
    in the same order or a new field comes before an old one (ADD ATTRIBUTE appends)."""
    old_fields, new_fields = fields(before), fields(after)
    old, new = dict(old_fields), dict(new_fields)
    shared_before = [f for f, _ in old_fields if f in new]
    shared_after = [f for f, _ in new_fields if f in old]
    if shared_before != shared_after:
        return None
    actions = [f"DROP ATTRIBUTE {quote(f)}" for f, _ in old_fields if f not in new]
    seen_new = False
    for name, type_ in new_fields:
        if name not in old:
            seen_new = True
            actions.append(f"ADD ATTRIBUTE {quote(name)} {type_}")
        elif seen_new:
            return None
        elif old[name] != type_:
            actions.append(f"ALTER ATTRIBUTE {quote(name)} TYPE {type_}")
    return actions


def version_key(version: str | None) -> tuple[int, ...]:
    """`1.10` > `1.9`: the numeric parts of an extension version."""
    return tuple(int(p) for p in re.findall(r"\d+", version or ""))


def policy_replaced(before: SchemaObject, after: SchemaObject) -> bool:
    """ALTER POLICY changes roles and expressions, but cannot change the command or
    permissiveness, nor remove a USING or WITH CHECK clause."""
    if any(before.attr(a) != after.attr(a) for a in ("command", "as")):
        return True
    return any(before.attr(a) and not after.attr(a) for a in ("using", "check"))


SEQUENCE_OPTIONS: tuple[tuple[str, str, str | None], ...] = (
    ("type", "AS {}", None),
    ("increment", "INCREMENT BY {}", "INCREMENT BY 1"),
    ("min", "MINVALUE {}", "NO MINVALUE"),
    ("max", "MAXVALUE {}", "NO MAXVALUE"),
    ("start", "START WITH {}", None),
    ("cache", "CACHE {}", "CACHE 1"),
    ("cycle", "CYCLE", "NO CYCLE"),
)
"""(attribute, clause, clause restoring the default when the attribute goes away)."""


def sequence_options(obj: SchemaObject, before: SchemaObject | None) -> list[str]:
    """Sequence options of `obj`; with `before`, only those that changed (ALTER)."""
    options = []
    for attr, clause, reset in SEQUENCE_OPTIONS:
        value = obj.attr(attr)
        if before is not None and before.attr(attr) == value:
            continue
        if value and not (attr == "type" and value == "bigint" and before is None):
            options.append(clause.format(value))
        elif not value and before is not None and reset is not None:
            options.append(reset)
    return options
