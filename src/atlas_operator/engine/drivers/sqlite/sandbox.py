"""What a SQLite desired state may run on the dev database (engine/sandbox.py).

Allowed: CREATE [TEMP] TABLE/INDEX/VIEW/TRIGGER/VIRTUAL TABLE, ALTER TABLE, DROP
TABLE/INDEX/VIEW/TRIGGER in the `main` (or `temp`) schema, `PRAGMA foreign_keys` and
`PRAGMA defer_foreign_keys`, and plain transaction control (`.dump`'s BEGIN/COMMIT).
Refused among others: ATTACH/DETACH (another file), VACUUM (INTO writes a file), data
statements, CREATE TABLE … AS SELECT, other pragmas, names of attached schemas.

The in-memory dev database lives inside the operator's process, which can write any
file the operator can, so SQLite's authorizer enforces the same on the connection while
the desired state loads: ATTACH, DETACH, other pragmas and anything on a schema other
than main/temp are denied by the database itself.

SQLite creates a view over a missing table, or a trigger whose body names one, and
fails only when it is used — or when any table is renamed, as every table rebuild
does. So each view and trigger of a desired state is checked as it is created, by
renaming a scratch table inside a savepoint (SQLite then resolves every view and
trigger): one that does not resolve is dropped again and its statement fails (it is
retried after the others, as a view over a table defined further down must be).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from atlas_operator.engine.drivers.base import DatabaseError, Scope, Session
from atlas_operator.engine.drivers.sqlite.session import SQLiteSession, quote
from atlas_operator.engine.sandbox import (
    DEFINES_ONLY,
    REACHES_OUT,
    RUNS_QUERY,
    Refusal,
    label,
    names_after,
    read_name,
    top_level_word,
)
from atlas_operator.engine.sqlhead import Token, as_written, find_word, head_tokens, skip_words

SCHEMAS = frozenset({"main", "temp"})
OBJECTS = ("VIRTUAL TABLE", "TABLE", "INDEX", "VIEW", "TRIGGER")
MODIFIERS = frozenset({"TEMP", "TEMPORARY", "UNIQUE"})
PRAGMAS = frozenset({"foreign_keys", "defer_foreign_keys"})
TRANSACTION_HEADS = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})
PRAGMA_REASON = "only PRAGMA foreign_keys and defer_foreign_keys may run in a desired schema"


def tokens_of(sql: str) -> list[Token]:
    return head_tokens(sql, limit=1_000_000, quotes='"`[')


def fold(token: Token) -> str:
    return token.text.lower()


def refusal(sql: str, scope: Scope) -> Refusal | None:
    tokens = tokens_of(sql)
    if not tokens:
        return None
    head = tokens[0].word
    if head in ("CREATE", "ALTER", "DROP"):
        return ddl_refusal(tokens)
    if head == "PRAGMA":
        name, _ = read_name(tokens, 1, fold)
        if name and name[-1] in PRAGMAS and all(s in SCHEMAS for s in name[:-1]):
            return None
        return Refusal(f"PRAGMA {'.'.join(name)}".rstrip(), PRAGMA_REASON)
    if head in TRANSACTION_HEADS:
        return None
    if head in ("ATTACH", "DETACH"):
        return Refusal(head, REACHES_OUT)
    if head == "VACUUM":
        into = find_word(tokens, "INTO") > 0
        return Refusal("VACUUM INTO" if into else "VACUUM", REACHES_OUT if into else DEFINES_ONLY)
    return Refusal(label(tokens) if tokens[0].kind == "word" else f'"{tokens[0].text}"')


def ddl_refusal(tokens: Sequence[Token]) -> Refusal | None:
    verb = tokens[0].word
    i = 1
    while i < len(tokens) and tokens[i].word in MODIFIERS:
        i += 1
    kind = next(
        (k for k in OBJECTS if all(
            i + n < len(tokens) and tokens[i + n].word == w for n, w in enumerate(k.split())
        )),
        None,
    )  # fmt: skip
    if kind is None:
        return None  # SQLite's grammar has no other kind: the database refuses the statement
    i = skip_words(tokens, i + len(kind.split()), ("IF", "NOT", "EXISTS"), ("IF", "EXISTS"))
    if verb == "CREATE" and kind == "TABLE" and top_level_word(tokens, "AS", i) >= 0:
        return Refusal("CREATE TABLE … AS SELECT", RUNS_QUERY)
    for name in defined_names(tokens, i, kind):
        if len(name) > 2 or (len(name) == 2 and name[0] not in SCHEMAS):
            return Refusal(
                f"the name {'.'.join(name)}",
                "it is outside the dev database (only main and temp are in scope)",
            )
    return None


def defined_names(tokens: Sequence[Token], i: int, kind: str) -> Iterator[tuple[str, ...]]:
    name, i = read_name(tokens, i, fold)
    yield name
    if kind in ("INDEX", "TRIGGER"):
        on = top_level_word(tokens, "ON", i)
        if on > 0:
            yield read_name(tokens, on + 1, fold)[0]
    yield from names_after(tokens, ("REFERENCES", "RENAME TO"), fold)


# --- what the database enforces ------------------------------------------------------------


def authorizer(
    action: int, arg1: str | None, arg2: str | None, schema: str | None, source: str | None
) -> int:
    """SQLite's verdict on each operation a desired-state statement compiles to."""
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() not in PRAGMAS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_ALTER_TABLE:
        schema = arg1  # (database, table[, column]) for ALTER TABLE
    if schema is not None and schema.lower() not in SCHEMAS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


@contextmanager
def sandboxed(session: Session, scope: Scope) -> Iterator[None]:
    """The authorizer on the dev connection while the desired state loads, and the
    check that every view and trigger created resolves what it names."""
    if not isinstance(session, SQLiteSession):
        yield
        return
    session.conn.set_authorizer(authorizer)
    session.checks = check_created_object
    try:
        yield
    finally:
        session.checks = None
        session.conn.set_authorizer(None)


SCRATCH = "atlas_dev_check"


def check_created_object(session: SQLiteSession, sql: str) -> None:
    """Fails (and drops it again) a view or trigger `sql` just created that names a
    table, view or column that does not exist."""
    created = created_object(sql)
    if created is None:
        return
    kind, name = created
    conn = session.conn
    conn.execute(f"SAVEPOINT {SCRATCH}")
    try:
        conn.execute(f"CREATE TABLE {SCRATCH} (x)")
        conn.execute(f"ALTER TABLE {SCRATCH} RENAME TO {SCRATCH}_renamed")
        problem = None
    except sqlite3.Error as err:
        problem = str(err)
    finally:
        conn.execute(f"ROLLBACK TO {SCRATCH}")
        conn.execute(f"RELEASE {SCRATCH}")
    if problem is not None:
        target = ".".join(quote(part) for part in name)
        conn.execute(f"DROP {kind} IF EXISTS {target}")
        raise DatabaseError(problem)


def created_object(sql: str) -> tuple[str, tuple[str, ...]] | None:
    """("VIEW" or "TRIGGER", its name as written) when `sql` is a CREATE VIEW/TRIGGER."""
    tokens = head_tokens(sql, limit=16, quotes='"`[')
    if not tokens or tokens[0].word != "CREATE":
        return None
    i = 1
    while i < len(tokens) and tokens[i].word in MODIFIERS:
        i += 1
    if i >= len(tokens) or tokens[i].word not in ("VIEW", "TRIGGER"):
        return None
    kind = tokens[i].word
    name, _ = read_name(tokens, skip_words(tokens, i + 1, ("IF", "NOT", "EXISTS")), as_written)
    return (kind, name) if name else None
