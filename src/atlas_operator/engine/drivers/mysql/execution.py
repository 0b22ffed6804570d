"""How MySQL/MariaDB migration statements behave around transactions, and how to tell
after a crash whether one that commits on its own took effect.

DDL, account management and administration statements commit implicitly, so they can
never share a transaction with the executor's progress record. For those we fingerprint
the catalog definition of every object the statement names (SHOW CREATE TABLE, the
information_schema rows of views, routines, triggers, events, databases) before running
it; after a crash, an unchanged fingerprint means it did not run. DDL on InnoDB is atomic
(MySQL 8, MariaDB 10.6+), so "half ran" is not a state we have to consider.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from atlas_operator.engine.drivers.base import DatabaseError, Session, StatementTraits
from atlas_operator.engine.drivers.traits import (
    OUTSIDE,
    REPEATABLE_OUTSIDE,
    SESSION_SETTING,
    TRANSACTIONAL,
    classify,
)
from atlas_operator.engine.sqlhead import (
    Token,
    find_word,
    head_tokens,
    name_list,
    qualified_name,
    skip_words,
    starts_with,
)

PLAIN_DML = re.compile(r"\s*(?:INSERT|UPDATE|DELETE|REPLACE)\s", re.IGNORECASE)

IMPLICIT_COMMIT_HEADS = {
    "ALTER", "CREATE", "DROP", "RENAME", "TRUNCATE", "GRANT", "REVOKE", "LOCK", "UNLOCK",
    "ANALYZE", "CACHE", "CHECK", "CHECKSUM", "FLUSH", "OPTIMIZE", "REPAIR", "RESET",
    "INSTALL", "UNINSTALL", "CHANGE", "STOP", "PURGE", "CALL", "EXECUTE", "XA",
}  # fmt: skip
# Leave the same state when run again: maintenance, locking, emptying a table.
REPEATABLE_HEADS = {
    "ANALYZE", "CACHE", "CHECK", "CHECKSUM", "FLUSH", "OPTIMIZE", "REPAIR", "RESET",
    "LOCK", "UNLOCK", "TRUNCATE", "PURGE",
}  # fmt: skip
OBJECT_KINDS = (
    "TABLE", "INDEX", "VIEW", "TRIGGER", "PROCEDURE", "FUNCTION", "EVENT", "DATABASE",
    "SCHEMA", "SEQUENCE",
)  # fmt: skip
NO_SUCH_TABLE = "Error 1146 "  # ER_NO_SUCH_TABLE, as the session words it
AUTO_INCREMENT = re.compile(r" AUTO_INCREMENT=\d+")


def tokens_of(sql: str) -> list[Token]:
    return head_tokens(sql, limit=64, hash_comments=True, quotes='`"', executable_comments=True)


def statement_traits(sql: str) -> StatementTraits:
    return classify(
        sql, plain_dml=PLAIN_DML, tokenize=tokens_of, control=transaction_control, rules=rules
    )


def rules(tokens: Sequence[Token]) -> StatementTraits:
    head = tokens[0].word
    if head == "SET":
        return set_traits(tokens)
    if head in ("PREPARE", "DEALLOCATE") or starts_with(tokens, "USE"):
        return SESSION_SETTING
    if head == "BEGIN":  # BEGIN NOT ATOMIC: MariaDB's anonymous compound statement
        return OUTSIDE
    if temporary_table(tokens):
        return TRANSACTIONAL
    if head not in IMPLICIT_COMMIT_HEADS:
        return TRANSACTIONAL
    return StatementTraits(transactional=False, repeatable=repeatable(tokens))


def transaction_control(tokens: Sequence[Token]) -> str | None:
    head = tokens[0].word
    second = tokens[1].word if len(tokens) > 1 else ""
    if (head == "BEGIN" and second in ("", "WORK")) or starts_with(tokens, "START", "TRANSACTION"):
        return "begin"
    if head == "COMMIT":
        return "commit"
    if head == "ROLLBACK" and find_word(tokens, "TO") < 0:
        return "rollback"
    return None


def set_traits(tokens: Sequence[Token]) -> StatementTraits:
    second = tokens[1].word if len(tokens) > 1 else ""
    if second == "PASSWORD" or (second == "ROLE" and find_word(tokens, "DEFAULT") > 0):
        return OUTSIDE  # account changes commit implicitly; no fingerprint for them
    if second in ("GLOBAL", "PERSIST", "PERSIST_ONLY") or (
        len(tokens) > 1 and tokens[1].text.upper().startswith("@@GLOBAL")
    ):
        return StatementTraits(repeatable=True)
    if second == "AUTOCOMMIT":
        return REPEATABLE_OUTSIDE
    if second == "TRANSACTION":
        return TRANSACTIONAL
    return SESSION_SETTING


def temporary_table(tokens: Sequence[Token]) -> bool:
    """CREATE/DROP TEMPORARY TABLE commit nothing and vanish with the session."""
    i = skip_words(tokens, 1, ("OR", "REPLACE"))
    return (
        tokens[0].word in ("CREATE", "DROP") and i < len(tokens) and (tokens[i].word == "TEMPORARY")
    )


def repeatable(tokens: Sequence[Token]) -> bool:
    head = tokens[0].word
    if head in REPEATABLE_HEADS:
        return True
    if head == "CREATE" and starts_with(tokens, "CREATE", "OR", "REPLACE"):
        return True
    at = find_word(tokens, "IF")
    guarded = at > 0 and at + 1 < len(tokens) and tokens[at + 1].word in ("EXISTS", "NOT")
    # `CREATE TABLE IF NOT EXISTS t SELECT …` may insert rows into an existing table.
    return guarded and head in ("CREATE", "DROP") and find_word(tokens, "SELECT") < 0


# --- which objects a statement changes -----------------------------------------------------


@dataclass(frozen=True)
class ObjectRef:
    kind: str
    """table (views and sequences too), trigger, procedure, function, event, database."""
    schema: str | None
    name: str


def affected_objects(sql: str) -> list[ObjectRef] | None:
    """The objects a DDL statement creates, changes or drops; None when it names none we
    can read back (accounts, plugins, anonymous blocks, CALL)."""
    tokens = tokens_of(sql)
    if not tokens:
        return None
    head = tokens[0].word
    if head == "RENAME" and len(tokens) > 1 and tokens[1].word == "TABLE":
        return rename_targets(tokens)
    if head == "TRUNCATE":
        name, _ = qualified_name(tokens, skip_words(tokens, 1, ("TABLE",)))
        return [table_ref(name)] if name else None
    if head not in ("CREATE", "ALTER", "DROP"):
        return None
    at = next((i for i, t in enumerate(tokens) if t.word in OBJECT_KINDS), -1)
    if at < 0:
        return None
    kind = tokens[at].word
    i = skip_words(tokens, at + 1, ("IF", "NOT", "EXISTS"), ("IF", "EXISTS"))
    if kind == "INDEX":
        on = find_word(tokens, "ON", i)
        table, _ = qualified_name(tokens, on + 1) if on > 0 else ((), 0)
        return [table_ref(table)] if table else None
    names = name_list(tokens, i) if head == "DROP" else [qualified_name(tokens, i)[0]]
    names = [n for n in names if n]
    if not names:
        return None
    return [object_ref(kind, name) for name in names]


def rename_targets(tokens: Sequence[Token]) -> list[ObjectRef]:
    refs, i = [], 2
    while i < len(tokens):
        name, i = qualified_name(tokens, i)
        if not name:
            break
        refs.append(table_ref(name))
        if (i < len(tokens) and tokens[i].word == "TO") or (
            i < len(tokens) and tokens[i].text == ","
        ):
            i += 1
            continue
        break
    return refs


def table_ref(name: tuple[str, ...]) -> ObjectRef:
    return object_ref("TABLE", name)


def object_ref(kind: str, name: tuple[str, ...]) -> ObjectRef:
    kind = {"VIEW": "table", "SEQUENCE": "table", "SCHEMA": "database"}.get(kind, kind.lower())
    if kind == "database":
        return ObjectRef(kind, None, name[-1])
    return ObjectRef(kind, name[-2] if len(name) > 1 else None, name[-1])


# --- reading them back ---------------------------------------------------------------------

SCHEMA = "COALESCE(%s, DATABASE())"
QUERIES = {
    "trigger": "SELECT EVENT_MANIPULATION, EVENT_OBJECT_TABLE, ACTION_TIMING, ACTION_STATEMENT"
    f" FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {SCHEMA} AND TRIGGER_NAME = %s",
    "procedure": "SELECT ROUTINE_DEFINITION, LAST_ALTERED, SQL_MODE, SECURITY_TYPE,"
    " ROUTINE_COMMENT FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = 'PROCEDURE'"
    f" AND ROUTINE_SCHEMA = {SCHEMA} AND ROUTINE_NAME = %s",
    "function": "SELECT ROUTINE_DEFINITION, LAST_ALTERED, SQL_MODE, SECURITY_TYPE,"
    " ROUTINE_COMMENT FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = 'FUNCTION'"
    f" AND ROUTINE_SCHEMA = {SCHEMA} AND ROUTINE_NAME = %s",
    "event": "SELECT EVENT_DEFINITION, LAST_ALTERED, STATUS, INTERVAL_VALUE, INTERVAL_FIELD"
    f" FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {SCHEMA} AND EVENT_NAME = %s",
}


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def object_state(session: Session, ref: ObjectRef) -> str:
    if ref.kind == "database":
        rows = session.query(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME"
            " FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
            [ref.name],
        )
        return f"database {ref.name}: {rows!r}"
    if ref.kind == "table":
        return table_state(session, ref)
    rows = session.query(QUERIES[ref.kind], [ref.schema, ref.name])
    return f"{ref.kind} {ref.name}: {[tuple(map(str, r)) for r in rows]!r}"


def table_state(session: Session, ref: ObjectRef) -> str:
    qualified = quote(ref.name) if ref.schema is None else f"{quote(ref.schema)}.{quote(ref.name)}"
    try:
        created = session.query(f"SHOW CREATE TABLE {qualified}")
    except DatabaseError as err:
        if str(err).startswith(NO_SUCH_TABLE):
            return f"table {ref.name}: absent"
        raise
    # Other sessions' inserts move AUTO_INCREMENT; that is not a schema change.
    return f"table {ref.name}: " + AUTO_INCREMENT.sub("", str(created[0][1]))


def effect_fingerprint(session: Session, sql: str) -> str | None:
    refs = affected_objects(sql)
    if not refs:
        return None
    try:
        state = "\n".join(object_state(session, ref) for ref in refs)
    except DatabaseError:
        return None  # e.g. no database selected for an unqualified name
    return "sha256:" + hashlib.sha256(state.encode()).hexdigest()[:32]
