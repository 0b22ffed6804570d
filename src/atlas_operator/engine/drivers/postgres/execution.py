"""How PostgreSQL migration statements behave around transactions, and how to tell after
a crash whether one that cannot run in a transaction took effect.

Nearly everything in PostgreSQL is transactional, so the executor runs it together with
its progress record. The exceptions are the statements PostgreSQL refuses inside a
transaction block (CREATE/DROP INDEX CONCURRENTLY, VACUUM, CREATE DATABASE, …).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from atlas_operator.engine.drivers.base import (
    DatabaseError,
    InterruptedOutcome,
    Session,
    StatementTraits,
    compare_fingerprints,
)
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

PLAIN_DML = re.compile(r"\s*(?:INSERT|UPDATE|DELETE)\s", re.IGNORECASE)

# Statements that PostgreSQL runs only outside a transaction block and that leave the
# same state when run twice (maintenance and configuration).
REPEATABLE_HEADS = ("VACUUM", "CHECKPOINT", "DISCARD")
NO_TRANSACTION_ERRORS = (
    "cannot run inside a transaction block",
    "cannot be executed inside a transaction block",
    "cannot be executed from a function",
    "invalid transaction termination",
)


def tokens_of(sql: str) -> list[Token]:
    return head_tokens(sql, limit=48, quotes='"')


def statement_traits(sql: str) -> StatementTraits:
    return classify(
        sql, plain_dml=PLAIN_DML, tokenize=tokens_of, control=transaction_control, rules=rules
    )


def rules(tokens: Sequence[Token]) -> StatementTraits:
    if is_session_setting(tokens):
        return SESSION_SETTING
    head = tokens[0].word
    if head in REPEATABLE_HEADS or starts_with(tokens, "ALTER", "SYSTEM"):
        return REPEATABLE_OUTSIDE
    if head == "CLUSTER" and len(tokens) == 1:
        return REPEATABLE_OUTSIDE
    if head == "REINDEX" and find_word(tokens, "CONCURRENTLY") > 0:
        return REPEATABLE_OUTSIDE
    if concurrent_index(tokens) is not None:
        return OUTSIDE
    if drop_index_concurrently(tokens) is not None:
        return StatementTraits(transactional=False, repeatable=if_exists(tokens))
    if database_or_tablespace(tokens) is not None:
        return StatementTraits(transactional=False, repeatable=if_exists(tokens))
    return TRANSACTIONAL


def transaction_control(tokens: Sequence[Token]) -> str | None:
    head = tokens[0].word
    if head in ("BEGIN", "START") and not starts_with(tokens, "START", "REPLICATION"):
        return "begin"
    if head in ("COMMIT", "END") and not starts_with(tokens, "COMMIT", "PREPARED"):
        return "commit"
    if head in ("ROLLBACK", "ABORT") and not (
        find_word(tokens, "TO") > 0 or starts_with(tokens, "ROLLBACK", "PREPARED")
    ):
        return "rollback"
    return None


def is_session_setting(tokens: Sequence[Token]) -> bool:
    """`SET x …` / `RESET x` for the session (not SET LOCAL, SET TRANSACTION, SET ROLE is
    included), and pg_dump's `SELECT pg_catalog.set_config('search_path', '', false)`."""
    head = tokens[0].word
    if head == "RESET":
        return True
    if head == "SET":
        second = tokens[1].word if len(tokens) > 1 else ""
        return second not in ("LOCAL", "TRANSACTION", "CONSTRAINTS")
    if head == "SELECT":
        name, after = qualified_name(tokens, 1)
        return bool(name) and name[-1].lower() == "set_config" and len(tokens) > after
    return False


def if_exists(tokens: Sequence[Token]) -> bool:
    at = find_word(tokens, "IF")
    return at > 0 and at + 1 < len(tokens) and tokens[at + 1].word in ("EXISTS", "NOT")


