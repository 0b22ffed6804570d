"""What a PostgreSQL desired state may run on the dev database (engine/sandbox.py).

Allowed: CREATE/ALTER/DROP/COMMENT ON of schema objects (tables, views, materialized
views WITH NO DATA, indexes, sequences, functions, procedures, aggregates, types,
domains, triggers, policies, rules, collations, conversions, statistics, operators,
text search objects, extensions), schemas in realm scope (or the bound schema itself),
a short list of session settings (pg_dump's header included) and plain transaction
control. Names qualified with a schema outside the scope (or a system schema), or with
a database, are refused wherever they are defined or referenced by REFERENCES,
PARTITION OF, INHERITS, ATTACH/DETACH PARTITION, ON (indexes, triggers, policies,
rules), TO (rules) and SET SCHEMA.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from atlas_operator.engine.drivers.base import DatabaseError, Scope, Session
from atlas_operator.engine.sandbox import (
    DEFINES_ONLY,
    LOADS_CODE,
    PRIVILEGES,
    REACHES_OUT,
    RUNS_QUERY,
    SANDBOX_ROLE_PARAM,
    SERVER_WIDE,
    UNKNOWN_KIND,
    Refusal,
    depth_walk,
    label,
    names_after,
    read_name,
    schema_refusal,
    shown,
    top_level_word,
)
from atlas_operator.engine.sqlhead import Token, head_tokens, skip_words

SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast"})
TRANSACTION_HEADS = frozenset(
    {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE"}
)
CREATE_MODIFIERS = frozenset(
    {"OR", "REPLACE", "TEMP", "TEMPORARY", "UNLOGGED", "GLOBAL", "LOCAL", "UNIQUE",
     "RECURSIVE", "CONSTRAINT", "TRUSTED", "PROCEDURAL", "DEFAULT"}
)  # fmt: skip
# Objects that live in a schema: what a desired schema is made of.
SCHEMA_OBJECTS = (
    "MATERIALIZED VIEW", "OPERATOR CLASS", "OPERATOR FAMILY", "TEXT SEARCH CONFIGURATION",
    "TEXT SEARCH DICTIONARY", "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE", "TABLE", "VIEW",
    "INDEX", "SEQUENCE", "FUNCTION", "PROCEDURE", "ROUTINE", "AGGREGATE", "TYPE", "DOMAIN",
    "TRIGGER", "POLICY", "RULE", "COLLATION", "CONVERSION", "STATISTICS", "OPERATOR",
    "COLUMN", "CONSTRAINT", "EXTENSION", "SCHEMA",
)  # fmt: skip
# Objects of the server or the whole database, and what reaches beyond it.
OUTSIDE_OBJECTS = {
    "FOREIGN DATA WRAPPER": REACHES_OUT, "USER MAPPING": REACHES_OUT,
    "DEFAULT PRIVILEGES": PRIVILEGES, "EVENT TRIGGER": SERVER_WIDE,
    "ACCESS METHOD": SERVER_WIDE, "LARGE OBJECT": SERVER_WIDE, "FOREIGN TABLE": REACHES_OUT,
    "DATABASE": SERVER_WIDE, "ROLE": SERVER_WIDE, "USER": SERVER_WIDE, "GROUP": SERVER_WIDE,
    "TABLESPACE": SERVER_WIDE, "SYSTEM": SERVER_WIDE, "SERVER": REACHES_OUT,
    "PUBLICATION": SERVER_WIDE, "SUBSCRIPTION": REACHES_OUT, "LANGUAGE": LOADS_CODE,
    "CAST": SERVER_WIDE, "TRANSFORM": SERVER_WIDE, "OWNED": SERVER_WIDE,
}  # fmt: skip
KINDS = sorted([*SCHEMA_OBJECTS, *OUTSIDE_OBJECTS], key=lambda k: -len(k.split()))
# Extensions that reach other servers or files, or run untrusted code.
OUTSIDE_EXTENSIONS = frozenset(
    {"dblink", "postgres_fdw", "file_fdw", "adminpack", "plpythonu", "plpython2u",
     "plpython3u", "plperlu", "pltclu", "pg_read_server_files"}
)  # fmt: skip
UNTRUSTED_LANGUAGES = frozenset(
    {"c", "internal", "plpythonu", "plpython2u", "plpython3u", "plperlu", "pltclu"}
)
# Session settings a desired schema may change (pg_dump's header among them).
SETTINGS = frozenset(
    {"search_path", "check_function_bodies", "client_encoding", "standard_conforming_strings",
     "client_min_messages", "default_tablespace", "default_table_access_method",
     "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout",
     "idle_session_timeout", "transaction_timeout", "xmloption", "row_security",
     "default_with_oids", "escape_string_warning", "datestyle", "intervalstyle", "timezone",
     "extra_float_digits", "default_toast_compression", "bytea_output"}
)  # fmt: skip
SETTING_REASON = (
    "only these session settings may be changed: search_path (within the scope),"
    " client_encoding, check_function_bodies, client_min_messages, timeouts and the"
    " other lines of pg_dump's header"
)
# Where other objects are named in a definition.
REFERENCE_KEYWORDS = ("REFERENCES", "PARTITION OF", "ATTACH PARTITION", "DETACH PARTITION")


def tokens_of(sql: str) -> list[Token]:
    return head_tokens(sql, limit=1_000_000, quotes='"', dollar_quotes=True)


def fold(token: Token) -> str:
    """PostgreSQL folds unquoted names to lower case."""
    return token.text.lower() if token.kind == "word" else token.text


def refusal(sql: str, scope: Scope) -> Refusal | None:
    tokens = tokens_of(sql)
    if not tokens:
        return None
    if ends_early(tokens):
        # The server runs every statement of a simple query: each must be judged alone.
        return Refusal(
            "a second statement after a semicolon in the same statement",
            "the sandbox judges one statement at a time (end each statement with ';')",
        )
    head = tokens[0].word
    if head in ("CREATE", "ALTER", "DROP"):
        return ddl_refusal(tokens, scope)
    if head == "COMMENT" and len(tokens) > 1 and tokens[1].word == "ON":
        return object_refusal(tokens, 2, scope, "COMMENT ON")
    if head in ("SET", "RESET"):
        return setting_refusal(tokens, scope)
    if head == "SELECT" and set_config_call(tokens) is not None:
        name, value = set_config_call(tokens) or ("", "")
        return value_refusal(name, [value], scope, f"SELECT set_config('{name}', …)")
    if head in TRANSACTION_HEADS:
        if len(tokens) > 1 and tokens[1].word == "PREPARED":
            return Refusal(label(tokens, 2))
        return None
    if head in ("GRANT", "REVOKE"):
        return Refusal(head, PRIVILEGES)
    if head == "LOAD":
        return Refusal(head, LOADS_CODE)
    if head == "COPY":
        return Refusal(head, f"{DEFINES_ONLY}; COPY moves data, to or from files and programs")
    if tokens[0].text == "\\" and len(tokens) > 1:
        return Refusal(
            f"the psql command \\{tokens[1].text}",
            "psql meta-commands are not SQL (remove pg_dump's \\restrict and \\unrestrict lines)",
        )
    return Refusal(label(tokens) if tokens[0].kind == "word" else f'"{tokens[0].text}"')


def ends_early(tokens: Sequence[Token]) -> bool:
    """Whether a `;` outside parentheses, strings and `BEGIN ATOMIC … END` bodies is
    followed by more tokens (the splitter and the server disagree on the statement)."""
    blocks = 0
    for index, depth in depth_walk(tokens):
        token = tokens[index]
        opens = token.word == "ATOMIC" and index > 0 and tokens[index - 1].word == "BEGIN"
        if opens or (blocks and token.word == "CASE"):
            blocks += 1
        elif blocks and token.word == "END":
            blocks -= 1
        elif token.kind == "punct" and token.text == ";" and depth == 0 and not blocks:
            return any(not (t.kind == "punct" and t.text == ";") for t in tokens[index + 1 :])
    return False


def ddl_refusal(tokens: Sequence[Token], scope: Scope) -> Refusal | None:
    head = tokens[0].word
    i = 1
    if head == "CREATE":
        while i < len(tokens) and tokens[i].word in CREATE_MODIFIERS:
            i += 1
    return object_refusal(tokens, i, scope, head)


def kind_at(tokens: Sequence[Token], i: int) -> tuple[str | None, int]:
    for kind in KINDS:
        words = kind.split()
        if all(i + k < len(tokens) and tokens[i + k].word == w for k, w in enumerate(words)):
            return kind, i + len(words)
    return None, i


def object_refusal(tokens: Sequence[Token], i: int, scope: Scope, verb: str) -> Refusal | None:
    """`verb` (CREATE, ALTER, DROP, COMMENT ON) of the object kind at token `i`."""
    kind, i = kind_at(tokens, i)
    if kind is None:
        return Refusal(label(tokens, 2), UNKNOWN_KIND)
    if kind == "EVENT TRIGGER" and scope.bound is None:
        # A database's event triggers belong to a realm-scope desired state: loaded
        # disabled on the dev database (`for_dev`), so they never run there.
        return None
    if kind in OUTSIDE_OBJECTS:
        return Refusal(f"{verb} {kind}", OUTSIDE_OBJECTS[kind])
    i = skip_words(tokens, i, ("CONCURRENTLY",), ("IF", "NOT", "EXISTS"), ("IF", "EXISTS"))
    i = skip_words(tokens, i, ("ONLY",))
    if kind == "SCHEMA":
        return schema_statement_refusal(tokens, i, scope, verb)
    if kind == "EXTENSION":
        name, _ = read_name(tokens, i, fold)
        if verb == "CREATE" and name and name[-1] in OUTSIDE_EXTENSIONS:
            return Refusal(f"CREATE EXTENSION {name[-1]}", REACHES_OUT)
        return first_refusal(schema_name_refusal(s, scope) for s in extension_schemas(tokens))
    if verb == "CREATE" and kind == "TABLE" and creates_with_query(tokens, i):
        return Refusal("CREATE TABLE … AS", RUNS_QUERY + ": add WITH NO DATA")
    # CREATE MATERIALIZED VIEW … [WITH DATA] is loaded WITH NO DATA (`for_dev`).
    if verb == "CREATE" and kind in ("FUNCTION", "PROCEDURE"):
        language = routine_language(tokens)
        if language in UNTRUSTED_LANGUAGES:
            return Refusal(f"a {kind.lower()} in LANGUAGE {language}", LOADS_CODE)
    return first_refusal(
        name_refusal(name, scope, kind) for name in defined_names(tokens, i, kind, verb)
    )


def first_refusal(refusals: Iterator[Refusal | None]) -> Refusal | None:
    return next((r for r in refusals if r is not None), None)


def defined_names(
    tokens: Sequence[Token], i: int, kind: str, verb: str
) -> Iterator[tuple[str, ...]]:
    """Every name the statement defines or points at."""
    if kind == "INDEX" and verb == "CREATE":
        if i < len(tokens) and tokens[i].word != "ON":
            name, i = read_name(tokens, i, fold)
            yield name
    elif verb == "DROP":
        yield from name_list(tokens, i)
    else:
        name, i = read_name(tokens, i, fold)
        yield name
    if kind in ("INDEX", "TRIGGER", "POLICY", "RULE", "CONSTRAINT"):
        on = top_level_word(tokens, "ON", i)
        if on >= 0:
            at = skip_words(tokens, on + 1, ("DOMAIN",), ("ONLY",))
            if kind == "RULE" and verb == "CREATE":  # AS ON event TO table
                to = top_level_word(tokens, "TO", on)
                at = to + 1 if to >= 0 else at
            yield read_name(tokens, at, fold)[0]
    yield from names_after(tokens, REFERENCE_KEYWORDS, fold)
    yield from inherited(tokens)
    for schema in names_after(tokens, ("SET SCHEMA",), fold):
        yield (*schema, "")  # a schema named on its own, as the qualifier of a name


def name_list(tokens: Sequence[Token], i: int) -> Iterator[tuple[str, ...]]:
    """`a, b.c(int, text), d` of a DROP statement."""
    while i < len(tokens):
        name, i = read_name(tokens, i, fold)
        if not name:
            return
        yield name
        if i < len(tokens) and tokens[i].text == "(":
            depth = 0
            while i < len(tokens):
                if tokens[i].kind == "punct":
                    depth += {"(": 1, ")": -1}.get(tokens[i].text, 0)
                i += 1
                if depth == 0:
                    break
        if i < len(tokens) and tokens[i].kind == "punct" and tokens[i].text == ",":
            i += 1
            continue
        return


def inherited(tokens: Sequence[Token]) -> Iterator[tuple[str, ...]]:
    at = top_level_word(tokens, "INHERITS")
    if at < 0 or at + 1 >= len(tokens) or tokens[at + 1].text != "(":
        return
    yield from name_list(tokens, at + 2)


def name_refusal(name: tuple[str, ...], scope: Scope, kind: str) -> Refusal | None:
    parts = name[:-1] if kind == "COLUMN" else name
    if len(parts) >= 3:
        return Refusal(f"the name {shown(name)}", "it is qualified with a database")
    if len(parts) == 2:
        return schema_refusal(parts[0], scope, SYSTEM_SCHEMAS, name=name)
    return None


def schema_name_refusal(schema: str, scope: Scope) -> Refusal | None:
    return schema_refusal(schema, scope, SYSTEM_SCHEMAS)


def schema_statement_refusal(
    tokens: Sequence[Token], i: int, scope: Scope, verb: str
) -> Refusal | None:
    """CREATE/ALTER/DROP/COMMENT ON SCHEMA: only schemas of the scope (in schema scope,
    only the bound schema itself)."""
    if verb == "CREATE" and i < len(tokens) and tokens[i].word == "AUTHORIZATION":
        i += 1  # CREATE SCHEMA AUTHORIZATION role: the schema is named after the role
    names = list(name_list(tokens, i)) if verb == "DROP" else [read_name(tokens, i, fold)[0]]
    renamed = names_after(tokens, ("RENAME TO",), fold) if verb == "ALTER" else iter(())
    for name in [*names, *renamed]:
        if len(name) != 1:
            return Refusal(f"the schema name {shown(name)}", "it is qualified with a database")
        found = schema_name_refusal(name[0], scope)
        if found is not None:
            return found
    return None


def extension_schemas(tokens: Sequence[Token]) -> Iterator[str]:
    for name in names_after(tokens, ("SCHEMA",), fold):
        yield name[0]


def creates_with_query(tokens: Sequence[Token], i: int) -> bool:
    """CREATE TABLE … AS query (or EXECUTE), unless it ends WITH NO DATA."""
    return top_level_word(tokens, "AS", i) >= 0 and not with_no_data(tokens)


def with_no_data(tokens: Sequence[Token]) -> bool:
    words = [t.word for t in tokens if not (t.kind == "punct" and t.text == ";")]
    return words[-3:] == ["WITH", "NO", "DATA"]


WITH_DATA_TAIL = re.compile(r"\s+WITH\s+DATA\s*;?\s*$", re.IGNORECASE)


EVENT_TRIGGER_STATES = {
    ("DISABLE",): "D",
    ("ENABLE",): "O",
    ("ENABLE", "REPLICA"): "R",
    ("ENABLE", "ALWAYS"): "A",
}


def event_trigger_statement(tokens: Sequence[Token]) -> tuple[str, str, str | None] | None:
    """(verb, name, state) of CREATE/ALTER EVENT TRIGGER (`state` for ENABLE/DISABLE)."""
    words = [t.word for t in tokens if not (t.kind == "punct" and t.text == ";")]
    if len(words) < 4 or words[0] not in ("CREATE", "ALTER") or words[1:3] != ["EVENT", "TRIGGER"]:
        return None
    name = tokens[3].text
    state = EVENT_TRIGGER_STATES.get(tuple(words[4:6])) or EVENT_TRIGGER_STATES.get(
        tuple(words[4:5])
    )
    return words[0], name, state


def event_trigger_states(statements: Sequence[str]) -> dict[str, str]:
    """The state each event trigger of a desired state ends in (`O` when created),
    keyed by the name as written."""
    states: dict[str, str] = {}
    for sql in statements:
        found = event_trigger_statement(tokens_of(sql))
        if found is None:
            continue
        verb, name, state = found
        if verb == "CREATE":
            states[name] = "O"
        elif state is not None:
            states[name] = state
    return states


def for_dev(sql: str) -> str:
    """A materialized view is created on the dev database WITH NO DATA: its query never
    runs there (it could call the desired state's own functions), and the target's
    view is filled when created, whatever the desired state says. An event trigger is
    disabled in the same round trip that creates it, and stays so (its state is taken
    from the desired SQL, `event_trigger_states`): it never fires on the dev database."""
    tokens = tokens_of(sql)
    event = event_trigger_statement(tokens)
    if event is not None:
        verb, name, state = event
        if verb == "CREATE":
            return f"{sql.rstrip().rstrip(';')};\nALTER EVENT TRIGGER {name} DISABLE"
        if state is not None:
            return f"ALTER EVENT TRIGGER {name} DISABLE"
    if [t.word for t in tokens[:3]] != ["CREATE", "MATERIALIZED", "VIEW"] or with_no_data(tokens):
        return sql
    return WITH_DATA_TAIL.sub("", sql.rstrip().rstrip(";")) + " WITH NO DATA"


def routine_language(tokens: Sequence[Token]) -> str | None:
    at = top_level_word(tokens, "LANGUAGE")
    if at < 0 or at + 1 >= len(tokens):
        return None
    return tokens[at + 1].text.lower()


# --- session settings ----------------------------------------------------------------------


def setting_refusal(tokens: Sequence[Token], scope: Scope) -> Refusal | None:
    """SET [SESSION | LOCAL] name {TO | =} value, SET TIME ZONE v, RESET name."""
    head = tokens[0].word
    i = skip_words(tokens, 1, ("SESSION",), ("LOCAL",))
    if i < len(tokens) and tokens[i].word in ("ROLE", "AUTHORIZATION", "TRANSACTION"):
        return Refusal(label(tokens, i + 1), SETTING_REASON)
    if starts_at(tokens, i, "TIME", "ZONE"):
        return None if head == "SET" else Refusal(label(tokens, 3), SETTING_REASON)
    name, i = read_name(tokens, i, fold)
    if len(name) != 1 or name[0] not in SETTINGS:
        return Refusal(label(tokens, 1) + (f" {'.'.join(name)}" if name else ""), SETTING_REASON)
    if head == "RESET":
        return None
    i = skip_words(tokens, i, ("TO",))
    if i < len(tokens) and tokens[i].text == "=":
        i += 1
    values = [t.text if t.kind != "word" else fold(t) for t in tokens[i:] if t.kind != "punct"]
    return value_refusal(name[0], values, scope, f"SET {name[0]}")


def starts_at(tokens: Sequence[Token], i: int, *words: str) -> bool:
    return all(i + k < len(tokens) and tokens[i + k].word == w for k, w in enumerate(words))


def value_refusal(name: str, values: list[str], scope: Scope, subject: str) -> Refusal | None:
    if name not in SETTINGS:
        return Refusal(subject, SETTING_REASON)
    if name == "default_tablespace" and any(v and v.lower() != "default" for v in values):
        return Refusal(subject, "tablespaces are outside the dev database's schemas")
    if name == "standard_conforming_strings" and [v.lower() for v in values] != ["on"]:
        # Off, backslashes would end strings where the statement splitter does not.
        return Refusal(subject, "only standard_conforming_strings = on is allowed")
    if name == "search_path":
        schemas = [s.strip() for v in values for s in v.split(",")]
        for schema in schemas:
            unquoted = schema.strip('"')
            if unquoted in ("", "pg_catalog", "pg_temp") or (
                unquoted == "$user" and scope.bound is None
            ):
                continue
            found = schema_refusal(unquoted, scope, SYSTEM_SCHEMAS)
            if found is not None:
                return Refusal(subject, f"the search path leaves the scope: {found.reason}")
    return None


def set_config_call(tokens: Sequence[Token]) -> tuple[str, str] | None:
    """pg_dump's `SELECT pg_catalog.set_config('search_path', '', false)`: (name, value)."""
    name, i = read_name(tokens, 1, fold)
    if name not in (("set_config",), ("pg_catalog", "set_config")):
        return None
    rest = [t for t in tokens[i:] if not (t.kind == "punct" and t.text == ";")]
    shape = [t.text if t.kind == "punct" else t.kind for t in rest]
    if shape != ["(", "string", ",", "string", ",", "word", ")"]:
        return None
    if rest[5].word not in ("FALSE", "TRUE"):
        return None
    return rest[1].text.lower(), rest[3].text


# --- what the database enforces ------------------------------------------------------------


@contextmanager
def sandboxed(session: Session, scope: Scope) -> Iterator[None]:
    """`SET ROLE <sandbox_role>` for the load when the dev URL names one (a role that may
    create objects in the dev database only), `RESET ROLE` afterwards."""
    role = session.url.params.get(SANDBOX_ROLE_PARAM)
    if not role:
        yield
        return
    session.execute(f"SET ROLE {quote(role)}")
    try:
        yield
    finally:
        try:
            session.rollback()
            session.execute("RESET ROLE")
        except DatabaseError:
            session.close()  # never hand the connection on with the restricted role
            raise


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
