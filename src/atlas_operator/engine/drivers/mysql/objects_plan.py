"""MySQL/MariaDB planning of views, triggers, stored functions and procedures and
events, and the rules the dependency step asks (`ObjectRules`).

How each change is made:
- views: `CREATE VIEW`, changed with `CREATE OR REPLACE VIEW` (whatever changed: MySQL
  takes any new definition in place), `DROP VIEW`;
- triggers: `CREATE TRIGGER` as the desired statement was written (SHOW CREATE TRIGGER,
  objects.py) with `FOLLOWS`/`PRECEDES` placing it among the triggers of the same
  table, timing and event; a change drops it and creates it again;
- functions and procedures: a change of COMMENT, SQL SECURITY or SQL data access only
  is an `ALTER FUNCTION`/`ALTER PROCEDURE`; any other drops and creates it again;
- events: `ALTER EVENT` for ON COMPLETION, status, COMMENT and body; a schedule change
  drops and creates the event again (so that a STARTS the SQL does not write is again
  the creation time, which is how objects.py tells it was not written).

A trigger, routine or event with an `sql_mode` (objects.py: created under a mode
other than the inspecting session's) is created, and altered, under that mode: `SET
@atlas_sql_mode = @@SESSION.sql_mode, SESSION sql_mode = '…'` before it and `SET
SESSION sql_mode = @atlas_sql_mode` after, so the rest of the plan runs in the session
it started in. Both are session settings, replayed in order when a migration file
resumes part-way (execution.py), so a resumed file restores the mode too. A change of
the mode alone drops the object and creates it again (ALTER does not set it).

No statement names a DEFINER: objects are created by the applying user.
"""

from __future__ import annotations

import json

from atlas_operator.engine.changes import (
    AddObject,
    Change,
    DropObject,
    ModifyObject,
    ObjectChange,
)
from atlas_operator.engine.dependencies import DefaultRules
from atlas_operator.engine.drivers.base import PlannedStatement, Scope
from atlas_operator.engine.drivers.mysql.session import ServerInfo, quote, quote_string
from atlas_operator.engine.model import SchemaObject

KEYWORDS = {"view": "VIEW", "trigger": "TRIGGER", "function": "FUNCTION",
            "procedure": "PROCEDURE", "event": "EVENT"}  # fmt: skip
ALTERABLE_ROUTINE = ("security", "data_access")
"""Routine characteristics ALTER FUNCTION/PROCEDURE changes (and COMMENT)."""
EVENT_STATES = {"DISABLED": "DISABLE", "ENABLED": "ENABLE"}
MODE_VARIABLE = "@atlas_sql_mode"
"""Where the session's sql_mode is kept while an object's own one is in force."""

TriggerKey = tuple[str | None, str, str]
"""(schema, table, name) of a trigger."""


class ObjectRules(DefaultRules):
    """What the dependency step (engine/dependencies.py) needs to know about MySQL.

    MySQL records no dependencies: a routine, view or table can be dropped or changed
    while views, triggers and routines use it (they fail when used, until it is back),
    and CREATE OR REPLACE VIEW takes any new definition. So no object change needs its
    dependents out of the way (`replaces` is False, whatever the planner renders), and
    only a dropped column does: a view using it is dropped before the column and
    created again after, never left pointing at nothing in between."""

    def replaces(self, before: SchemaObject, after: SchemaObject) -> bool:
        return False

    # The rest is DefaultRules': a dropped column breaks its dependents, no column
    # conversions, no implicit objects, and every table change is an ALTER TABLE
    # (triggers stay on the table).


def created_triggers(changes: list[Change]) -> set[TriggerKey]:
    """The triggers a plan creates (new ones, and those dropped and created again)."""
    keys: set[TriggerKey] = set()
    for change in changes:
        if isinstance(change, (AddObject, ModifyObject)):
            obj = change.object if isinstance(change, AddObject) else change.after
            if obj.kind == "trigger":
                keys.add((change.schema, obj.table or "", obj.name))
    return keys


