"""The desired-state sandbox: a desired schema may only define schema objects in the
scope of the dev database.

The desired SQL (and the SQL an HCL state is rendered to) runs verbatim on the dev
connection, so without a check it could reach beyond the dev database: delete rows,
attach the target's file, write to another database or schema on a shared server,
create roles, change the server's configuration. Before anything runs, every statement
is classified by its driver (`Driver.sandbox_refusal`, the dialect knowledge lives in
`drivers/<name>/sandbox.py`) from the head of the statement and the names it defines,
never from words inside function or trigger bodies; the first statement refused stops
the load with one `SandboxError` naming the statement and its line. The database
enforces what it can on top (`Driver.sandboxed`): SQLite's authorizer, a restricted
role on PostgreSQL/MySQL when the dev URL names one (`sandbox_role`).

This module is driver-neutral: the walk over the statements, the error and its
message, name-scope checks shared by the dialects, and the refusal of a dev URL that
points at the target itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from atlas_operator.engine.drivers.base import EngineError, Scope
from atlas_operator.engine.sqlhead import Token, qualified_name
from atlas_operator.engine.statements import SplitError, split_statements

if TYPE_CHECKING:
    from atlas_operator.engine.drivers.base import Driver
    from atlas_operator.engine.urls import DatabaseURL

# Why a statement is refused; the message reads "<subject> is not allowed in a desired
# schema: <reason>".
DEFINES_ONLY = "it only defines schema objects"
SERVER_WIDE = "it acts on the server, outside the dev database's schema objects"
PRIVILEGES = (
    "privileges are not part of a desired schema (dump the schema without them,"
    " e.g. pg_dump --no-privileges --no-owner)"
)
RUNS_QUERY = "it runs a query to fill the object (define the object without data)"
LOADS_CODE = "it loads code into the database server"
REACHES_OUT = "it reads or writes outside the dev database (files, other servers)"
UNKNOWN_KIND = "it is not a kind of schema object the sandbox knows (misspelt?)"
SANDBOX_ROLE_PARAM = "sandbox_role"
"""Dev-URL query parameter: the role the desired state is loaded under (`SET ROLE`)."""


class SandboxError(EngineError):
    """The desired state does something other than define schema objects in the dev
    database's scope, or the dev URL points at the target itself; nothing ran."""


@dataclass(frozen=True)
class Refusal:
    """Why one statement may not run on the dev database."""

    subject: str
    """What is refused, as the user wrote it: `DELETE`, `CREATE ROLE`, `the name "x"."t"`."""
    reason: str = DEFINES_ONLY


def check_desired_sql(driver: Driver, sql: str, scope: Scope, source: str) -> None:
    """Raises `SandboxError` for the first statement of `sql` the driver refuses in
    `scope`; nothing has run on any database then."""
    try:
        statements = split_statements(sql, driver.dialect)
    except SplitError as err:
        raise EngineError(f"{source}: {err}") from None
    for number, statement in enumerate(statements, 1):
        if not statement.text.strip().strip(";").strip():
            continue  # an empty statement (a stray `;`) defines nothing and does nothing
        refusal = driver.sandbox_refusal(statement.text, scope)
        if refusal is not None:
            line = sql.count("\n", 0, statement.position) + 1
            line += statement.text[: len(statement.text) - len(statement.text.lstrip())].count("\n")
            raise SandboxError(refusal_message(number, line, refusal, statement.text))


def refusal_message(number: int, line: int, refusal: Refusal, text: str) -> str:
    return (
        f"desired state: statement {number} (line {line}): {refusal.subject} is not allowed"
        f' in a desired schema: {refusal.reason} (found "{excerpt(text)}")'
    )


