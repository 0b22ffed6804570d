"""What the drivers' `execution` modules share: the common statement traits and the
order in which a statement is classified (plain DML first, without tokenizing; then the
file's own transaction control; then the dialect's own rules)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from atlas_operator.engine.drivers.base import StatementTraits
from atlas_operator.engine.sqlhead import Token

TRANSACTIONAL = StatementTraits()
SESSION_SETTING = StatementTraits(session_setting=True, repeatable=True)
OUTSIDE = StatementTraits(transactional=False)
REPEATABLE_OUTSIDE = StatementTraits(transactional=False, repeatable=True)

Tokens = Sequence[Token]


def classify(
    sql: str,
    *,
    plain_dml: re.Pattern[str],
    tokenize: Callable[[str], list[Token]],
    control: Callable[[Tokens], str | None],
    rules: Callable[[Tokens], StatementTraits],
) -> StatementTraits:
    if plain_dml.match(sql):
        return TRANSACTIONAL  # the common case of data migrations, without tokenizing
    tokens = tokenize(sql)
    if not tokens:
        return TRANSACTIONAL
    kind = control(tokens)
    if kind:
        # Ending a transaction twice is harmless; beginning one is not repeated blindly.
        return StatementTraits(control=kind, repeatable=kind != "begin")
    return rules(tokens)
