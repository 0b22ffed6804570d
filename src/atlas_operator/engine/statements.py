"""Statement splitting (interim version; replaced by the full Atlas-compatible lexer)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Dialect(StrEnum):
    POSTGRES = "postgres"
    MYSQL = "mysql"
    SQLITE = "sqlite"
    GENERIC = "generic"


class SplitError(ValueError):
    """Input the lexer cannot split."""


@dataclass(frozen=True)
class Statement:
    text: str
    comments: tuple[str, ...] = ()
    position: int = 0


DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
BEGIN = re.compile(r"\bBEGIN\b(?!\s*(;|TRANSACTION|WORK|DEFERRED|IMMEDIATE|EXCLUSIVE))", re.I)


def split_statements(sql: str, dialect: Dialect) -> list[Statement]:
    out: list[Statement] = []
    start, i, depth, blocks = 0, 0, 0, 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            j = i + 1
            while j < n:
                if sql[j] == "\\" and dialect == Dialect.MYSQL:
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
            continue
        if sql.startswith("--", i) or (ch == "#" and dialect == Dialect.MYSQL):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if ch == "$" and dialect in (Dialect.POSTGRES, Dialect.GENERIC):
            m = DOLLAR.match(sql, i)
            if m:
                end = sql.find(m.group(0), m.end())
                i = n if end < 0 else end + len(m.group(0))
                continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch.isalpha() and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            word = re.match(r"[A-Za-z_]+", sql[i:])
            assert word is not None
            upper = word.group(0).upper()
            if upper == "BEGIN" and BEGIN.match(sql, i) and dialect != Dialect.GENERIC:
                blocks += 1
            elif upper == "END" and blocks:
                after = sql[i + 3 :].lstrip()
                if not re.match(r"(IF|LOOP|CASE|WHILE|REPEAT)\b", after, re.I):
                    blocks -= 1
            elif upper == "CASE" and blocks:
                blocks += 1
            i += len(word.group(0))
            continue
        elif ch == ";" and depth == 0 and blocks == 0:
            text = sql[start : i + 1].strip()
            if text.strip(";").strip():
                out.append(Statement(text, position=start))
            start = i + 1
        i += 1
    tail = sql[start:].strip()
    if tail and not re.fullmatch(r"(\s|--[^\n]*)*", tail):
        out.append(Statement(tail, position=start))
    return out