def excerpt(text: str, limit: int = 80) -> str:
    """The statement on one line, cut after `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def label(tokens: Sequence[Token], count: int = 1) -> str:
    """The first `count` keywords of a statement, upper-cased: `DELETE`, `CREATE ROLE`."""
    words = [t.text.upper() for t in tokens[:count] if t.kind == "word"]
    return " ".join(words) or (tokens[0].text if tokens else "an empty statement")


# --- names ---------------------------------------------------------------------------------


def read_name(
    tokens: Sequence[Token], i: int, fold: Callable[[Token], str]
) -> tuple[tuple[str, ...], int]:
    """The dotted name at token `i` with each part as the database reads it (`fold`),
    and the index after it; an empty tuple when no name starts there."""
    return qualified_name(tokens, i, fold)


def shown(name: Sequence[str]) -> str:
    return ".".join(f'"{part}"' for part in name)


def schema_refusal(
    schema: str,
    scope: Scope,
    system: frozenset[str],
    *,
    name: Sequence[str] = (),
    noun: str = "schema",
) -> Refusal | None:
    """A refusal when `schema` (of a qualified `name`, or named on its own) is outside
    the dev database's scope or is a system schema (`noun`: "database" on MySQL)."""
    subject = f"the name {shown(name)}" if name else f'the {noun} "{schema}"'
    if schema.lower() in system:
        return Refusal(subject, f'"{schema}" is a system {noun}, outside the dev scope')
    if scope.bound is not None:
        if schema != scope.bound:
            return Refusal(
                subject, f'it is outside the scope of the dev database ({noun} "{scope.bound}")'
            )
        return None
    if scope.schemas and schema not in scope.schemas:
        listed = ", ".join(f'"{s}"' for s in scope.schemas)
        return Refusal(subject, f"it is outside the scope of the dev database ({listed})")
    return None


def depth_walk(tokens: Sequence[Token], start: int = 0) -> Iterator[tuple[int, int]]:
    """(index, parenthesis depth) of every token from `start`; the depth of a `(` or
    `)` is the depth outside it."""
    depth = 0
    for index in range(start, len(tokens)):
        token = tokens[index]
        if token.kind == "punct" and token.text == ")":
            depth = max(depth - 1, 0)
        yield index, depth
        if token.kind == "punct" and token.text == "(":
            depth += 1


def top_level_word(tokens: Sequence[Token], word: str, start: int = 0) -> int:
    """The index of the first `word` outside parentheses at or after `start`, or -1."""
    for index, depth in depth_walk(tokens, start):
        if depth == 0 and tokens[index].word == word:
            return index
    return -1


def names_after(
    tokens: Sequence[Token], keywords: Sequence[str], fold: Callable[[Token], str]
) -> Iterator[tuple[str, ...]]:
    """The names following each keyword sequence (e.g. `REFERENCES`, `SET SCHEMA`),
    wherever it occurs in the statement's tokens."""
    for index in range(len(tokens)):
        for sequence in keywords:
            words = sequence.split()
            if all(
                index + k < len(tokens) and tokens[index + k].word == w for k, w in enumerate(words)
            ):
                name, _ = read_name(tokens, index + len(words), fold)
                if name:
                    yield name


# --- the dev URL ---------------------------------------------------------------------------

LOOPBACK = frozenset({"", "localhost", "127.0.0.1", "::1", "[::1]"})


def check_dev_url(dev: DatabaseURL, target: DatabaseURL | None) -> None:
    """Refuses a dev URL that points at the target itself: the desired state would run
    on the target, and the dev database is emptied after use."""
    if target is None or dev.driver != target.driver:
        return
    if same_database(dev, target):
        raise SandboxError(
            f"the dev URL {dev.redacted()} points at the target database"
            f" {target.redacted()}: the desired state runs on the dev database, which is"
            " emptied afterwards; give a separate, empty dev database"
        )


def same_database(dev: DatabaseURL, target: DatabaseURL) -> bool:
    if dev.driver == "sqlite":
        return sqlite_identity(dev) == sqlite_identity(target)
    if host_identity(dev) != host_identity(target):
        return False
    if dev.driver == "postgres":
        return (dev.database or dev.user) == (target.database or target.user)
    # MySQL: a server-wide URL covers every database of the server.
    return dev.schema is None or target.schema is None or dev.schema == target.schema


def host_identity(url: DatabaseURL) -> tuple[str, int | None]:
    host = (url.host or "").lower()
    return ("localhost" if host in LOOPBACK else host), url.effective_port


def sqlite_identity(url: DatabaseURL) -> str:
    name = (url.database or "").removeprefix("file:").partition("?")[0]
    if url.memory:
        return "memory:" + name
    return "file:" + os.path.realpath(name)
