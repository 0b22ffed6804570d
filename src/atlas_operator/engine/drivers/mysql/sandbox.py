"""What a MySQL/MariaDB desired state may run on the dev database (engine/sandbox.py).

Allowed: CREATE/ALTER/DROP of tables, indexes, views, functions, procedures, triggers,
sequences and events (loaded disabled, `for_dev`), RENAME TABLE, CREATE/ALTER DATABASE of a
database in scope (the bound one in schema scope), session settings of mysqldump's
header (also inside `/*!40101 … */`), user variables with plain values, and plain
transaction control. Database-qualified names outside the scope are refused wherever
they are defined or referenced (REFERENCES, LIKE, ON, RENAME … TO, EXCHANGE PARTITION …
WITH TABLE), as are tables of engines that reach other servers or files
(FEDERATED, CONNECT, SPIDER, MERGE, `CONNECTION=`, `DATA/INDEX DIRECTORY`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from atlas_operator.engine.drivers.base import DatabaseError, Scope, Session
from atlas_operator.engine.drivers.mysql.body import Lexeme, lex
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
from atlas_operator.engine.sqlhead import Token, find_word, head_tokens, skip_words

SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
OBJECTS = ("TABLE", "INDEX", "VIEW", "FUNCTION", "PROCEDURE", "TRIGGER", "EVENT", "SEQUENCE")
DATABASE_KINDS = ("DATABASE", "SCHEMA")
OUTSIDE_OBJECTS = {
    "LOGFILE GROUP": SERVER_WIDE, "RESOURCE GROUP": SERVER_WIDE,
    "SPATIAL REFERENCE SYSTEM": SERVER_WIDE, "UNDO TABLESPACE": SERVER_WIDE,
    "USER": SERVER_WIDE, "ROLE": SERVER_WIDE, "SERVER": REACHES_OUT,
    "TABLESPACE": SERVER_WIDE, "INSTANCE": SERVER_WIDE, "PACKAGE": DEFINES_ONLY,
}  # fmt: skip
KINDS = sorted([*OBJECTS, *DATABASE_KINDS, *OUTSIDE_OBJECTS], key=lambda k: -len(k.split()))
MODIFIERS = frozenset(
    {"OR", "REPLACE", "TEMPORARY", "UNIQUE", "FULLTEXT", "SPATIAL", "ONLINE", "OFFLINE",
     "AGGREGATE", "IGNORE"}
)  # fmt: skip
OUTSIDE_ENGINES = frozenset(
    {"FEDERATED", "FEDERATEDX", "CONNECT", "SPIDER", "MERGE", "MRG_MYISAM", "MRG_MYSIAM"}
)
# Session variables of mysqldump's header (and a few more a schema file may set).
SETTINGS = frozenset(
    {"character_set_client", "character_set_results", "character_set_connection",
     "collation_connection", "time_zone", "unique_checks", "foreign_key_checks", "sql_mode",
     "sql_notes", "note_verbosity", "sql_quote_show_create", "default_storage_engine",
     "storage_engine", "check_constraint_checks", "sql_warnings", "innodb_strict_mode",
     "explicit_defaults_for_timestamp", "default_tmp_storage_engine", "lock_wait_timeout",
     "sql_require_primary_key"}
)  # fmt: skip
SETTING_REASON = (
    "only session settings of mysqldump's header (NAMES, character_set_client,"
    " foreign_key_checks, sql_mode, time_zone, …) and user variables with plain values"
    " may be set"
)
TRANSACTION_HEADS = frozenset({"START", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})


def tokens_of(sql: str) -> list[Token]:
    return head_tokens(
        sql, limit=1_000_000, hash_comments=True, quotes='`"', executable_comments=True
    )


def fold(token: Token) -> str:
    """Database names are compared as written (case-sensitive on most servers)."""
    return token.text


def refusal(sql: str, scope: Scope) -> Refusal | None:
    tokens = tokens_of(sql)
    if not tokens:
        return None
    head = tokens[0].word
    if head in ("CREATE", "ALTER", "DROP"):
        return ddl_refusal(tokens, scope)
    if head == "RENAME":
        if len(tokens) > 1 and tokens[1].word == "TABLE":
            return names_refusal(rename_names(tokens, 2), scope)
        return Refusal(label(tokens, 2), SERVER_WIDE)
    if head == "SET":
        return setting_refusal(tokens)
    if head == "BEGIN":
        # BEGIN NOT ATOMIC … END runs its statements (MariaDB's anonymous block).
        plain = len(tokens) == 1 or tokens[1].word == "WORK" or tokens[1].text == ";"
        return None if plain else Refusal("BEGIN NOT ATOMIC", DEFINES_ONLY)
    if head in TRANSACTION_HEADS:
        return None
    if head in ("GRANT", "REVOKE"):
        return Refusal(head, PRIVILEGES.replace("pg_dump --no-privileges --no-owner", "mysqldump"))
    if head == "LOAD":
        return Refusal(label(tokens, 2), REACHES_OUT)
    if head in ("INSTALL", "UNINSTALL"):
        return Refusal(label(tokens, 2), LOADS_CODE)
    if head == "USE":
        return Refusal("USE", "it switches the session to another database")
    if head in ("SELECT", "WITH", "TABLE", "VALUES") and find_word(tokens, "INTO") > 0:
        into = find_word(tokens, "INTO")
        target = tokens[into + 1].word if into + 1 < len(tokens) else ""
        if target in ("OUTFILE", "DUMPFILE"):
            return Refusal(f"{head} … INTO {target}", REACHES_OUT)
    return Refusal(label(tokens) if tokens[0].kind == "word" else f'"{tokens[0].text}"')


def skip_modifiers(tokens: Sequence[Token], i: int) -> int:
    """OR REPLACE, TEMPORARY, UNIQUE, ALGORITHM = x, DEFINER = user@host, SQL SECURITY x."""
    while i < len(tokens):
        word = tokens[i].word
        if word in MODIFIERS:
            i += 1
        elif word == "ALGORITHM" or (word == "SQL" and starts_at(tokens, i + 1, "SECURITY")):
            i += 3  # ALGORITHM = x, SQL SECURITY x
        elif word == "DEFINER":
            i = definer_end(tokens, i + 1)
        else:
            return i
    return i


def definer_end(tokens: Sequence[Token], i: int) -> int:
    if i < len(tokens) and tokens[i].text == "=":
        i += 1
    i += 1  # the user (or CURRENT_USER)
    at_host = i < len(tokens) and tokens[i].text == "@"
    call = i + 1 < len(tokens) and tokens[i].text == "(" and tokens[i + 1].text == ")"
    return i + 2 if at_host or call else i


def starts_at(tokens: Sequence[Token], i: int, *words: str) -> bool:
    return all(i + k < len(tokens) and tokens[i + k].word == w for k, w in enumerate(words))


def kind_at(tokens: Sequence[Token], i: int) -> tuple[str | None, int]:
    for kind in KINDS:
        words = kind.split()
        if all(i + k < len(tokens) and tokens[i + k].word == w for k, w in enumerate(words)):
            return kind, i + len(words)
    return None, i


def ddl_refusal(tokens: Sequence[Token], scope: Scope) -> Refusal | None:
    verb = tokens[0].word
    kind, i = kind_at(tokens, skip_modifiers(tokens, 1))
    if kind is None:
        return Refusal(label(tokens, 2), UNKNOWN_KIND)
    if kind in OUTSIDE_OBJECTS:
        return Refusal(f"{verb} {kind}", OUTSIDE_OBJECTS[kind])
    i = skip_words(tokens, i, ("IF", "NOT", "EXISTS"), ("IF", "EXISTS"))
    if kind in DATABASE_KINDS:
        return database_refusal(tokens, i, scope, verb, kind)
    if kind == "FUNCTION" and find_word(tokens, "SONAME") > 0:
        return Refusal(f"{verb} FUNCTION … SONAME", LOADS_CODE)
    if kind == "TABLE" and verb in ("CREATE", "ALTER"):
        found = table_options_refusal(tokens, i, verb)
        if found is not None:
            return found
    # An event is loaded disabled on the dev database (`for_dev`): it never runs there.
    return names_refusal(defined_names(tokens, i, kind, verb), scope)


def table_options_refusal(tokens: Sequence[Token], i: int, verb: str) -> Refusal | None:
    if verb == "CREATE" and find_word(tokens, "SELECT", i) >= 0:
        return Refusal("CREATE TABLE … SELECT", RUNS_QUERY)
    for index, depth in depth_walk(tokens, i):
        word = tokens[index].word
        if depth > 0 and word != "DIRECTORY":
            continue
        if word == "ENGINE":
            at = index + 1 + (index + 1 < len(tokens) and tokens[index + 1].text == "=")
            engine = tokens[at].text.upper() if at < len(tokens) else ""
            if engine in OUTSIDE_ENGINES:
                return Refusal(f"a table of ENGINE={engine}", REACHES_OUT)
        if word == "CONNECTION":
            return Refusal("a table with CONNECTION=", REACHES_OUT)
        if word == "DIRECTORY" and index > 0 and tokens[index - 1].word in ("DATA", "INDEX"):
            return Refusal(f"{tokens[index - 1].word} DIRECTORY", REACHES_OUT)
    return None


def database_refusal(
    tokens: Sequence[Token], i: int, scope: Scope, verb: str, kind: str
) -> Refusal | None:
    if verb == "DROP":
        return Refusal(f"DROP {kind}", "a desired schema never drops a database")
    name, _ = read_name(tokens, i, fold)
    if not name or tokens[i].word in ("CHARACTER", "CHARSET", "COLLATE", "DEFAULT", "COMMENT"):
        return None  # ALTER DATABASE without a name: the session's (bound) database
    if len(name) != 1:
        return Refusal(f"the database name {shown(name)}", "it is not a database name")
    return schema_refusal(name[0], scope, SYSTEM_DATABASES, noun="database")


def defined_names(
    tokens: Sequence[Token], i: int, kind: str, verb: str
) -> Iterator[tuple[str, ...]]:
    if kind == "INDEX":
        name, i = read_name(tokens, i, fold)
        on = find_word(tokens, "ON", i)
        if on > 0:
            yield read_name(tokens, on + 1, fold)[0]
    elif verb == "DROP":
        while i < len(tokens):
            name, i = read_name(tokens, i, fold)
            if not name:
                break
            yield name
            if not (i < len(tokens) and tokens[i].text == ","):
                break
            i += 1
    else:
        name, i = read_name(tokens, i, fold)
        yield name
        if kind == "TRIGGER":
            on = top_level_word(tokens, "ON", i)
            if on > 0:
                yield read_name(tokens, on + 1, fold)[0]
    if kind == "TABLE":
        yield from names_after(tokens, ("REFERENCES", "LIKE", "WITH TABLE"), fold)
    if verb == "ALTER":
        yield from renamed_to(tokens, i)


def renamed_to(tokens: Sequence[Token], i: int) -> Iterator[tuple[str, ...]]:
    """`ALTER TABLE t RENAME [TO | AS] db.t2` and `ALTER EVENT e RENAME TO db.e2`."""
    for index, depth in depth_walk(tokens, i):
        if depth == 0 and tokens[index].word == "RENAME":
            at = skip_words(tokens, index + 1, ("TO",), ("AS",))
            if at < len(tokens) and tokens[at].word not in ("COLUMN", "INDEX", "KEY", "CONSTRAINT"):
                yield read_name(tokens, at, fold)[0]


def rename_names(tokens: Sequence[Token], i: int) -> Iterator[tuple[str, ...]]:
    """`RENAME TABLE a TO b, c TO d`."""
    while i < len(tokens):
        name, i = read_name(tokens, i, fold)
        if not name:
            return
        yield name
        if i < len(tokens) and (tokens[i].word == "TO" or tokens[i].text == ","):
            i += 1
            continue
        return


def names_refusal(names: Iterator[tuple[str, ...]], scope: Scope) -> Refusal | None:
    for name in names:
        if len(name) > 2:
            return Refusal(f"the name {shown(name)}", "it is not a database.object name")
        if len(name) == 2:
            found = schema_refusal(name[0], scope, SYSTEM_DATABASES, name=name, noun="database")
            if found is not None:
                return found
    return None


# --- session settings ----------------------------------------------------------------------


def setting_refusal(tokens: Sequence[Token]) -> Refusal | None:
    """`SET NAMES x`, `SET CHARACTER SET x`, and assignments of allow-listed session
    variables or user variables to plain values (no calls, no subqueries)."""
    second = tokens[1].word if len(tokens) > 1 else ""
    if any(t.kind == "punct" and t.text == "(" for t in tokens) or find_word(tokens, "SELECT") > 0:
        return Refusal("SET with an expression", SETTING_REASON)
    if second in ("NAMES", "CHARSET") or (
        second == "CHARACTER" and len(tokens) > 2 and tokens[2].word == "SET"
    ):
        return None
    for name in assigned(tokens):
        if name.startswith("@") and not name.startswith("@@"):
            continue  # a user variable of the session
        plain = name.lower().removeprefix("@@")
        for scope in ("session.", "local."):
            plain = plain.removeprefix(scope)
        if plain not in SETTINGS:
            return Refusal(f"SET {name}", SETTING_REASON)
    return None


def assigned(tokens: Sequence[Token]) -> Iterator[str]:
    """The variable of each `name = value` of a SET list (`@@session.x`, `@v`, `x`);
    GLOBAL, PERSIST, ROLE, PASSWORD… stay in the name, so that it is refused."""
    i = 1
    while i < len(tokens):
        start = i
        while i < len(tokens) and not (tokens[i].kind == "punct" and tokens[i].text in "=:"):
            i += 1
        parts = [t.text for t in tokens[start:i] if t.word not in ("SESSION", "LOCAL")]
        yield " ".join(parts).replace(" . ", ".") or "?"
        while i < len(tokens) and not (tokens[i].kind == "punct" and tokens[i].text == ","):
            i += 1
        i += 1


# --- what the database enforces ------------------------------------------------------------


@contextmanager
def sandboxed(session: Session, scope: Scope) -> Iterator[None]:
    """`SET ROLE <sandbox_role>` for the load when the dev URL names one. It restricts the
    load only when the dev account's own grants are narrow and its power comes from
    roles (MySQL 8 and MariaDB add a user's direct privileges to the active role's)."""
    role = session.url.params.get(SANDBOX_ROLE_PARAM)
    if not role:
        yield
        return
    previous = session.query("SELECT CURRENT_ROLE()")
    session.execute(f"SET ROLE {quote(role)}")
    try:
        yield
    finally:
        try:
            restore_role(session, previous[0][0] if previous else None)
        except DatabaseError:
            session.close()  # never hand the connection on with the restricted role
            raise


def restore_role(session: Session, previous: object) -> None:
    flavor = getattr(session, "flavor", "mysql")
    if flavor == "mysql":
        session.execute("SET ROLE DEFAULT")
    elif previous in (None, "NONE", b"NONE"):
        session.execute("SET ROLE NONE")
    else:
        text = previous.decode() if isinstance(previous, bytes) else str(previous)
        session.execute(f"SET ROLE {quote(text)}")


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


# --- events: loaded disabled -----------------------------------------------------------------

EVENT_STATUS = {"ENABLE": "ENABLED", "DISABLE": "DISABLED"}
REPLICA_STATUS = "SLAVESIDE_DISABLED"


@dataclass(frozen=True)
class EventStatement:
    """CREATE/ALTER/DROP EVENT, as far as its status goes. Indexes are into `pieces`
    (body.lex of the statement, spaces and comments included)."""

    verb: str
    name: tuple[str, ...]
    pieces: list[Lexeme]
    status: str | None
    """ENABLED, DISABLED or SLAVESIDE_DISABLED when the statement sets one."""
    status_span: tuple[int, int] | None
    """The pieces of the status clause (`ENABLE`, `DISABLE ON SLAVE`)."""
    insert_at: int | None
    """Where a status clause goes when there is none (before COMMENT or DO)."""
    renamed: tuple[str, ...] | None = None


def event_statement(sql: str) -> EventStatement | None:
    """The event statement `sql` is, or None for any other statement."""
    pieces = list(lex(sql))
    code = [i for i, p in enumerate(pieces) if p.kind not in ("space", "comment")]
    words = [pieces[i].text.upper() if pieces[i].kind == "word" else "" for i in code]
    if not words or words[0] not in ("CREATE", "ALTER", "DROP"):
        return None
    k = 1
    while k < len(words) and words[k] in ("OR", "REPLACE"):
        k += 1
    if k < len(words) and words[k] == "DEFINER" and "EVENT" in words[k:12]:
        k = words.index("EVENT", k)  # past `DEFINER = user@host`
    if k >= len(words) or words[k] != "EVENT":
        return None
    k += 1
    while k < len(words) and words[k] in ("IF", "NOT", "EXISTS"):
        k += 1
    name, k = dotted_name(pieces, code, k)
    status: str | None = None
    span: tuple[int, int] | None = None
    insert_at: int | None = None
    renamed: tuple[str, ...] | None = None
    while k < len(code):
        word = words[k]
        if word == "DO":
            insert_at = code[k] if insert_at is None else insert_at
            break
        if word == "COMMENT" and insert_at is None:
            insert_at = code[k]
        elif word == "RENAME" and k + 1 < len(words) and words[k + 1] == "TO":
            renamed, k = dotted_name(pieces, code, k + 2)
            continue
        elif word in EVENT_STATUS:
            end = k
            if word == "DISABLE" and k + 2 < len(words) and words[k + 1] == "ON":
                end = k + 2  # DISABLE ON SLAVE | REPLICA
            status = REPLICA_STATUS if end > k else EVENT_STATUS[word]
            span = (code[k], code[end])
            k = end
        k += 1
    return EventStatement(words[0], name, pieces, status, span, insert_at, renamed)


def dotted_name(pieces: list[Lexeme], code: list[int], k: int) -> tuple[tuple[str, ...], int]:
    """The name at code position `k` (`e`, `` `db`.`e` ``) and the position after it."""
    parts: list[str] = []
    while k < len(code) and pieces[code[k]].name is not None:
        parts.append(pieces[code[k]].name or "")
        if k + 1 < len(code) and pieces[code[k + 1]].text == ".":
            k += 2
            continue
        k += 1
        break
    return tuple(parts), k


def for_dev(sql: str) -> str:
    """An event is created (or altered) DISABLE on the dev database, so it never runs
    its statement there; `event_states` gives back the status the desired SQL wrote."""
    event = event_statement(sql)
    if event is None or event.verb == "DROP":
        return sql
    pieces = [p.text for p in event.pieces]
    if event.status_span is not None:
        start, end = event.status_span
        return "".join([*pieces[:start], "DISABLE", *pieces[end + 1 :]])
    if event.verb == "CREATE" and event.insert_at is not None:
        at = event.insert_at
        return "".join([*pieces[:at], "DISABLE ", *pieces[at:]])
    return sql


EventKey = tuple[str | None, str]
"""(database when the statement names one, lower-cased event name)."""


def event_key(name: tuple[str, ...]) -> EventKey:
    schema = name[-2] if len(name) > 1 else None
    return (schema, name[-1].lower() if name else "")


def event_states(statements: Sequence[str]) -> dict[EventKey, str]:
    """The status each event of a desired state ends in, from its statements in order
    (ENABLED when created without one, as the server does)."""
    states: dict[EventKey, str] = {}
    for sql in statements:
        event = event_statement(sql)
        if event is None:
            continue
        key = event_key(event.name)
        if event.verb == "DROP":
            states.pop(key, None)
            continue
        if event.verb == "CREATE":
            states[key] = event.status or "ENABLED"
        elif event.status is not None:
            states[key] = event.status
        if event.renamed and key in states:
            states[event_key(event.renamed)] = states.pop(key)
    return states
