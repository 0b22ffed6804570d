"""How SQLite migration statements behave around transactions.

Everything but a few statements is transactional in SQLite, so the executor commits each
statement with its progress record. PRAGMA, VACUUM, ATTACH and DETACH run outside a
transaction (inside one they fail or do nothing) and leave the same state when run
again, so a rerun after a crash simply repeats them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from atlas_operator.engine.drivers.base import DatabaseError, StatementTraits
from atlas_operator.engine.drivers.traits import TRANSACTIONAL, classify
from atlas_operator.engine.sqlhead import Token, find_word, head_tokens, starts_with

PLAIN_DML = re.compile(r"\s*(?:INSERT|UPDATE|DELETE)\s", re.IGNORECASE)
SESSION_OUTSIDE = StatementTraits(transactional=False, repeatable=True, session_setting=True)
NO_TRANSACTION_ERRORS = ("within a transaction", "from within a transaction")


def tokens_of(sql: str) -> list[Token]:
    return head_tokens(sql, limit=16, quotes='"`[')


def statement_traits(sql: str) -> StatementTraits:
    return classify(
        sql, plain_dml=PLAIN_DML, tokenize=tokens_of, control=transaction_control, rules=rules
    )


def rules(tokens: Sequence[Token]) -> StatementTraits:
    head = tokens[0].word
    if head in ("PRAGMA", "ATTACH", "DETACH"):
        return SESSION_OUTSIDE
    if head == "VACUUM":
        # VACUUM INTO writes a file that must not exist yet: running it twice fails.
        into = find_word(tokens, "INTO") > 0
        return StatementTraits(transactional=False, repeatable=not into)
    return TRANSACTIONAL


def transaction_control(tokens: Sequence[Token]) -> str | None:
    head = tokens[0].word
    if head == "BEGIN":
        return "begin"
    if head in ("COMMIT", "END"):
        return "commit"
    if (
        head == "ROLLBACK"
        and not starts_with(tokens, "ROLLBACK", "TO")
        and (find_word(tokens, "TO") < 0)
    ):
        return "rollback"
    return None


def needs_no_transaction(error: DatabaseError) -> bool:
    return any(marker in str(error) for marker in NO_TRANSACTION_ERRORS)
