"""Splitting SQL text into statements, as Atlas's lexer does (reference §2.2).

- Quotes ('…', "…", `…`), comments (`--`, `/* */`, `#` on MySQL) and PostgreSQL
  dollar quotes (`$tag$…$tag$`) are skipped as units; `;` inside them is text.
- Compound bodies (`BEGIN … END`, including `CASE … END` and `IF … END IF` inside)
  stay one statement, so triggers, procedures and `BEGIN ATOMIC` functions split right;
  `BEGIN;` / `BEGIN TRANSACTION` are plain statements.
- `-- atlas:delimiter X` on the first line, or the MySQL client's `DELIMITER X`, change
  the delimiter; a custom delimiter is removed from the statement, `;` is kept.
"""

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
    position: int = 0
    comments: tuple[str, ...] = ()
    """Comments directly above the statement (not separated by a blank line), as Atlas
    attaches them; they are not part of `text`, which is what runs and is hashed."""

    def directives(self, name: str) -> list[str]:
        """Arguments of `atlas:<name>` directives in the attached comments."""
        found = []
        for comment in self.comments:
            if comment.startswith("/*"):
                if "\n" not in comment:
                    found += directive_args(comment.removesuffix("*/"), name, ("/*",))
            else:
                found += directive_args(comment, name, ("#", "--", "-- "))
        return found


# `#` starts a comment on MySQL only: SQLite and PostgreSQL reject it, so a `#` line
# there must reach the database (and fail) rather than be dropped as a comment.
COMMENT_ONLY = re.compile(r"--[^\n]*|/\*.*")
MYSQL_COMMENT_ONLY = re.compile(r"(--|#)[^\n]*|/\*.*")
DIRECTIVE = re.compile(r"([ -~]*)atlas:(\w+)(?: +(.+))*")


def directive_args(text: str, name: str, prefixes: tuple[str, ...] = ()) -> list[str]:
    """`atlas:<name> args` at the start of `text` (Atlas's directive regexp); with
    `prefixes`, the text before `atlas:` must be exactly one of them."""
    match = DIRECTIVE.match(text)
    if not match or match.group(2) != name:
        return []
    if prefixes and match.group(1) not in prefixes:
        return []
    return [match.group(3) or ""]


DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
# Unicode letters start words too (`CREATE TABLE ñandú`): unquoted identifiers may hold them.
WORD = re.compile(r"[^\W\d][\w$]*")
# BEGIN that opens a block, not a transaction.
TRANSACTION_BEGIN = re.compile(
    r"BEGIN\s*(;|$|TRANSACTION\b|WORK\b|DEFERRED\b|IMMEDIATE\b|EXCLUSIVE\b|ISOLATION\b)",
    re.IGNORECASE,
)
END_OF_NESTED = re.compile(r"END\s+(IF|LOOP|CASE|WHILE|REPEAT|FOR)\b", re.IGNORECASE)
DELIMITER_DIRECTIVE = re.compile(r"^-- atlas:delimiter (\S.*?)\s*$")
DELIMITER_COMMAND = re.compile(r"DELIMITER\s+('([^']+)'|(\S+))[ \t]*(\r?\n|$)", re.IGNORECASE)


def split_statements(sql: str, dialect: Dialect) -> list[Statement]:
    delimiter = ";"
    first_line, _, rest = sql.partition("\n")
    directive = DELIMITER_DIRECTIVE.match(first_line)
    if directive:
        delimiter = decode_escapes(directive.group(1))
        if not rest.strip():
            raise SplitError("no input found after delimiter")
        return Lexer(rest, dialect, delimiter, offset=len(first_line) + 1).run()
    return Lexer(sql, dialect, delimiter).run()


def decode_escapes(text: str) -> str:
    return text.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t")