class ObjectPlanner:
    """Renders object changes; names are qualified only in realm scope."""

    def __init__(
        self, scope: Scope, server: ServerInfo | None, created: set[TriggerKey] | None = None
    ) -> None:
        self.scope = scope
        self.server = server
        self.created = created or set()

    def qualify(self, schema: str | None, name: str) -> str:
        if self.scope.bound is not None or schema is None:
            return quote(name)
        return f"{quote(schema)}.{quote(name)}"

    def change(self, change: ObjectChange) -> list[PlannedStatement]:
        if isinstance(change, AddObject):
            return self.create(change.schema, change.object)
        if isinstance(change, DropObject):
            return [self.drop(change.schema, change.object)]
        return self.modify(change.schema, change.before, change.after)

    def statement(self, sql: str, verb: str, obj: SchemaObject) -> PlannedStatement:
        on = f' on table "{obj.table}"' if obj.table else ""
        return PlannedStatement(sql, f'{verb} {obj.kind} "{obj.name}"{on}')

    def drop(self, schema: str | None, obj: SchemaObject) -> PlannedStatement:
        sql = f"DROP {KEYWORDS[obj.kind]} {self.qualify(schema, obj.name)}"
        return self.statement(sql, "Drop", obj)

    def create(self, schema: str | None, obj: SchemaObject) -> list[PlannedStatement]:
        if obj.kind == "view":
            return [self.statement(self.view(schema, obj, replace=False), "Create", obj)]
        if obj.kind == "trigger":
            sql = self.trigger(schema, obj)
        elif obj.kind == "event":
            sql = self.event(schema, obj)
        else:
            sql = self.routine(schema, obj)
        return self.in_mode(obj, self.statement(sql, "Create", obj))

    def modify(
        self, schema: str | None, before: SchemaObject, after: SchemaObject
    ) -> list[PlannedStatement]:
        if after.kind == "view":
            return [self.statement(self.view(schema, after, replace=True), "Replace", after)]
        same_mode = before.attr("sql_mode") == after.attr("sql_mode")
        if after.kind in ("function", "procedure") and routine_alterable(before, after):
            return self.in_mode(after, self.alter_routine(schema, before, after))
        if (
            after.kind == "event"
            and same_mode
            and before.attr("schedule") == after.attr("schedule")
        ):
            return self.in_mode(after, self.alter_event(schema, before, after))
        return [self.drop(schema, before), *self.create(schema, after)]

    def in_mode(self, obj: SchemaObject, statement: PlannedStatement) -> list[PlannedStatement]:
        """`statement` run under the object's sql_mode, the session's restored after;
        alone when the object has none (it was created under the session's)."""
        mode = obj.attr("sql_mode")
        if not mode:
            return [statement]
        on = f' on table "{obj.table}"' if obj.table else ""
        what = f'{obj.kind} "{obj.name}"{on}'
        return [
            PlannedStatement(
                f"SET {MODE_VARIABLE} = @@SESSION.sql_mode,"
                f" SESSION sql_mode = {quote_string(mode)}",
                f"Set the sql_mode of {what}",
            ),
            statement,
            PlannedStatement(
                f"SET SESSION sql_mode = {MODE_VARIABLE}", f"Restore the sql_mode after {what}"
            ),
        ]

    # --- views ------------------------------------------------------------------------

    def view(self, schema: str | None, obj: SchemaObject, *, replace: bool) -> str:
        head = "CREATE OR REPLACE" if replace else "CREATE"
        if obj.attr("algorithm"):
            head += f" ALGORITHM = {obj.attr('algorithm')}"
        if obj.attr("security"):
            head += f" SQL SECURITY {obj.attr('security')}"
        columns = f" ({obj.attr('columns')})" if obj.attr("columns") else ""
        sql = f"{head} VIEW {self.qualify(schema, obj.name)}{columns} AS {obj.definition}"
        if obj.attr("check_option"):
            sql += f" WITH {obj.attr('check_option')} CHECK OPTION"
        return sql

    # --- triggers ---------------------------------------------------------------------

    def trigger(self, schema: str | None, obj: SchemaObject) -> str:
        """The statement as written (its head from SHOW CREATE TRIGGER), placed among its
        table's triggers of the same timing and event: after the one it follows, or
        before the first one that stays in place (a trigger created without either
        comes last)."""
        head = obj.rendering("head") or (
            f"CREATE TRIGGER {self.qualify(schema, obj.name)} {obj.attr('timing')}"
            f" {obj.attr('event')} ON {self.qualify(schema, obj.table or '')} FOR EACH ROW "
        )
        written = head.rstrip()
        space = head[len(written) :]
        order = ""
        if obj.attr("follows"):
            order = f" FOLLOWS {quote(obj.attr('follows') or '')}"
        else:
            staying = [
                name
                for name in json.loads(obj.rendering("successors") or "[]")
                if (schema, obj.table or "", name) not in self.created
            ]
            if staying:
                order = f" PRECEDES {quote(staying[0])}"
        return f"{written}{order}{space}{obj.rendering('body') or obj.definition}"

    # --- routines ---------------------------------------------------------------------

    def routine(self, schema: str | None, obj: SchemaObject) -> str:
        params = []
        for mode, name, type_ in json.loads(obj.attr("params") or "[]"):
            prefix = f"{mode} " if obj.kind == "procedure" and mode else ""
            params.append(f"{prefix}{quote(name)} {type_}")
        sql = f"CREATE {KEYWORDS[obj.kind]} {self.qualify(schema, obj.name)}({', '.join(params)})"
        if obj.kind == "function":
            sql += f" RETURNS {obj.attr('returns')}"
        characteristics = routine_characteristics(obj, ("security", "data_access"))
        if obj.attr("deterministic"):
            characteristics.append("DETERMINISTIC")
        body = obj.rendering("body") or obj.definition
        return " ".join([sql, *characteristics, body])

    def alter_routine(
        self, schema: str | None, before: SchemaObject, after: SchemaObject
    ) -> PlannedStatement:
        changed = tuple(a for a in ALTERABLE_ROUTINE if before.attr(a) != after.attr(a))
        parts = routine_characteristics(after, changed, reset=True)
        if before.comment != after.comment:
            mode = after.attr("sql_mode") or ""
            parts.insert(0, f"COMMENT {quote_string(after.comment or '', mode)}")
        sql = f"ALTER {KEYWORDS[after.kind]} {self.qualify(schema, after.name)} {' '.join(parts)}"
        return self.statement(sql, "Modify", after)

    # --- events -----------------------------------------------------------------------

    def event(self, schema: str | None, obj: SchemaObject) -> str:
        name = self.qualify(schema, obj.name)
        parts = [f"CREATE EVENT {name} ON SCHEDULE {obj.attr('schedule')}"]
        if obj.attr("preserve"):
            parts.append("ON COMPLETION PRESERVE")
        if obj.attr("status"):
            parts.append(self.event_state(obj))
        if obj.comment:
            parts.append(f"COMMENT {quote_string(obj.comment, obj.attr('sql_mode') or '')}")
        parts.append(f"DO {obj.rendering('body') or obj.definition}")
        return " ".join(parts)

    def event_state(self, obj: SchemaObject) -> str:
        status = obj.attr("status") or "ENABLED"
        if status in EVENT_STATES:
            return EVENT_STATES[status]
        return self.server.replica_disable_clause if self.server else "DISABLE ON SLAVE"

    def alter_event(
        self, schema: str | None, before: SchemaObject, after: SchemaObject
    ) -> PlannedStatement:
        """ALTER EVENT's clauses, in the order the grammar wants them."""
        parts = []
        if before.attr("preserve") != after.attr("preserve"):
            keep = "PRESERVE" if after.attr("preserve") else "NOT PRESERVE"
            parts.append(f"ON COMPLETION {keep}")
        if before.attr("status") != after.attr("status"):
            parts.append(self.event_state(after))
        if before.comment != after.comment:
            mode = after.attr("sql_mode") or ""
            parts.append(f"COMMENT {quote_string(after.comment or '', mode)}")
        if before.definition != after.definition:
            parts.append(f"DO {after.rendering('body') or after.definition}")
        sql = f"ALTER EVENT {self.qualify(schema, after.name)} {' '.join(parts)}"
        return self.statement(sql, "Modify", after)


def routine_alterable(before: SchemaObject, after: SchemaObject) -> bool:
    """Whether only what ALTER FUNCTION/PROCEDURE changes differs (COMMENT, SQL
    SECURITY, SQL data access)."""
    kept = [(k, v) for k, v in before.attrs if k not in ALTERABLE_ROUTINE]
    wanted = [(k, v) for k, v in after.attrs if k not in ALTERABLE_ROUTINE]
    return before.definition == after.definition and kept == wanted


def routine_characteristics(
    obj: SchemaObject, names: tuple[str, ...], *, reset: bool = False
) -> list[str]:
    """SQL SECURITY and SQL data access clauses of `obj` (with `reset`, the defaults too:
    ALTER must name what goes back to the default)."""
    parts = []
    if "security" in names and (obj.attr("security") or reset):
        parts.append(f"SQL SECURITY {obj.attr('security') or 'DEFINER'}")
    if "data_access" in names and (obj.attr("data_access") or reset):
        parts.append(obj.attr("data_access") or "CONTAINS SQL")
    if obj.comment and not reset:
        parts.insert(0, f"COMMENT {quote_string(obj.comment, obj.attr('sql_mode') or '')}")
    return parts
