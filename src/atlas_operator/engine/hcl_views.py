"""Builders of what is defined on tables (see engine/hcl_objects.py): `view`,
`materialized` (PostgreSQL), `trigger`, and `policy` (PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from atlas_operator.engine.hcl_context import (
    SECURITY,
    Context,
    Declared,
    Node,
    Ref,
    depends_on,
    reference_parts,
    required,
    statement_body,
    word,
)
from atlas_operator.engine.hcl_syntax import HCLError, keyword, unlabelled, unquote
from atlas_operator.engine.statements import Dialect

# --- views --------------------------------------------------------------------------------

CHECK_OPTIONS = ("LOCAL", "CASCADED")
TIMINGS = ("before", "after", "instead_of")


def view_columns(
    body: dict[str, Any], kind: str, where: str, ctx: Context, deps: set[Ref]
) -> list[tuple[str, dict[str, Any]]]:
    """The column blocks: they describe the query's result, so only their types are
    checked (references must resolve) and their comments kept."""
    columns = []
    for name, inner in ctx.children(body, "column", where, f"{kind}.column"):
        at = f'{where}: column "{name}"'
        if name is None:
            raise HCLError(f"{where}: a column block needs a name")
        ctx.type(required(inner, "type", at), f'{at}: attribute "type"', deps)
        columns.append((name, inner))
    return columns


def view_nodes(name: str, body: dict[str, Any], ctx: Context) -> list[Node]:
    where, deps = f'view "{name}"', set[Ref]()
    ctx.check(body, "view", where)
    sql = ctx.target.name(ctx.schema(body, where), name)
    columns = view_columns(body, "view", where, ctx, deps)
    depends_on(body, where, ctx, deps)
    query = view_query(body, where, ctx, deps)
    check = word(body, "check_option", CHECK_OPTIONS, where)
    suffix = f" WITH {check} CHECK OPTION" if check else ""
    if ctx.target.dialect == Dialect.MYSQL:
        security = word(body, "security", SECURITY, where)
        head = f"CREATE SQL SECURITY {security} VIEW" if security else "CREATE VIEW"
        statements: tuple[str, ...] = (f"{head} {sql} AS {query}{suffix}",)
    elif ctx.target.dialect == Dialect.SQLITE:
        statements = (f"CREATE VIEW {sql} AS {query}",)
    else:
        flags = [key for key in ("security_barrier", "security_invoker") if key in body]
        options = [f"{key} = {str(body[key]).lower()}" for key in flags]
        with_options = f" WITH ({', '.join(options)})" if options else ""
        statements = (
            f"CREATE VIEW {sql}{with_options} AS {query}{suffix}",
            *ctx.comment(body, f"VIEW {sql}"),
            *column_comments(sql, columns, ctx),
        )
    return [Node.of("view", name, where, statements, deps, after_tables=True)]


def view_query(body: dict[str, Any], where: str, ctx: Context, deps: set[Ref]) -> str:
    text = ctx.text(required(body, "as", where), f'{where}: attribute "as"', deps)
    return statement_body(text)


def column_comments(sql: str, columns: list[tuple[str, dict[str, Any]]], ctx: Context) -> list[str]:
    return [
        statement
        for name, inner in columns
        for statement in ctx.comment(inner, f"COLUMN {sql}.{ctx.target.ident(name)}")
    ]


def materialized_nodes(name: str, body: dict[str, Any], ctx: Context) -> list[Node]:
    """CREATE MATERIALIZED VIEW … WITH NO DATA: the dev database needs its shape, not
    its rows (and the dev sandbox runs no queries)."""
    where, deps = f'materialized "{name}"', set[Ref]()
    ctx.check(body, "materialized", where)
    schema = ctx.schema(body, where)
    sql = ctx.target.name(schema, name)
    columns = view_columns(body, "materialized", where, ctx, deps)
    depends_on(body, where, ctx, deps)
    query = view_query(body, where, ctx, deps)
    statements = [f"CREATE MATERIALIZED VIEW {sql} AS {query} WITH NO DATA"]
    for index, inner in ctx.children(body, "index", where, "materialized.index"):
        if index is None:
            raise HCLError(f"{where}: an index block needs a name")
        statements.append(materialized_index(index, inner, sql, f'{where}: index "{index}"', ctx))
        statements += ctx.comment(inner, f"INDEX {ctx.target.name(schema, index)}")
    statements += ctx.comment(body, f"MATERIALIZED VIEW {sql}")
    statements += column_comments(sql, columns, ctx)
    return [Node.of("materialized", name, where, statements, deps, after_tables=True)]


def materialized_index(name: str, body: dict[str, Any], on: str, where: str, ctx: Context) -> str:
    def column(value: Any, at: str) -> str:
        return ctx.target.ident(reference_parts(value, ("column",), at, 2)[1])

    parts = [column(value, f'{where}: attribute "columns"') for value in body.get("columns", [])]
    for part in unlabelled(body, "on", where, ctx.grammar, "materialized.index.on"):
        at = f"{where}: on"
        if "expr" in part:
            text = f"({unquote(part['expr'])})"
        else:
            text = column(required(part, "column", at), at)
        parts.append(f"{text} DESC" if part.get("desc") else text)
    if not parts:
        raise HCLError(f"{where}: an index needs columns or on blocks")
    unique = "UNIQUE " if body.get("unique") else ""
    method = unquote(body["type"]).lower() if "type" in body else "btree"
    using = f" USING {method}" if method != "btree" else ""
    where_clause = f" WHERE {unquote(body['where'])}" if "where" in body else ""
    columns = ", ".join(parts)
    return f"CREATE {unique}INDEX {ctx.target.ident(name)} ON {on}{using} ({columns}){where_clause}"


# --- triggers and policies ----------------------------------------------------------------


@dataclass(frozen=True)
class Trigger:
    """What CREATE TRIGGER needs, in every dialect."""

    name: str
    body: dict[str, Any]
    where: str
    on: Declared
    timing: str
    """BEFORE, AFTER or INSTEAD OF."""
    events: tuple[str, ...]
    """INSERT, UPDATE, UPDATE OF "a", "b", DELETE, TRUNCATE."""
    level: str | None
    """ROW or STATEMENT (FOR EACH …), when given."""


def trigger_nodes(name: str, body: dict[str, Any], ctx: Context) -> list[Node]:
    where, deps = f'trigger "{name}"', set[Ref]()
    ctx.check(body, "trigger", where)
    kinds = ("table",) if ctx.target.dialect == Dialect.MYSQL else ("table", "view")
    on = ctx.reference(required(body, "on", where), kinds, f'{where}: attribute "on"', deps)
    timing, events = trigger_events(body, on, where, ctx, deps)
    if "for" in body and "foreach" in body:
        raise HCLError(f"{where}: for and foreach exclude each other")
    levels = ("ROW", "STATEMENT") if ctx.target.dialect == Dialect.POSTGRES else ("ROW",)
    level = word(body, "for", levels, where) or word(body, "foreach", levels, where)
    trigger = Trigger(name, body, where, on, timing, events, level)
    render = {Dialect.POSTGRES: pg_trigger, Dialect.MYSQL: mysql_trigger}.get(
        ctx.target.dialect, sqlite_trigger
    )
    statements = render(trigger, ctx, deps)
    return [Node.of("trigger", name, where, statements, deps, after_tables=True)]


def trigger_events(
    body: dict[str, Any], on: Declared, where: str, ctx: Context, deps: set[Ref]
) -> tuple[str, tuple[str, ...]]:
    """(BEFORE/AFTER/INSTEAD OF, the events) of the trigger's one timing block."""
    given = [t for t in TIMINGS if t in body]
    if len(given) != 1:
        allowed = [t for t in TIMINGS if t in ctx.grammar.blocks["trigger"]]
        raise HCLError(f"{where}: a trigger needs one of the blocks {', '.join(allowed)}")
    timing = given[0]
    block = ctx.single(body, timing, where, f"trigger.{timing}")
    at = f"{where}: {timing}"
    events = [e.upper() for e in ("insert", "update", "delete", "truncate") if block.get(e)]
    if "update_of" in block:
        if block.get("update"):
            raise HCLError(f"{at}: update and update_of exclude each other")
        columns, of = [], f'{at}: attribute "update_of"'
        for value in block["update_of"]:
            table, column = ctx.column(value, (on.kind,), of, deps)
            if table != on:
                raise HCLError(f'{of}: "{column}" is not a column of {on.kind} "{on.name}"')
            columns.append(ctx.target.ident(column))
        events.insert(1 if "INSERT" in events else 0, f"UPDATE OF {', '.join(columns)}")
    if not events:
        raise HCLError(f"{at}: no event (insert, update, update_of, delete, truncate) is set")
    return timing.replace("_", " ").upper(), tuple(events)


