"""MySQL/MariaDB inspection of views, triggers, stored functions and procedures and
events, and of what depends on what among them and the tables.

One information_schema query per kind for the whole scope (VIEWS, TRIGGERS, ROUTINES,
PARAMETERS when there are routines, EVENTS), plus SHOW CREATE where only it tells:
the trigger statement as written (rendered back so the target's trigger reads like the
desired one), the bodies of triggers, routines and events as written and, on MySQL, a
view's ALGORITHM and column list. information_schema gives those bodies re-printed
for the catalog (`body_utf8`): string literals lose their character set introducers
(`_latin1'a'` becomes `'a'`, another character set), so the body is taken from SHOW
CREATE (`source_body` and the like) and the catalog's only when SHOW CREATE gives none
(no privilege to see it). SHOW CREATE runs in
batches of 500 per compound statement on MariaDB (one round trip each), once per
object on MySQL, which has no compound statements outside stored programs.

Routines are read from information_schema.ROUTINES and PARAMETERS rather than from
mysql.proc (MariaDB only, and readable only with privileges on the `mysql` database)
or SHOW CREATE (one statement per routine): the catalog gives the parameter and
return types in the server's normal form, which is what is compared.

What is compared, per kind (`SchemaObject.definition` and `attrs`):
- views: the definition as the server stores it (normalised by the server), without
  the bound database's qualifier in schema scope; ALGORITHM, SQL SECURITY and
  WITH CHECK OPTION when not the defaults; on MySQL the column list, when one was
  written;
- triggers: timing, event, table, the body in `body.normal_form` and the trigger it
  follows among those of the same table, timing and event (ACTION_ORDER);
- functions and procedures: parameters (mode, name, type; a character set or
  collation only when not the database's), return type, DETERMINISTIC, SQL data
  access, SQL SECURITY, COMMENT and the body in normal form;
- events: the schedule, ON COMPLETION, status, COMMENT and the body in normal form.
  STARTS is the creation time when the SQL writes none, so a STARTS within
  `IMPLICIT_STARTS_SECONDS` of the event's creation counts as not written.

Triggers, routines and events also compare the sql_mode they were created with (the
server runs their bodies under it: ANSI_QUOTES, PIPES_AS_CONCAT, NO_BACKSLASH_ESCAPES
change what a body means), as the set of its flags, and only when it differs from the
one the inspecting session started with (`session_sql_mode`: read when it connected,
so a desired state's `SET sql_mode` run on the dev session does not count). An object
created under the session's default has no `sql_mode`, so objects created under each
server's default compare equal even when the defaults differ.

DEFINER is never read: objects are created with the applying user as their definer,
so a plan never names a user that may not exist on the target.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from atlas_operator.engine.drivers.base import Scope, Session
from atlas_operator.engine.drivers.mysql.body import lex, name_uses, normal_form, strip_qualifier
from atlas_operator.engine.drivers.mysql.session import (
    MySQLSession,
    ServerInfo,
    decode,
    normal_sql_mode,
    quote,
    session_sql_mode,
    text_rows,
)
from atlas_operator.engine.model import Dependency, ObjectRef, SchemaObject

VIEWS_QUERY = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION, SECURITY_TYPE, {algorithm}"
    " FROM information_schema.VIEWS WHERE TABLE_SCHEMA IN ({names})"
    " ORDER BY TABLE_SCHEMA, TABLE_NAME"
)
TRIGGERS_QUERY = (
    "SELECT TRIGGER_SCHEMA, TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING,"
    " EVENT_MANIPULATION, ACTION_ORDER, ACTION_STATEMENT, SQL_MODE"
    " FROM information_schema.TRIGGERS"
    " WHERE TRIGGER_SCHEMA IN ({names}) ORDER BY TRIGGER_SCHEMA, EVENT_OBJECT_TABLE,"
    " ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER"
)
ROUTINES_QUERY = (
    "SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE, DTD_IDENTIFIER, COLLATION_NAME,"
    " ROUTINE_DEFINITION, IS_DETERMINISTIC, SQL_DATA_ACCESS, SECURITY_TYPE,"
    " ROUTINE_COMMENT, DATABASE_COLLATION, SQL_MODE FROM information_schema.ROUTINES"
    " WHERE ROUTINE_SCHEMA IN ({names}) AND ROUTINE_TYPE IN ('FUNCTION', 'PROCEDURE')"
    " ORDER BY ROUTINE_SCHEMA, ROUTINE_NAME"
)
PARAMETERS_QUERY = (
    "SELECT SPECIFIC_SCHEMA, SPECIFIC_NAME, ROUTINE_TYPE, PARAMETER_MODE, PARAMETER_NAME,"
    " DTD_IDENTIFIER, COLLATION_NAME FROM information_schema.PARAMETERS"
    " WHERE SPECIFIC_SCHEMA IN ({names}) AND ORDINAL_POSITION > 0"
    " ORDER BY SPECIFIC_SCHEMA, SPECIFIC_NAME, ROUTINE_TYPE, ORDINAL_POSITION"
)
# STARTS is printed in the event's time zone, CREATED in the session's: the difference
# is taken in one zone (the event's zone name may be unknown without time zone
# tables, then STARTS is taken as it is).
EVENTS_QUERY = (
    "SELECT EVENT_SCHEMA, EVENT_NAME, EVENT_DEFINITION, EVENT_TYPE, EXECUTE_AT,"
    " INTERVAL_VALUE, INTERVAL_FIELD, STARTS, ENDS, STATUS, ON_COMPLETION, EVENT_COMMENT,"
    " TIMESTAMPDIFF(SECOND, CREATED,"
    " COALESCE(CONVERT_TZ(STARTS, TIME_ZONE, @@session.time_zone), STARTS)), SQL_MODE"
    " FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN ({names})"
    " ORDER BY EVENT_SCHEMA, EVENT_NAME"
)
IMPLICIT_STARTS_SECONDS = 2
"""A STARTS this close to the event's creation was not written (the server's default)."""
SHOW_CREATE_BATCH = 500
# `CREATE DEFINER=`u`@`h` ` as SHOW CREATE prints it: only `CREATE ` is kept.
DEFINER = re.compile(
    r"^\s*CREATE\s+DEFINER\s*=\s*(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|[^\s@]+)"
    r"\s*@\s*(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|\S+?)\s+",
    re.IGNORECASE,
)
# A FOLLOWS/PRECEDES clause at the end of a trigger's head (MariaDB leaves it out of
# SHOW CREATE TRIGGER; it is planned from the order the catalog tells).
ORDER_CLAUSE = re.compile(r"\s(?:FOLLOWS|PRECEDES)\s+(?:`(?:[^`]|``)*`|[\w$]+)\s*$", re.IGNORECASE)
VIEW_HEAD = re.compile(
    r"\bALGORITHM=(?P<algorithm>\w+).*?\bVIEW\s+(?:(?:`(?:[^`]|``)*`|\"(?:[^\"]|\"\")*\")\.)?"
    r"(?:`(?:[^`]|``)*`|\"(?:[^\"]|\"\")*\")(?:\s*\((?P<columns>[^)]*)\))?\s+AS\s",
    re.IGNORECASE | re.DOTALL,
)

Key = tuple[str, str]
"""(schema, name)."""


@dataclass
class Inspected:
    """Objects per schema, and the dependencies among them and the tables."""

    by_schema: dict[str, list[SchemaObject]] = field(default_factory=lambda: defaultdict(list))
    dependencies: list[Dependency] = field(default_factory=list)


@dataclass
class Known:
    """The names dependencies resolve to: tables, views and routines in scope."""

    tables: set[Key] = field(default_factory=set)
    views: set[Key] = field(default_factory=set)
    functions: dict[tuple[str, str], str] = field(default_factory=dict)
    """(schema, lower-cased name) → the name (routine names ignore case)."""
    procedures: dict[tuple[str, str], str] = field(default_factory=dict)

    def relation(self, schema: str, name: str) -> ObjectRef | None:
        if (schema, name) in self.tables:
            return ObjectRef("table", schema, name)
        if (schema, name) in self.views:
            return ObjectRef("view", schema, name)
        return None

    def routine(self, kind: str, schema: str, name: str) -> ObjectRef | None:
        found = (self.functions if kind == "function" else self.procedures).get(
            (schema, name.lower())
        )
        return ObjectRef(kind, schema, found) if found is not None else None


@dataclass(frozen=True)
class TriggerRow:
    schema: str
    name: str
    table: str
    timing: str
    event: str
    order: int
    body: str
    sql_mode: str

    @property
    def group(self) -> tuple[str, str, str, str]:
        """Triggers ordered among each other: same table, timing and event."""
        return (self.schema, self.table, self.timing, self.event)


def trigger_row(row: tuple[Any, ...]) -> TriggerRow:
    schema, name, table, timing, event, order, body, sql_mode = row
    return TriggerRow(
        schema, name, table, timing, event, int(order or 0), body or "", sql_mode or ""
    )


class ObjectInspector:
    """Reads the objects of `schemas` (see the module's docstring for the queries)."""

    def __init__(
        self,
        session: Session,
        scope: Scope,
        server: ServerInfo,
        schemas: Sequence[str],
        tables: set[Key],
    ) -> None:
        self.session = session
        self.scope = scope
        self.server = server
        self.schemas = list(schemas)
        self.known = Known(tables=set(tables))
        self.found = Inspected()
        self.uses: list[tuple[ObjectRef, str, str]] = []
        """(object, schema, text) whose names are resolved once every object is known."""
        self.recorded: set[Dependency] = set()
        self.session_mode: str | None = None

    def sql_mode(self, mode: str | None) -> str:
        """An object's sql_mode as its `sql_mode` attribute: its flags (`normal_sql_mode`)
        when they differ from those the session started with, else "" (the default an
        object created by a plan without naming a mode gets on any server)."""
        if self.session_mode is None:
            self.session_mode = session_sql_mode(self.session)
        flags = normal_sql_mode(mode)
        return flags if flags != self.session_mode else ""

    def rows(self, sql: str, **parts: str) -> list[tuple[Any, ...]]:
        placeholders = ", ".join(["%s"] * len(self.schemas))
        query = sql.format(names=placeholders, **parts)
        return text_rows(self.session, query, self.schemas)

    def read(self) -> Inspected:
        if not self.schemas:
            return self.found
        self.read_views()
        self.read_routines()
        self.read_triggers()
        self.read_events()
        self.resolve_uses()
        for objects in self.found.by_schema.values():
            objects.sort(key=lambda o: (o.kind, o.table or "", o.name))
        return self.found

    def add(self, schema: str, obj: SchemaObject) -> ObjectRef:
        self.found.by_schema[schema].append(obj)
        return ObjectRef(obj.kind, schema, obj.name, obj.table)

    def depends(self, dependent: ObjectRef, referenced: ObjectRef) -> None:
        dep = Dependency(dependent, referenced)
        if dependent != referenced and dep not in self.recorded:
            self.recorded.add(dep)
            self.found.dependencies.append(dep)

    # --- views ------------------------------------------------------------------------

    def read_views(self) -> None:
        algorithm = "NULL" if self.server.keeps_view_column_lists else "ALGORITHM"
        rows = self.rows(VIEWS_QUERY, algorithm=algorithm)
        heads: list[str | None] = [None] * len(rows)
        if self.server.keeps_view_column_lists:
            # MySQL: ALGORITHM and the column list are only in SHOW CREATE VIEW.
            keys = [(schema, name) for schema, name, *_ in rows]
            heads = self.show_create("VIEW", keys, 1)
        for row, head in zip(rows, heads, strict=True):
            schema, name, definition, check, security, algorithm_value = row
            self.known.views.add((schema, name))
            attrs = view_attrs(check, security, algorithm_value, head)
            text = definition or ""
            shown = strip_qualifier(text, self.scope.bound) if self.scope.bound else text
            obj = SchemaObject(kind="view", name=name, definition=shown, attrs=attrs)
            self.uses.append((self.add(schema, obj), schema, text))

    # --- routines ---------------------------------------------------------------------

    def read_routines(self) -> None:
        rows = self.rows(ROUTINES_QUERY)
        params: dict[tuple[str, str, str], list[tuple[Any, ...]]] = defaultdict(list)
        if rows:
            for schema, name, kind, *rest in self.rows(PARAMETERS_QUERY):
                params[(schema, name, kind)].append(tuple(rest))
        shown = self.show_create_each([(row[2], row[0], row[1]) for row in rows], 2)
        for row, created in zip(rows, shown, strict=True):
            schema, name, kind, returns, return_collation, body = row[:6]
            deterministic, access, security, comment, db_collation, mode = row[6:]
            routine_kind = kind.lower()
            attrs = {
                "params": json.dumps(
                    [
                        [mode or "", pname or "", typed(dtd, coll, db_collation)]
                        for mode, pname, dtd, coll in params[(schema, name, kind)]
                    ]
                ),
                "returns": typed(returns, return_collation, db_collation) if returns else "",
                "deterministic": "true" if deterministic == "YES" else "",
                "data_access": access if access and access != "CONTAINS SQL" else "",
                "security": security if security and security != "DEFINER" else "",
                "sql_mode": self.sql_mode(mode),
            }
            text = routine_body(created) or body or ""
            obj = SchemaObject(
                kind=routine_kind,
                name=name,
                definition=normal_form(text),
                attrs=pairs(attrs),
                comment=comment or None,
                source=(("body", text),),
            )
            names = self.known.functions if routine_kind == "function" else self.known.procedures
            names[(schema, name.lower())] = name
            self.uses.append((self.add(schema, obj), schema, text))

    # --- triggers ---------------------------------------------------------------------

    def read_triggers(self) -> None:
        rows = [trigger_row(row) for row in self.rows(TRIGGERS_QUERY)]
        texts = self.show_create("TRIGGER", [(r.schema, r.name) for r in rows], 2)
        groups: dict[tuple[str, str, str, str], list[TriggerRow]] = defaultdict(list)
        for row in rows:
            groups[row.group].append(row)
        for catalog_row, text in zip(rows, texts, strict=True):
            row = replace(catalog_row, body=trigger_body(text) or catalog_row.body)
            group = sorted(groups[row.group], key=lambda r: r.order)
            position = group.index(row)
            follows = group[position - 1].name if position else ""
            successors = [r.name for r in group[position + 1 :]]
            obj = SchemaObject(
                kind="trigger",
                name=row.name,
                table=row.table,
                definition=normal_form(row.body),
                attrs=pairs(
                    {
                        "timing": row.timing,
                        "event": row.event,
                        "follows": follows,
                        "sql_mode": self.sql_mode(row.sql_mode),
                    }
                ),
                source=(
                    ("body", row.body),
                    ("head", trigger_head(text, row.body, self.scope.bound)),
                    ("successors", json.dumps(successors)),
                ),
            )
            ref = self.add(row.schema, obj)
            self.depends(ref, ObjectRef("table", row.schema, row.table))
            if follows:
                self.depends(ref, ObjectRef("trigger", row.schema, follows, row.table))
            self.uses.append((ref, row.schema, row.body))

    # --- events -----------------------------------------------------------------------

    def read_events(self) -> None:
        rows = self.rows(EVENTS_QUERY)
        shown = self.show_create_each([("EVENT", row[0], row[1]) for row in rows], 3)
        for row, created in zip(rows, shown, strict=True):
            schema, name, body, kind, at, value, unit, starts, ends = row[:9]
            status, completion, comment, starts_offset, mode = row[9:]
            implicit = starts_offset is not None and abs(starts_offset) <= IMPLICIT_STARTS_SECONDS
            schedule = event_schedule(kind, at, value, unit, None if implicit else starts, ends)
            attrs = {
                "schedule": schedule,
                "preserve": "true" if completion == "PRESERVE" else "",
                "status": status if status != "ENABLED" else "",
                "sql_mode": self.sql_mode(mode),
            }
            text = event_body(created) or body or ""
            obj = SchemaObject(
                kind="event",
                name=name,
                definition=normal_form(text),
                attrs=pairs(attrs),
                comment=comment or None,
                source=(("body", text),),
            )
            self.add(schema, obj)

    # --- dependencies -----------------------------------------------------------------

    def resolve_uses(self) -> None:
        """The names each view, trigger and routine uses, resolved to what is in scope.

        Views record the tables (with their columns), views and functions they use: the
        server checks those exist when a view is created. Triggers record the tables,
        views and routines their body names, routines the routines they call: neither
        is checked when created, but they are created after and dropped before what
        they use. A routine records no table or view: a view calling a function whose
        body reads that view would otherwise be a cycle, and only the view's side is
        checked by the server."""
        for ref, schema, text in self.uses:
            for use in name_uses(text):
                for target in self.resolve(ref, schema, use.parts, use.call, use.after):
                    self.depends(ref, target)

    def resolve(
        self, ref: ObjectRef, schema: str, parts: tuple[str, ...], call: bool, after: str
    ) -> list[ObjectRef]:
        in_scope = set(self.schemas)
        if len(parts) == 3:
            db, table, column = parts
            if ref.kind == "view" and (db, table) in self.known.tables:
                return [ObjectRef("table", db, table, column)]
            return []
        db, name = (parts[0], parts[1]) if len(parts) == 2 else (schema, parts[0])
        if len(parts) > 3 or db not in in_scope:
            return []
        if call or after == "CALL":
            kind = "procedure" if after == "CALL" else "function"
            found = self.known.routine(kind, db, name)
            return [found] if found is not None and ref.kind != "event" else []
        if ref.kind in ("function", "procedure"):
            return []
        if ref.kind == "view" and len(parts) == 1:
            return []  # a bare word of a stored view definition is a column or alias
        found = self.known.relation(db, name)
        return [found] if found is not None else []

    # --- SHOW CREATE ------------------------------------------------------------------

    def show_create(self, kind: str, keys: list[Key], column: int) -> list[str | None]:
        """SHOW CREATE `kind` of each object, its text in `column` (None when missing)."""
        return self.show_create_each([(kind, schema, name) for schema, name in keys], column)

    def show_create_each(
        self, objects: list[tuple[str, str, str]], column: int
    ) -> list[str | None]:
        """SHOW CREATE of each (kind, schema, name), its text in `column` (None when
        missing, or NULL: no privilege to see it)."""
        statements = [
            f"SHOW CREATE {kind} {quote(schema)}.{quote(name)}" for kind, schema, name in objects
        ]
        if not statements:
            return []
        if self.server.has_compound_statements and isinstance(self.session, MySQLSession):
            return batched(self.session, statements, column)
        texts: list[str | None] = []
        for statement in statements:
            rows = text_rows(self.session, statement)
            texts.append(str(rows[0][column]) if rows and rows[0][column] is not None else None)
        return texts


def batched(session: MySQLSession, statements: list[str], column: int) -> list[str | None]:
    """Many SHOW statements in compound statements (MariaDB), one round trip per batch."""
    texts: list[str | None] = []
    for start in range(0, len(statements), SHOW_CREATE_BATCH):
        chunk = statements[start : start + SHOW_CREATE_BATCH]
        sets = session.query_sets(f"BEGIN NOT ATOMIC {' '.join(s + ';' for s in chunk)} END")
        for rows in sets[: len(chunk)]:
            shown = rows[0][column] if rows else None
            texts.append(str(decode(shown)) if shown is not None else None)
        texts.extend([None] * (len(chunk) - len(sets[: len(chunk)])))
    return texts


def routine_body(text: str | None) -> str | None:
    """The body of a SHOW CREATE FUNCTION/PROCEDURE text, as written: after the
    parameter list (as written), the RETURNS line and the characteristics, each on a
    line of its own that starts with four spaces; None when there is no such text."""
    if not text:
        return None
    depth, at, opened = 0, 0, False
    for piece in lex(text):
        at += len(piece.text)
        if piece.kind == "punct" and piece.text == "(":
            depth, opened = depth + 1, True
        elif piece.kind == "punct" and piece.text == ")":
            depth -= 1
            if opened and depth == 0:
                break
    else:
        return None
    line = text.find("\n", at)
    while line >= 0 and text.startswith("    ", line + 1):
        line = text.find("\n", line + 1)
    return text[line + 1 :] if line >= 0 else None


def event_body(text: str | None) -> str | None:
    """The body of a SHOW CREATE EVENT text, as written: after its first DO."""
    if not text:
        return None
    at, found = 0, False
    for piece in lex(text):
        at += len(piece.text)
        if found and piece.kind != "space":
            return text[at - len(piece.text) :]
        found = found or (piece.kind == "word" and piece.text.upper() == "DO")
    return None


def trigger_body(text: str | None) -> str | None:
    """The body of a SHOW CREATE TRIGGER text, as written: after FOR EACH ROW and a
    FOLLOWS/PRECEDES clause."""
    if not text:
        return None
    pieces = list(lex(text))
    code = [i for i, p in enumerate(pieces) if p.kind not in ("space", "comment")]
    words = [pieces[i].text.upper() if pieces[i].kind == "word" else "" for i in code]
    for k in range(len(code) - 3):
        if words[k : k + 3] == ["FOR", "EACH", "ROW"]:
            start = k + 3
            if words[start] in ("FOLLOWS", "PRECEDES") and start + 2 < len(code):
                start += 2
            return "".join(p.text for p in pieces[code[start] :])
    return None


def trigger_head(text: str | None, body: str, bound: str | None) -> str:
    """The trigger statement as written up to its body (`CREATE TRIGGER … FOR EACH ROW`
    and the space before the body), without DEFINER, FOLLOWS/PRECEDES (MariaDB leaves
    them out of SHOW CREATE TRIGGER, MySQL may not) or, in schema scope, the `bound`
    database's qualifier; "" when SHOW CREATE did not give it."""
    if not text or not text.endswith(body):
        return ""
    written = text[: len(text) - len(body)]
    head = DEFINER.sub("CREATE ", written.rstrip(), count=1)
    head = ORDER_CLAUSE.sub("", head)
    if bound is not None:
        head = strip_qualifier(head, bound)
    return head + (written[len(written.rstrip()) :] or " ")


def view_attrs(
    check: str | None, security: str | None, algorithm: str | None, head: str | None
) -> tuple[tuple[str, str], ...]:
    """ALGORITHM, SQL SECURITY and CHECK OPTION when not the defaults; on MySQL, the
    ALGORITHM and column list of SHOW CREATE VIEW (`head`)."""
    columns = ""
    if head is not None:
        match = VIEW_HEAD.search(head)
        if match is not None:
            algorithm = match.group("algorithm")
            columns = (match.group("columns") or "").strip()
    attrs = {
        "algorithm": algorithm.upper() if algorithm and algorithm.upper() != "UNDEFINED" else "",
        "security": security if security and security != "DEFINER" else "",
        "check_option": check if check and check != "NONE" else "",
        "columns": columns,
    }
    return pairs(attrs)


def typed(dtd: str | None, collation: str | None, database_collation: str | None) -> str:
    """A parameter or return type as the catalog prints it, with its collation only
    when not the database's (written explicitly, then)."""
    text = (dtd or "").strip()
    if collation and database_collation and collation != database_collation:
        text += f" CHARSET {collation.split('_', 1)[0]} COLLATE {collation}"
    return text


def event_schedule(
    kind: str,
    at: datetime | None,
    value: str | None,
    unit: str | None,
    starts: datetime | None,
    ends: datetime | None,
) -> str:
    """The ON SCHEDULE clause as it is planned: `AT '…'` or `EVERY n UNIT [STARTS '…']
    [ENDS '…']`."""
    if kind == "ONE TIME" or value is None:
        return f"AT '{timestamp(at)}'"
    amount = str(value).strip()
    if not amount.isdigit():
        amount = repr_string(amount)
    text = f"EVERY {amount} {unit}"
    if starts is not None:
        text += f" STARTS '{timestamp(starts)}'"
    if ends is not None:
        text += f" ENDS '{timestamp(ends)}'"
    return text


def timestamp(value: datetime | str | None) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value or "")


def repr_string(text: str) -> str:
    """An interval value that is not a plain number (`'1:30'` for HOUR_MINUTE)."""
    return "'" + text.replace("'", "''") + "'"


def pairs(attrs: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Attributes as sorted pairs, leaving out empty ones (their default)."""
    return tuple(sorted((k, v) for k, v in attrs.items() if v))