def concurrent_index(tokens: Sequence[Token]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(index name, table name) of `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS]
    [name] ON [ONLY] table`; the index name is empty when the statement names none."""
    i = skip_words(tokens, 1, ("UNIQUE",))
    if not (tokens[0].word == "CREATE" and i + 1 < len(tokens)):
        return None
    if tokens[i].word != "INDEX" or tokens[i + 1].word != "CONCURRENTLY":
        return None
    i = skip_words(tokens, i + 2, ("IF", "NOT", "EXISTS"))
    index: tuple[str, ...] = ()
    if i < len(tokens) and tokens[i].word != "ON":
        index, i = qualified_name(tokens, i)
    if i >= len(tokens) or tokens[i].word != "ON":
        return None
    table, _ = qualified_name(tokens, skip_words(tokens, i + 1, ("ONLY",)))
    return index, table


def drop_index_concurrently(tokens: Sequence[Token]) -> list[tuple[str, ...]] | None:
    if not starts_with(tokens, "DROP", "INDEX", "CONCURRENTLY"):
        return None
    return name_list(tokens, skip_words(tokens, 3, ("IF", "EXISTS")))


def database_or_tablespace(tokens: Sequence[Token]) -> tuple[str, str] | None:
    """("database" | "tablespace", name) of CREATE/DROP DATABASE and TABLESPACE."""
    if len(tokens) < 3 or tokens[0].word not in ("CREATE", "DROP"):
        return None
    kind = tokens[1].word
    if kind not in ("DATABASE", "TABLESPACE"):
        return None
    name, _ = qualified_name(tokens, skip_words(tokens, 2, ("IF", "EXISTS")))
    return (kind.lower(), name[-1]) if name else None


def needs_no_transaction(error: DatabaseError) -> bool:
    text = str(error)
    return any(marker in text for marker in NO_TRANSACTION_ERRORS)


# --- fingerprints ------------------------------------------------------------------------


def regclass_text(name: Sequence[str]) -> str:
    """A name as `to_regclass` reads it: each part quoted, so case is kept."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name)


def index_state(session: Session, name: Sequence[str]) -> str:
    """`absent`, or `valid:<definition>` / `invalid:<definition>` of one index."""
    rows = session.query(
        "SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indexrelid = to_regclass(%s)",
        [regclass_text(name)],
    )
    if not rows:
        return "absent"
    valid, definition = rows[0]
    return f"{'valid' if valid else 'invalid'}:{definition}"


def table_indexes(session: Session, table: Sequence[str]) -> str:
    rows = session.query(
        "SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid = to_regclass(%s) ORDER BY 2",
        [regclass_text(table)],
    )
    return "\n".join(f"{valid}:{definition}" for valid, definition in rows)


def catalog_state(session: Session, sql: str) -> str | None:
    tokens = tokens_of(sql)
    if not tokens:
        return None
    created = concurrent_index(tokens)
    if created is not None:
        index, table = created
        if index:
            return "index " + index_state(session, qualify_like(index, table))
        return "indexes " + table_indexes(session, table)
    dropped = drop_index_concurrently(tokens)
    if dropped:
        return "\n".join(index_state(session, name) for name in dropped)
    named = database_or_tablespace(tokens)
    if named is not None:
        kind, name = named
        catalog, column = (
            ("pg_database", "datname") if kind == "database" else ("pg_tablespace", "spcname")
        )
        rows = session.query(f"SELECT 1 FROM {catalog} WHERE {column} = %s", [name])
        return f"{kind} {'present' if rows else 'absent'}"
    return None


def qualify_like(index: tuple[str, ...], table: tuple[str, ...]) -> tuple[str, ...]:
    """An index lives in its table's schema; a bare index name takes the table's."""
    return index if len(index) > 1 or len(table) < 2 else (table[0], *index)


def effect_fingerprint(session: Session, sql: str) -> str | None:
    state = catalog_state(session, sql)
    if state is None:
        return None
    return "sha256:" + hashlib.sha256(state.encode()).hexdigest()[:32]


def interrupted_outcome(session: Session, sql: str, before: str | None) -> InterruptedOutcome:
    """Like the generic check, plus the one half-done state PostgreSQL leaves: a CREATE
    INDEX CONCURRENTLY that died mid-build leaves an INVALID index, which is dropped so the
    statement runs again from scratch (keeping it would make IF NOT EXISTS skip the build).
    """
    tokens = tokens_of(sql)
    created = concurrent_index(tokens) if tokens else None
    if created is not None and created[0]:
        name = qualify_like(*created)
        if index_state(session, name).startswith("invalid:"):
            session.execute(f"DROP INDEX IF EXISTS {regclass_text(name)}")
            return "not-ran"
    elif created is not None and "False:" in table_indexes(session, created[1]):
        return "unknown"  # an unnamed build left an invalid index: which one is ours?
    return compare_fingerprints(before, effect_fingerprint(session, sql) if before else None)
