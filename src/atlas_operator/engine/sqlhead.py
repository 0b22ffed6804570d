"""The first tokens of one SQL statement: enough to tell what kind of statement it is
and which objects it names, without a full parser.

Used by the drivers to classify migration statements (does it commit implicitly, can it
run again safely, which objects does it change) and by the desired-state sandbox. The
splitter has already cut the text into single statements; here we only skip comments,
read words, quoted identifiers, strings and punctuation, and stop after a bound.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

IDENTIFIER_QUOTES = {'"': '"', "`": "`", "[": "]"}
DOLLAR_QUOTE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass(frozen=True)
class Token:
    text: str
    """A word as written, an identifier without its quotes, a string's content, or one
    punctuation character."""
    kind: str = "word"
    """`word` (bare word or number), `ident` (quoted identifier), `string`, `punct`."""

    @property
    def word(self) -> str:
        """The upper-cased keyword, or "" for anything that cannot be a keyword."""
        return self.text.upper() if self.kind == "word" else ""

    @property
    def is_name(self) -> bool:
        return self.kind in ("word", "ident")


def head_tokens(
    sql: str,
    *,
    limit: int = 64,
    hash_comments: bool = False,
    quotes: str = '"`',
    executable_comments: bool = False,
    dollar_quotes: bool = False,
) -> list[Token]:
    """Up to `limit` tokens from the start of `sql`.

    `hash_comments`: `#` starts a comment (MySQL). `quotes`: the identifier quote
    characters of the dialect. `executable_comments`: MySQL's `/*! … */` and
    `/*M! … */` hold code, which is read as if the comment markers were not there.
    `dollar_quotes`: PostgreSQL's `$tag$ … $tag$` is one string token (a body)."""
    tokens: list[Token] = []
    i, n = 0, len(sql)
    while i < n and len(tokens) < limit:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif dollar_quotes and ch == "$" and (opening := DOLLAR_QUOTE.match(sql, i)):
            closing = sql.find(opening.group(0), opening.end())
            end = n if closing < 0 else closing
            tokens.append(Token(sql[opening.end() : end], "string"))
            i = n if closing < 0 else closing + len(opening.group(0))
        elif sql.startswith("--", i) or (hash_comments and ch == "#"):
            i = line_end(sql, i)
        elif sql.startswith("/*", i):
            i = comment_end(sql, i, executable_comments)
        elif executable_comments and sql.startswith("*/", i):
            i += 2  # the end of an executable comment whose code we read
        elif ch == "'":
            j = quoted_end(sql, i, "'")
            tokens.append(Token(sql[i + 1 : j - 1].replace("''", "'"), "string"))
            i = j
        elif ch in quotes and ch in IDENTIFIER_QUOTES:
            close = IDENTIFIER_QUOTES[ch]
            j = quoted_end(sql, i, close)
            tokens.append(Token(sql[i + 1 : j - 1].replace(close * 2, close), "ident"))
            i = j
        elif ch.isalnum() or ch in "_$@":
            j = i
            while j < n and (sql[j].isalnum() or sql[j] in "_$@"):
                j += 1
            tokens.append(Token(sql[i:j]))
            i = j
        else:
            tokens.append(Token(ch, "punct"))
            i += 1
    return tokens


def line_end(sql: str, i: int) -> int:
    """Past a line comment: it ends at a newline or a bare carriage return."""
    for j in range(i, len(sql)):
        if sql[j] in "\n\r":
            return j + 1
    return len(sql)


def comment_end(sql: str, i: int, executable: bool) -> int:
    if executable and (sql.startswith("/*!", i) or sql.startswith("/*M!", i)):
        j = i + (3 if sql[i + 2] == "!" else 4)
        while j < len(sql) and sql[j].isdigit():
            j += 1  # the server version the code is meant for
        return j
    end = sql.find("*/", i + 2)
    return len(sql) if end < 0 else end + 2


def quoted_end(sql: str, i: int, close: str) -> int:
    """Past the quoted token opening at `i`; a doubled closing quote escapes it."""
    j = i + 1
    while j < len(sql):
        if sql[j] == "\\" and close == "'":
            j += 2
            continue
        if sql[j] == close:
            if j + 1 < len(sql) and sql[j + 1] == close:
                j += 2
                continue
            return j + 1
        j += 1
    return len(sql)


def words(tokens: Sequence[Token]) -> list[str]:
    """The keyword form of each token ("" for non-words): handy for prefix matching."""
    return [t.word for t in tokens]


def starts_with(tokens: Sequence[Token], *keywords: str) -> bool:
    return len(tokens) >= len(keywords) and all(
        t.word == k for t, k in zip(tokens, keywords, strict=False)
    )


def find_word(tokens: Sequence[Token], keyword: str, start: int = 0) -> int:
    """The index of the first token at or after `start` that is `keyword`, or -1."""
    for index in range(start, len(tokens)):
        if tokens[index].word == keyword:
            return index
    return -1


def as_written(token: Token) -> str:
    return token.text


def qualified_name(
    tokens: Sequence[Token], i: int, fold: Callable[[Token], str] = as_written
) -> tuple[tuple[str, ...], int]:
    """The dotted name starting at token `i` (`a`, `a.b`, `"a"."b"`), each part as the
    database reads it (`fold`), and the index after it; an empty tuple when no name
    starts there. A dot that ends the tokens is not part of the name."""
    parts: list[str] = []
    while i < len(tokens) and tokens[i].is_name:
        parts.append(fold(tokens[i]))
        i += 1
        dot = i + 1 < len(tokens) and tokens[i].text == "." and tokens[i].kind == "punct"
        if dot:
            i += 1
            continue
        break
    return tuple(parts), i


def name_list(tokens: Sequence[Token], i: int) -> list[tuple[str, ...]]:
    """`a, b.c, d`: the comma-separated names starting at token `i`."""
    names = []
    while i < len(tokens):
        name, i = qualified_name(tokens, i)
        if not name:
            break
        names.append(name)
        if i < len(tokens) and tokens[i].text == ",":
            i += 1
            continue
        break
    return names


def skip_words(tokens: Sequence[Token], i: int, *optional: Sequence[str]) -> int:
    """Skips each optional keyword sequence (in order) when it is present at `i`."""
    for sequence in optional:
        if all(
            i + k < len(tokens) and tokens[i + k].word == word for k, word in enumerate(sequence)
        ):
            i += len(sequence)
    return i
