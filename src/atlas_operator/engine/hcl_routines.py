"""Builders of routines (see engine/hcl_objects.py): `function` and `procedure`
(PostgreSQL and MySQL), `aggregate` (PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from atlas_operator.engine.hcl_context import (
    SECURITY,
    Context,
    Node,
    Ref,
    depends_on,
    required,
    statement_body,
    word,
)
from atlas_operator.engine.hcl_syntax import REF, HCLError, unlabelled, unquote
from atlas_operator.engine.statements import Dialect

# --- routines -----------------------------------------------------------------------------

ARG_MODES = {
    Dialect.POSTGRES: ("IN", "OUT", "INOUT", "VARIADIC"),
    Dialect.MYSQL: ("IN", "OUT", "INOUT"),
}
VOLATILITY = ("VOLATILE", "STABLE", "IMMUTABLE")
PARALLEL = ("SAFE", "UNSAFE", "RESTRICTED")
SQL_STANDARD_BODY = re.compile(r"\s*(RETURN\b|BEGIN\s+ATOMIC\b)", re.IGNORECASE)


@dataclass(frozen=True)
class Arg:
    name: str | None
    type: str
    """The type as SQL (MySQL: with its CHARACTER SET and COLLATE)."""
    mode: str | None = None
    default: str | None = None


def routine_args(
    body: dict[str, Any], kind: str, where: str, ctx: Context, deps: set[Ref]
) -> list[Arg]:
    args = []
    for name, inner in ctx.children(body, "arg", where, f"{kind}.arg"):
        at = f'{where}: arg "{name}"' if name else f"{where}: arg"
        type_sql = ctx.type(required(inner, "type", at), f'{at}: attribute "type"', deps)
        for key, clause in (("charset", "CHARACTER SET"), ("collate", "COLLATE")):
            if key in inner:
                type_sql += f" {clause} {unquote(inner[key])}"
        mode = word(inner, "mode", ARG_MODES[ctx.target.dialect], at)
        default = ctx.literal(inner["default"]) if "default" in inner else None
        args.append(Arg(name, type_sql, mode, default))
    return args


def pg_arg(arg: Arg, ctx: Context, *, defaults: bool = True) -> str:
    parts = [arg.mode or "", ctx.target.ident(arg.name) if arg.name else "", arg.type]
    if defaults and arg.default is not None:
        parts.append(f"DEFAULT {arg.default}")
    return " ".join(p for p in parts if p)


def signature(sql: str, args: list[Arg]) -> str:
    """`name(types)`, as COMMENT ON FUNCTION wants it (OUT arguments left out)."""
    args = [a for a in args if a.mode != "OUT"]
    types = [f"VARIADIC {a.type}" if a.mode == "VARIADIC" else a.type for a in args]
    return f"{sql}({', '.join(types)})"


def pg_routine_body(lang: str, text: str) -> str:
    """`AS $$…$$` (with a tag the body does not contain), or an SQL-standard body
    (`RETURN …`, `BEGIN ATOMIC … END`) as it is."""
    if lang == "sql" and SQL_STANDARD_BODY.match(text):
        return statement_body(text)
    tag, n = "$$", 0
    while tag in text:
        n += 1
        tag = f"$body{n}$"
    return f"AS {tag}{text}{tag}"


def pg_routine_options(kind: str, body: dict[str, Any], where: str, ctx: Context) -> list[str]:
    """Volatility, strictness, security, … and `config { name = value }` (SET)."""
    options = []
    for name, allowed, prefix in (
        ("volatility", VOLATILITY, ""),
        ("security", SECURITY, "SECURITY "),
        ("parallel", PARALLEL, "PARALLEL "),
    ):
        value = word(body, name, allowed, where)
        if value is not None:
            options.append(prefix + value)
    if "leakproof" in body:
        options.append("LEAKPROOF" if body["leakproof"] else "NOT LEAKPROOF")
    if "strict" in body:
        options.append("STRICT" if body["strict"] else "CALLED ON NULL INPUT")
    options.extend(f"{key.upper()} {body[key]}" for key in ("cost", "rows") if key in body)
    for config in unlabelled(body, "config", where, ctx.grammar, f"{kind}.config"):
        settings = [(k, v) for k, v in config.items() if k != "__is_block__"]
        options.extend(f"SET {key} = {ctx.literal(value)}" for key, value in settings)
    return options


def pg_returns(
    body: dict[str, Any], where: str, ctx: Context, deps: set[Ref], args: list[Arg]
) -> str:
    given = [key for key in ("return", "return_set", "return_table") if key in body]
    if len(given) > 1:
        raise HCLError(f"{where}: return, return_set and return_table exclude each other")
    if given in (["return"], ["return_set"]):
        setof = "SETOF " if given == ["return_set"] else ""
        at = f'{where}: attribute "{given[0]}"'
        return f" RETURNS {setof}{ctx.type(body[given[0]], at, deps)}"
    if given == ["return_table"]:
        table = ctx.single(body, "return_table", where, "function.return_table")
        at = f"{where}: return_table"
        columns = []
        for name, inner in ctx.children(table, "column", at, "function.return_table.column"):
            if name is None:
                raise HCLError(f"{at}: a column block needs a name")
            column = f'{at}: column "{name}"'
            type_at = f'{column}: attribute "type"'
            column_type = ctx.type(required(inner, "type", column), type_at, deps)
            columns.append(f"{ctx.target.ident(name)} {column_type}")
        return f" RETURNS TABLE ({', '.join(columns)})"
    if any(a.mode in ("OUT", "INOUT") for a in args):
        return ""  # PostgreSQL derives the result from the OUT arguments
    raise HCLError(f"{where}: a function needs return, return_set or return_table")


def routine_nodes(kind: str) -> Callable[[str, dict[str, Any], Context], list[Node]]:
    """The builder of `function` or `procedure` blocks, for the context's dialect."""

    def build(name: str, body: dict[str, Any], ctx: Context) -> list[Node]:
        where, deps = f'{kind} "{name}"', set[Ref]()
        ctx.check(body, kind, where)
        render = mysql_routine if ctx.target.dialect == Dialect.MYSQL else pg_routine
        statements = render(kind, name, body, where, ctx, deps)
        return [Node.of(kind, name, where, statements, deps)]

    return build


