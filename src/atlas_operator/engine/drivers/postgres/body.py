"""The normal form of routine bodies: what PostgreSQL keeps as written (`prosrc`) is
compared without comments, case and layout, so reformatting a function never plans a
change. Quoted strings and identifiers are kept exactly; dollar-quoted text is code (a
PL/pgSQL body) and normalised too."""

from __future__ import annotations

import re

DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
WORD = re.compile(r"[A-Za-z0-9_$]")


def normal_form(text: str) -> str:
    """Comments dropped, whitespace kept only between two word characters, unquoted text
    lower-cased; string literals and quoted identifiers as written."""
    out: list[str] = []
    pending_space = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"":
            end = quoted_end(text, i, ch)
            piece = text[i:end]
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            pending_space = True
            continue
        elif text.startswith("/*", i):
            i = block_comment_end(text, i)
            pending_space = True
            continue
        elif ch.isspace():
            i += 1
            pending_space = True
            continue
        elif (
            ch == "$"
            and (tag := DOLLAR_TAG.match(text, i)) is not None
            and not (out and WORD.match(out[-1][-1]))
        ):
            piece, end = tag.group(0), tag.end()
        else:
            piece, end = ch.lower(), i + 1
        if pending_space and out and WORD.match(out[-1][-1]) and WORD.match(piece[0]):
            out.append(" ")
        pending_space = False
        out.append(piece)
        i = end
    return "".join(out)


def quoted_end(text: str, i: int, quote: str) -> int:
    """Just past the literal or identifier opening at `i` (a doubled quote escapes)."""
    j = i + 1
    while j < len(text):
        if text[j] == quote:
            if j + 1 < len(text) and text[j + 1] == quote:
                j += 2
                continue
            return j + 1
        if quote == "'" and text[j] == "\\" and i > 0 and text[i - 1] in "eE":
            j += 2
            continue
        j += 1
    return j


def block_comment_end(text: str, i: int) -> int:
    """Just past the (possibly nested, as PostgreSQL allows) comment opening at `i`."""
    depth, j = 0, i
    while j < len(text):
        if text.startswith("/*", j):
            depth += 1
            j += 2
        elif text.startswith("*/", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        else:
            j += 1
    return j
