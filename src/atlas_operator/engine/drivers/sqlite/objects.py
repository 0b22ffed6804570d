"""SQLite views and triggers: inspection from `sqlite_master`, the dependencies read
from their SQL, and their rendering (plan.py decides what is re-created around what).

SQLite keeps only the statement that created a view or trigger. Its normal form (the
`definition` the diff compares) is that text read as tokens: comments and layout
dropped, words and identifiers lower-cased and unquoted (SQLite folds names' case),
string literals exactly as written, `TEMP` and `IF NOT EXISTS` left out. Both sides
of a diff come from the same code (the desired state is loaded on a dev database), so
plain equality is the comparison. The statement itself (`source`) is what the plan
creates, so the target holds what the user wrote.

SQLite records no dependencies either: a view depends on the tables and views its
SQL names, a trigger on its table and on those its body names. The names are read
from the tokens, so the set may be larger than the truth; it only orders changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from atlas_operator.engine.changes import AddObject, DropObject, ModifyObject
from atlas_operator.engine.drivers.base import DatabaseError, PlannedStatement, Session
from atlas_operator.engine.drivers.sqlite.session import MAIN, quote
from atlas_operator.engine.model import Dependency, ObjectRef, SchemaObject

TOKEN = re.compile(
    r"""(?P<string>[xX]?'(?:[^']|'')*')"""
    r"""|(?P<quoted>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\])"""
    r"""|(?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))"""
    r"""|(?P<word>[^\W\d][\w$]*)"""
    r"""|(?P<number>0[xX][0-9A-Fa-f]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"""
    r"""|(?P<operator>->>|->|\|\||<<|>>|<=|>=|==|!=|<>)"""
    r"""|(?P<space>\s+)"""
    r"""|(?P<other>.)""",
    re.S,
)
BARE_NAME = re.compile(r"[^\W\d]\w*")
NO_SPACE_BEFORE = frozenset({",", ")", ".", ";"})
NO_SPACE_AFTER = frozenset({"(", "."})
SCHEMAS = frozenset({"main", "temp"})
LABELS = {"view": "VIEW", "trigger": "TRIGGER"}
# Words that, unquoted, are values rather than names: quoted they stay names (or, for
# want of such a column, strings), so their quotes count.
VALUE_WORDS = frozenset(
    {"null", "true", "false", "current_date", "current_time", "current_timestamp"}
)


@dataclass(frozen=True)
class Token:
    kind: str
    """`string`, `name` (a bare word or a quoted identifier), `number` or `punct`."""
    text: str
    """A name unquoted and lower-cased; anything else as its normal form writes it."""
    quoted: bool = False
    """A name written in quotes."""


def tokens_of(sql: str) -> list[Token]:
    """The tokens of one statement, without comments and whitespace."""
    tokens: list[Token] = []
    for match in TOKEN.finditer(sql):
        kind, text = match.lastgroup or "other", match.group()
        if kind in ("space", "comment"):
            continue
        if kind == "quoted":
            close = text[-1]
            inner = text[1:-1] if close == "]" else text[1:-1].replace(close * 2, close)
            tokens.append(Token("name", inner.lower(), quoted=True))
        elif kind == "word":
            tokens.append(Token("name", text.lower()))
        elif kind == "number":
            tokens.append(Token("number", text.lower()))
        else:
            tokens.append(Token("string" if kind == "string" else "punct", text))
    return tokens


def statement_tokens(sql: str) -> list[Token]:
    """The tokens of a CREATE VIEW/TRIGGER without what does not make the object: `TEMP`,
    `IF NOT EXISTS`, a schema qualifier on its name and trailing semicolons."""
    tokens = tokens_of(sql)
    while tokens and tokens[-1].text == ";":
        tokens.pop()
    if not tokens or tokens[0].text != "create":
        return tokens
    if len(tokens) > 1 and tokens[1].text in ("temp", "temporary"):
        del tokens[1]
    if [t.text for t in tokens[2:5]] == ["if", "not", "exists"]:
        del tokens[2:5]
    if len(tokens) > 4 and tokens[2].text in SCHEMAS and tokens[3].text == ".":
        del tokens[2:4]
    return tokens


def without_for_each_row(tokens: list[Token]) -> list[Token]:
    """A trigger's header without `FOR EACH ROW`: SQLite has row triggers only, so the
    clause changes nothing."""
    if [t.text for t in tokens[:2]] != ["create", "trigger"]:
        return tokens
    texts = [t.text if t.kind == "name" else "" for t in tokens]
    body = texts.index("begin") if "begin" in texts else len(texts)
    for i in range(2, body - 2):
        if texts[i : i + 3] == ["for", "each", "row"]:
            return tokens[:i] + tokens[i + 3 :]
    return tokens


def rendered(token: Token) -> str:
    if token.kind != "name" or (
        BARE_NAME.fullmatch(token.text) and not (token.quoted and token.text in VALUE_WORDS)
    ):
        return token.text
    return '"' + token.text.replace('"', '""') + '"'