def pg_routine(
    kind: str, name: str, body: dict[str, Any], where: str, ctx: Context, deps: set[Ref]
) -> tuple[str, ...]:
    """CREATE FUNCTION/PROCEDURE of PostgreSQL, and its comment."""
    sql = ctx.target.name(ctx.schema(body, where), name)
    args = routine_args(body, kind, where, ctx, deps)
    text = ctx.text(required(body, "as", where), f'{where}: attribute "as"', deps)
    depends_on(body, where, ctx, deps)
    lang = unquote(required(body, "lang", where)).lower()
    returns = pg_returns(body, where, ctx, deps, args) if kind == "function" else ""
    head = f"CREATE {kind.upper()} {sql}({', '.join(pg_arg(a, ctx) for a in args)}){returns}"
    options = " ".join([f"LANGUAGE {lang}", *pg_routine_options(kind, body, where, ctx)])
    return (
        f"{head} {options} {pg_routine_body(lang, text)}",
        *ctx.comment(body, f"{kind.upper()} {signature(sql, args)}"),
    )


DATA_ACCESS = ("CONTAINS_SQL", "NO_SQL", "READS_SQL_DATA", "MODIFIES_SQL_DATA")


def mysql_routine(
    kind: str, name: str, body: dict[str, Any], where: str, ctx: Context, deps: set[Ref]
) -> tuple[str, ...]:
    """CREATE FUNCTION/PROCEDURE of MySQL: parameters, characteristics, then the body
    as written (one statement, or BEGIN … END)."""
    sql = ctx.target.name(ctx.schema(body, where), name)
    args = routine_args(body, kind, where, ctx, deps)
    text = ctx.text(required(body, "as", where), f'{where}: attribute "as"', deps)
    head = f"CREATE {kind.upper()} {sql}({mysql_params(kind, args, where, ctx)})"
    if kind == "function":
        at = f'{where}: attribute "return"'
        head += f" RETURNS {ctx.type(required(body, 'return', where), at, deps)}"
    return (" ".join([head, *mysql_characteristics(body, where, ctx), statement_body(text)]),)


def mysql_params(kind: str, args: list[Arg], where: str, ctx: Context) -> str:
    params = []
    for arg in args:
        if arg.name is None:
            raise HCLError(f"{where}: an arg block needs a name on MySQL")
        if kind == "function" and arg.mode not in (None, "IN"):
            raise HCLError(f'{where}: arg "{arg.name}": function arguments can only be IN')
        mode = f"{arg.mode} " if kind == "procedure" and arg.mode else ""
        params.append(f"{mode}{ctx.target.ident(arg.name)} {arg.type}")
    return ", ".join(params)


def mysql_characteristics(body: dict[str, Any], where: str, ctx: Context) -> list[str]:
    parts = []
    if "comment" in body:
        parts.append(f"COMMENT {ctx.target.string(unquote(body['comment']))}")
    if "deterministic" in body:
        parts.append("DETERMINISTIC" if body["deterministic"] else "NOT DETERMINISTIC")
    access = word(body, "data_access", DATA_ACCESS, where)
    if access is not None:
        parts.append(access.replace("_", " "))
    security = word(body, "security", SECURITY, where)
    if security is not None:
        parts.append(f"SQL SECURITY {security}")
    return parts