def pg_trigger(t: Trigger, ctx: Context, deps: set[Ref]) -> tuple[str, ...]:
    """PostgreSQL: the trigger executes a function (`execute` block)."""
    events = " OR ".join(t.events)
    name, on = ctx.target.ident(t.name), ctx.sql(t.on)
    parts = [f"CREATE TRIGGER {name} {t.timing} {events} ON {on}"]
    transitions = []
    for inner in unlabelled(t.body, "referencing", t.where, ctx.grammar, "trigger.referencing"):
        for key, label in (("old_table", "OLD TABLE"), ("new_table", "NEW TABLE")):
            if key in inner:
                transitions.append(f"{label} AS {ctx.target.ident(unquote(inner[key]))}")
    if transitions:
        parts.append(f"REFERENCING {' '.join(transitions)}")
    if t.level:
        parts.append(f"FOR EACH {t.level}")
    if "when" in t.body:
        parts.append(f"WHEN ({ctx.text(t.body['when'], t.where, deps)})")
    execute = ctx.single(t.body, "execute", t.where, "trigger.execute")
    routines = [k for k in ("function", "procedure") if k in execute]
    if len(routines) != 1:
        raise HCLError(f"{t.where}: a trigger needs an execute block with a function")
    at = f'{t.where}: execute: attribute "{routines[0]}"'
    routine = ctx.reference(execute[routines[0]], (routines[0],), at, deps)
    args = ", ".join(ctx.target.string(unquote(a)) for a in execute.get("args", []))
    parts.append(f"EXECUTE {routines[0].upper()} {ctx.sql(routine)}({args})")
    return (" ".join(parts), *ctx.comment(t.body, f"TRIGGER {name} ON {on}"))