class Lexer:
    def __init__(self, sql: str, dialect: Dialect, delimiter: str, offset: int = 0) -> None:
        self.sql, self.dialect, self.delimiter, self.offset = sql, dialect, delimiter, offset
        self.out: list[Statement] = []

    def run(self) -> list[Statement]:
        sql, n = self.sql, len(self.sql)
        start = i = depth = blocks = opened_at = 0
        while i < n:
            if self.at_statement_start(start, i) and self.dialect in (
                Dialect.MYSQL,
                Dialect.GENERIC,
            ):
                command = DELIMITER_COMMAND.match(sql, i)
                if command:
                    self.delimiter = command.group(2) or command.group(3)
                    i = start = command.end()
                    continue
            ch = sql[i]
            skipped = self.skip_token(i)
            if skipped != i:
                i = skipped
                continue
            if ch == "(":
                if depth == 0:
                    opened_at = i
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth < 0:
                    raise SplitError(f"unexpected ')' at line {sql.count(chr(10), 0, i) + 1}")
            elif ch.isalpha() and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] in "_$")):
                word = WORD.match(sql, i)
                if word is None:  # a letter `\w` does not cover (e.g. a combining mark)
                    i += 1
                    continue
                blocks = self.track_block(word.group(0).upper(), i, blocks)
                i = word.end()
                continue
            if depth == 0 and blocks == 0 and sql.startswith(self.delimiter, i):
                end = i + (1 if self.delimiter == ";" else 0)
                self.emit(start, end)
                i = start = i + len(self.delimiter)
                continue
            i += 1
        if depth > 0:
            line = sql.count("\n", 0, opened_at) + 1
            raise SplitError(f"unclosed '(' opened at line {line}")
        self.emit(start, n)
        return self.out

    def at_statement_start(self, start: int, i: int) -> bool:
        return not self.sql[start:i].strip()

    def track_block(self, word: str, i: int, blocks: int) -> int:
        if word == "BEGIN" and self.dialect != Dialect.GENERIC and self.delimiter == ";":
            return blocks if TRANSACTION_BEGIN.match(self.sql, i) else blocks + 1
        if blocks and word == "CASE":
            return blocks + 1
        if blocks and word == "END" and not END_OF_NESTED.match(self.sql, i):
            return blocks - 1
        return blocks

    def skip_token(self, i: int) -> int:
        """The index after a quoted string, comment or dollar quote at `i` (or `i`)."""
        sql, ch = self.sql, self.sql[i]
        if ch in "'\"`":
            return self.skip_quote(i, ch)
        if sql.startswith("--", i) or (ch == "#" and self.dialect == Dialect.MYSQL):
            end = sql.find("\n", i)
            return len(sql) if end < 0 else end
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            return len(sql) if end < 0 else end + 2
        if ch == "$" and self.dialect in (Dialect.POSTGRES, Dialect.GENERIC):
            match = DOLLAR.match(sql, i)
            if match and not (i > 0 and (sql[i - 1].isalnum() or sql[i - 1] == "_")):
                end = sql.find(match.group(0), match.end())
                return len(sql) if end < 0 else end + len(match.group(0))
        return i

    def skip_quote(self, i: int, quote: str) -> int:
        sql, j = self.sql, i + 1
        backslash = self.dialect == Dialect.MYSQL or (
            self.dialect == Dialect.POSTGRES and i > 0 and sql[i - 1] in "eE" and quote == "'"
        )
        while j < len(sql):
            if backslash and sql[j] == "\\":
                j += 2
                continue
            if sql[j] == quote:
                if j + 1 < len(sql) and sql[j + 1] == quote:
                    j += 2
                    continue
                return j + 1
            j += 1
        return j

    def emit(self, start: int, end: int) -> None:
        start, comments = self.leading_comments(start, end)
        text = self.sql[start:end].strip()
        # A comment that ends the input without a newline would be a statement of its
        # own in Atlas; it runs as nothing (or fails on MySQL), so it is dropped here.
        comment_only = MYSQL_COMMENT_ONLY if self.dialect == Dialect.MYSQL else COMMENT_ONLY
        if text and text != ";" and not comment_only.fullmatch(text):
            self.out.append(Statement(text, position=self.offset + start, comments=comments))

    def leading_comments(self, start: int, end: int) -> tuple[int, tuple[str, ...]]:
        """Skips the comments that open a statement, keeping those Atlas attaches to it:
        a blank line after a comment detaches the group above it."""
        sql, comments = self.sql, list[str]()
        while True:
            while start < end and sql[start].isspace():
                start += 1
            if sql.startswith("--", start) or (
                sql.startswith("#", start) and self.dialect == Dialect.MYSQL
            ):
                close, detach = "\n", "\n"
            elif sql.startswith("/*", start):
                close, detach = "*/", "\n\n"
            else:
                return start, tuple(comments)
            found = sql.find(close, start + 2 if close == "*/" else start, end)
            if found < 0:  # an unterminated comment is statement text, as in Atlas
                return start, tuple(comments)
            after = found + len(close)
            comments.append(sql[start:after])
            if sql.startswith(detach, after):
                comments = []
            start = after
