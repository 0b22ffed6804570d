"""Small helpers over SQL text: quoting-aware splitting and whitespace normalisation.

Used where a catalog keeps only the original DDL text (SQLite's `sqlite_master`),
so checks, generated expressions and constraint names must be read from it.
"""

from __future__ import annotations

import re

QUOTES = {"'": "'", '"': '"', "`": "`", "[": "]"}


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Splits at `separator` outside parentheses, quotes and comments."""
    parts: list[str] = []
    depth, start, i = 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in QUOTES:
            i = skip_quoted(text, i)
            continue
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == separator and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
        i += 1
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    return parts


def skip_quoted(text: str, i: int, backslash: bool = False) -> int:
    """The index just past the quoted token starting at `i` (doubled quotes escape;
    with `backslash`, MySQL's `\'` in strings too)."""
    close = QUOTES[text[i]]
    j = i + 1
    while j < len(text):
        if backslash and text[j] == "\\" and close in "'\"":
            j += 2
            continue
        if text[j] == close:
            if close != "]" and j + 1 < len(text) and text[j + 1] == close:
                j += 2
                continue
            return j + 1
        j += 1
    return j


def parenthesized(text: str, open_index: int, backslash: bool = False) -> tuple[str, int]:
    """The text inside the parentheses opening at `open_index`, and the index after them
    (`backslash`: strings escape with backslashes, as MySQL's do)."""
    depth, i = 0, open_index
    while i < len(text):
        ch = text[i]
        if ch in QUOTES and not (backslash and ch == "["):  # MySQL has no [brackets]
            i = skip_quoted(text, i, backslash)
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[open_index + 1 : i], i + 1
        i += 1
    raise ValueError(f"unbalanced parentheses in {text!r}")


def normalize_space(text: str) -> str:
    """Collapses runs of whitespace outside quotes and trims it around parentheses."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in QUOTES:
            j = skip_quoted(text, i)
            out.append(text[i:j])
            i = j
            continue
        if ch.isspace():
            j = i
            while j < len(text) and text[j].isspace():
                j += 1
            out.append(" ")
            i = j
            continue
        out.append(ch)
        i += 1
    collapsed = "".join(out).strip()
    return re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", collapsed))


def unquote_identifier(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] in QUOTES and name[-1] == QUOTES[name[0]]:
        close = QUOTES[name[0]]
        return name[1:-1].replace(close * 2, close)
    return name


IDENTIFIER = r'(?:"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|[\w$]+)'