def mysql_trigger(t: Trigger, ctx: Context, deps: set[Ref]) -> tuple[str, ...]:
    """MySQL: one event, FOR EACH ROW, FOLLOWS/PRECEDES, then the body (`as`)."""
    if len(t.events) != 1:
        raise HCLError(f"{t.where}: a MySQL trigger fires on exactly one event")
    order = [k for k in ("follows", "precedes") if k in t.body]
    if len(order) > 1:
        raise HCLError(f"{t.where}: follows and precedes exclude each other")
    name = ctx.target.name(t.on.schema, t.name)
    parts = [f"CREATE TRIGGER {name} {t.timing} {t.events[0]} ON {ctx.sql(t.on)} FOR EACH ROW"]
    for key in order:
        other = ctx.reference(t.body[key], ("trigger",), f'{t.where}: attribute "{key}"', deps)
        parts.append(f"{key.upper()} {ctx.target.ident(other.name)}")
    return (" ".join([*parts, trigger_body(t, ctx, deps)]),)


def sqlite_trigger(t: Trigger, ctx: Context, deps: set[Ref]) -> tuple[str, ...]:
    """SQLite: one event, optional FOR EACH ROW and WHEN, then the body (`as`)."""
    if len(t.events) != 1:
        raise HCLError(f"{t.where}: a SQLite trigger fires on exactly one event")
    name = ctx.target.ident(t.name)
    parts = [f"CREATE TRIGGER {name} {t.timing} {t.events[0]} ON {ctx.sql(t.on)}"]
    if t.level:
        parts.append(f"FOR EACH {t.level}")
    if "when" in t.body:
        parts.append(f"WHEN {ctx.text(t.body['when'], t.where, deps)}")
    return (" ".join([*parts, trigger_body(t, ctx, deps)]),)


def trigger_body(t: Trigger, ctx: Context, deps: set[Ref]) -> str:
    text = ctx.text(required(t.body, "as", t.where), f'{t.where}: attribute "as"', deps)
    return statement_body(text)


POLICY_AS = ("PERMISSIVE", "RESTRICTIVE")
POLICY_FOR = ("ALL", "SELECT", "INSERT", "UPDATE", "DELETE")
ROLE_KEYWORDS = ("PUBLIC", "CURRENT_ROLE", "CURRENT_USER", "SESSION_USER")


def policy_nodes(name: str, body: dict[str, Any], ctx: Context) -> list[Node]:
    where, deps = f'policy "{name}"', set[Ref]()
    ctx.check(body, "policy", where)
    table = ctx.reference(required(body, "on", where), ("table",), f'{where}: attribute "on"', deps)
    on = ctx.sql(table)
    parts = [f"CREATE POLICY {ctx.target.ident(name)} ON {on}"]
    mode = word(body, "as", POLICY_AS, where)
    command = word(body, "for", POLICY_FOR, where)
    parts += [f"AS {mode}"] if mode else []
    parts += [f"FOR {command}"] if command else []
    if "to" in body:
        roles = [policy_role(value, f'{where}: attribute "to"', ctx) for value in body["to"]]
        parts.append(f"TO {', '.join(roles)}")
    if "using" in body:
        parts.append(f"USING ({ctx.text(body['using'], where, deps)})")
    if "check" in body:
        parts.append(f"WITH CHECK ({ctx.text(body['check'], where, deps)})")
    statements = (" ".join(parts), *ctx.comment(body, f"POLICY {ctx.target.ident(name)} ON {on}"))
    return [Node.of("policy", name, where, statements, deps, after_tables=True)]


def policy_role(value: str, where: str, ctx: Context) -> str:
    """Keywords (PUBLIC, CURRENT_USER, …) as they are; strings are role names."""
    if value.startswith('"'):
        return ctx.target.ident(unquote(value))
    return keyword(value, ROLE_KEYWORDS, where)
