"""What only `SHOW CREATE TABLE` tells: the index clauses that were written explicitly.

information_schema.STATISTICS reports the index type the engine uses (`BTREE` for
every InnoDB key, `HASH` for a MEMORY key), not whether `USING …` was written, and
not an index's `KEY_BLOCK_SIZE`. Both servers keep what was written in the table
definition and print it in SHOW CREATE TABLE, so a table created verbatim and one
migrated without the clause differ there. This module reads those two clauses from
the index lines of SHOW CREATE TABLE; everything else still comes from the catalog.

The text is parsed conservatively: one index per line (the server escapes newlines in
comments and strings), the key parts skipped as a balanced parenthesised list that
respects quoted identifiers and strings, then only the known options that the server
prints first (`USING x`, `KEY_BLOCK_SIZE=n`). A line that does not have that shape is
ignored, and the index keeps what the catalog says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from atlas_operator.engine.sqltext import parenthesized

# `  UNIQUE KEY `name` (` … : the head of a secondary index line. PRIMARY KEY lines have
# no name and are not matched (the primary key's clauses are not modelled). The name is
# in backticks, or in double quotes under sql_mode ANSI_QUOTES, or bare with
# sql_quote_show_create off: a desired state may set either on the dev session.
INDEX_HEAD = re.compile(
    r"\s*(?:(?:UNIQUE|FULLTEXT|SPATIAL|VECTOR)\s+)?KEY\s+"
    r"(`(?:[^`]|``)*`|\"(?:[^\"]|\"\")*\"|[^\s(`\"]+)\s*"
)
# The options the server prints right after the key parts, in any order among themselves.
OPTION = re.compile(r"\s+(?:USING\s+(\w+)|KEY_BLOCK_SIZE\s*=\s*(\d+))", re.IGNORECASE)


@dataclass(frozen=True)
class IndexClauses:
    """An index's explicitly written clauses, as SHOW CREATE TABLE prints them."""

    using: str | None = None
    """`BTREE`, `HASH` or `RTREE` when `USING …` was written; None otherwise."""
    key_block_size: int | None = None
    """The index's own KEY_BLOCK_SIZE, printed when it differs from the table's."""


def index_clauses(create_table: str) -> dict[str, IndexClauses]:
    """Index name → explicit clauses, for every secondary index line of the text."""
    found: dict[str, IndexClauses] = {}
    for line in create_table.splitlines():
        parsed = index_line(line)
        if parsed is not None:
            found[parsed[0]] = parsed[1]
    return found


def index_line(line: str) -> tuple[str, IndexClauses] | None:
    """`  KEY `a` (`x`) USING BTREE,` → ("a", IndexClauses(using="BTREE"))."""
    head = INDEX_HEAD.match(line)
    if head is None or not line.startswith("(", head.end()):
        return None
    end = closing_paren(line, head.end())
    if end is None:
        return None
    using: str | None = None
    block_size: int | None = None
    pos = end + 1
    while (option := OPTION.match(line, pos)) is not None:
        if option.group(1):
            using = option.group(1).upper()
        else:
            block_size = int(option.group(2))
        pos = option.end()
    return unquote_name(head.group(1)), IndexClauses(using, block_size)


def unquote_name(text: str) -> str:
    """`` `a``b` `` → a`b; `"a"` → a; a bare name stays as it is."""
    if text[0] in '`"':
        return text[1:-1].replace(text[0] * 2, text[0])
    return text


def closing_paren(text: str, start: int) -> int | None:
    """The index of the `)` matching the `(` at `start`, skipping quoted text.

    Key parts hold identifiers (backticks, doubled to escape) and, on MySQL 8,
    expressions with string literals (quotes doubled or backslash-escaped)."""
    try:
        _, after = parenthesized(text, start, backslash=True)
    except ValueError:
        return None
    return after - 1