def initial_condition(value: Any, ctx: Context) -> str:
    """INITCOND is a string literal whatever the state type; `sql("…")` is written as is."""
    if isinstance(value, str) and REF.match(value):
        return ctx.literal(value)
    text = unquote(value) if isinstance(value, str) else ctx.literal(value)
    return ctx.target.string(text)


def aggregate_nodes(name: str, body: dict[str, Any], ctx: Context) -> list[Node]:
    where, deps = f'aggregate "{name}"', set[Ref]()
    ctx.check(body, "aggregate", where)
    sql = ctx.target.name(ctx.schema(body, where), name)
    args = routine_args(body, "aggregate", where, ctx, deps)
    depends_on(body, where, ctx, deps)
    at = f'{where}: attribute "state_func"'
    state_func = ctx.reference(required(body, "state_func", where), ("function",), at, deps)
    type_at = f'{where}: attribute "state_type"'
    state_type = ctx.type(required(body, "state_type", where), type_at, deps)
    options = [f"SFUNC = {ctx.sql(state_func)}", f"STYPE = {state_type}"]
    if "initial_value" in body:
        options.append(f"INITCOND = {initial_condition(body['initial_value'], ctx)}")
    parallel = word(body, "parallel", PARALLEL, where)
    if parallel is not None:
        options.append(f"PARALLEL = {parallel}")
    arg_list = ", ".join(pg_arg(a, ctx, defaults=False) for a in args) or "*"
    statements = (
        f"CREATE AGGREGATE {sql}({arg_list}) ({', '.join(options)})",
        *ctx.comment(body, f"AGGREGATE {sql}({arg_list})"),
    )
    return [Node.of("aggregate", name, where, statements, deps)]


# --- events (MySQL) -----------------------------------------------------------------------

EVENT_STATES = {"ENABLE": "ENABLE", "DISABLE": "DISABLE", "DISABLE_ON_SLAVE": "DISABLE ON SLAVE"}
COMPLETION = ("PRESERVE", "NOT_PRESERVE")


def event_nodes(name: str, body: dict[str, Any], ctx: Context) -> list[Node]:
    """`event "prune" { schema = schema.app  on { every = "1 DAY" }  as = "…" }`:
    CREATE EVENT with its schedule (`on`: `at`, or `every` with `starts` and `ends`),
    `on_completion`, `status` and `comment`, then the body (`as`)."""
    where, deps = f'event "{name}"', set[Ref]()
    ctx.check(body, "event", where)
    sql = ctx.target.name(ctx.schema(body, where), name)
    parts = [f"CREATE EVENT {sql} ON SCHEDULE {event_schedule(body, where, ctx)}"]
    completion = word(body, "on_completion", COMPLETION, where)
    if completion is not None:
        parts.append(f"ON COMPLETION {completion.replace('_', ' ')}")
    status = word(body, "status", tuple(EVENT_STATES), where)
    if status is not None:
        parts.append(EVENT_STATES[status])
    if "comment" in body:
        parts.append(f"COMMENT {ctx.target.string(unquote(body['comment']))}")
    depends_on(body, where, ctx, deps)
    text = ctx.text(required(body, "as", where), f'{where}: attribute "as"', deps)
    parts.append(f"DO {statement_body(text)}")
    return [Node.of("event", name, where, (" ".join(parts),), deps, after_tables=True)]


def event_schedule(body: dict[str, Any], where: str, ctx: Context) -> str:
    """`AT '…'` or `EVERY n UNIT [STARTS '…'] [ENDS '…']` from the `on` block; a time
    is a literal (`"2035-01-01 00:00:00"`) or an expression (`sql("CURRENT_TIMESTAMP")`)."""
    on = ctx.single(body, "on", where, "event.on")
    at = f"{where}: on"
    if ("at" in on) == ("every" in on):
        raise HCLError(f"{at}: a schedule needs one of the attributes at, every")
    if "at" in on:
        if "starts" in on or "ends" in on:
            raise HCLError(f"{at}: starts and ends go with every, not with at")
        return f"AT {event_time(on['at'], ctx)}"
    schedule = f"EVERY {unquote(on['every'])}"
    for key in ("starts", "ends"):
        if key in on:
            schedule += f" {key.upper()} {event_time(on[key], ctx)}"
    return schedule


def event_time(value: Any, ctx: Context) -> str:
    if isinstance(value, str) and REF.match(value):
        return ctx.literal(value)
    return ctx.target.string(unquote(value))