def normal_form(sql: str) -> str:
    """The statement as compared: tokens joined by one space, none inside `a.b`, `f(x)`
    or before a comma, so layout, comments, case and quoting never count as a change.
    (A double-quoted word SQLite takes as a string, for want of such a column, is
    compared without its case: a documented SQLite misfeature no schema should rely on.)"""
    out: list[str] = []
    previous = ""
    for token in without_for_each_row(statement_tokens(sql)):
        text = rendered(token)
        if out and text not in NO_SPACE_BEFORE and previous not in NO_SPACE_AFTER:
            out.append(" ")
        out.append(text)
        previous = text if token.kind == "punct" else ""
    return "".join(out)


# --- inspection ---------------------------------------------------------------------------


def inspect_objects(
    session: Session, tables: Iterable[str]
) -> tuple[list[SchemaObject], list[Dependency]]:
    """Every view and trigger of `main`, sorted by key, and what each depends on."""
    rows = session.query(
        "SELECT type, name, tbl_name, sql FROM sqlite_master"
        " WHERE type IN ('view', 'trigger') AND sql IS NOT NULL"
    )
    relations = {name.lower(): ObjectRef("table", MAIN, name) for name in tables}
    relations.update(
        {name.lower(): ObjectRef("view", MAIN, name) for kind, name, _, _ in rows if kind == "view"}
    )
    triggered = {table.lower() for kind, _, table, _ in rows if kind == "trigger"}
    objects: list[SchemaObject] = []
    dependencies: list[Dependency] = []
    for kind, name, table, sql in rows:
        source = [("sql", sql)]
        if kind == "view" and name.lower() in triggered:
            source.append(("triggers", "yes"))
        on = relations.get(table.lower()) if kind == "trigger" else None
        obj = SchemaObject(
            kind=kind,
            name=name,
            table=(on.name if on else table) if kind == "trigger" else None,
            definition=normal_form(sql),
            attrs=view_columns(session, name) if kind == "view" else (),
            source=tuple(source),
        )
        objects.append(obj)
        dependent = object_ref(obj)
        referenced = {relations[n] for n in referenced_names(obj.kind, sql) if n in relations}
        if on is not None:
            referenced.add(on)
        referenced.discard(ObjectRef("view", MAIN, name))
        dependencies.extend(
            Dependency(dependent, ref) for ref in sorted(referenced, key=lambda r: (r.kind, r.name))
        )
    objects.sort(key=lambda o: (o.kind, o.table or "", o.name))
    return objects, dependencies


def has_triggers(view: SchemaObject) -> bool:
    """Whether triggers are on the view (as inspected): DROP VIEW deletes them."""
    return view.rendering("triggers") is not None


def view_columns(session: Session, name: str) -> tuple[tuple[str, str], ...]:
    """The names of a view's columns, as SQLite reports them: compared next to the
    normal form, which folds the case of names, though an alias's or a column list's
    case (`AS "MyId"`, `v(A)`) is the case of the column clients see. A view SQLite
    cannot read (over a missing table) has none, so it is created again."""
    try:
        rows = session.query("SELECT name FROM pragma_table_info(?)", (name,))
    except DatabaseError:
        return ()
    return (("columns", json.dumps([str(row[0]) for row in rows])),)


def object_ref(obj: SchemaObject) -> ObjectRef:
    return ObjectRef(obj.kind, MAIN, obj.name, obj.table)


def referenced_names(kind: str, sql: str) -> set[str]:
    """The lower-cased names a view's query or a trigger's `ON` clause and body use: every
    name but a column after a qualifier (`o.id`; `main.t` still names `t`)."""
    tokens = statement_tokens(sql)
    start = 3  # CREATE VIEW|TRIGGER name
    if kind == "view":
        start = next(
            (i + 1 for i in range(start, len(tokens)) if tokens[i].text == "as"), len(tokens)
        )
    names: set[str] = set()
    for i in range(start, len(tokens)):
        token = tokens[i]
        if token.kind != "name":
            continue
        qualified = i >= 2 and tokens[i - 1] == Token("punct", ".")
        if qualified and tokens[i - 2].text not in SCHEMAS:
            continue
        names.add(token.text)
    return names


# --- planning -----------------------------------------------------------------------------


def plan_object(change: AddObject | DropObject | ModifyObject) -> list[PlannedStatement]:
    if isinstance(change, AddObject):
        return [create(change.object)]
    if isinstance(change, DropObject):
        return [drop(change.object)]
    return [drop(change.before), create(change.after)]


def describe(obj: SchemaObject) -> str:
    on = f' on table "{obj.table}"' if obj.table else ""
    return f'{obj.kind} "{obj.name}"{on}'


def create(obj: SchemaObject) -> PlannedStatement:
    """The object's statement as it was written (as the dev database stored it)."""
    sql = obj.rendering("sql") or obj.definition
    return PlannedStatement(sql, f"Create {describe(obj)}")


def drop(obj: SchemaObject) -> PlannedStatement:
    return PlannedStatement(f"DROP {LABELS[obj.kind]} {quote(obj.name)}", f"Drop {describe(obj)}")
