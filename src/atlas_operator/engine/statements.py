"""Splitting SQL text into statements, as Atlas's lexer does (sql/migrate/lex.go).

The rules follow Atlas's scanner; which of them apply is a per-dialect table of options
(`ScanOptions`, `DIALECT_OPTIONS`), as Atlas's drivers configure their scanners:

- Quotes ('…', "…", `…`) are skipped as units, with backslash escapes where the dialect has
  them; an unclosed quote is an error. PostgreSQL dollar quotes (`$tag$…$tag$`) too.
- Comments (`--`, `/* */`, `#` on MySQL) are skipped; one that is never terminated is not a
  comment but text. Comments that open a statement are not part of its text but attached to
  it (`Statement.comments`), unless a blank line separates them from it.
- A statement ends at the delimiter (`;` by default, outside parentheses); the text is
  trimmed and keeps `;`, but not a custom delimiter. `-- atlas:delimiter X` on the first
  line, or the MySQL client's `DELIMITER X` command, set the delimiter.
- `BEGIN … END` compound blocks (triggers, procedures) and PostgreSQL `BEGIN ATOMIC … END`
  bodies stay one statement: after `BEGIN`, the statements inside are scanned recursively
  until one that is just `END` (or, for `BEGIN ATOMIC`, starts with `END`); when there is
  none, `BEGIN` was not a block (a transaction, or a column named `begin`).

Where this differs from Atlas, on purpose (only where Atlas's result is not what the
database does with the text):
- on MySQL, a statement that is only its delimiter (`/*!40101 SET NAMES utf8mb4 */;` leaves
  `;`) is dropped; Atlas runs it and MySQL fails with "Query was empty" (ariga/atlas#1483);
- a `--` comment also ends at a bare carriage return, as in PostgreSQL's own lexer (Atlas
  only ends it at `\\n`, and so would swallow the statement after a `\\r`);
- `E'…'` strings honour backslash escapes (Atlas means to, but checks the wrong byte and so
  rejects `E'it\\'s'` as an unclosed quote).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple


class Dialect(StrEnum):
    POSTGRES = "postgres"
    MYSQL = "mysql"
    SQLITE = "sqlite"
    GENERIC = "generic"


class SplitError(ValueError):
    """Input the lexer cannot split."""


@dataclass(frozen=True)
class ScanOptions:
    """What the scanner recognises (Atlas's `ScannerOptions`)."""

    match_begin: bool = False
    """`BEGIN … END` compound blocks are one statement."""
    match_begin_atomic: bool = False
    """SQL-standard `BEGIN ATOMIC … END` bodies are one statement."""
    match_begin_try_catch: bool = False
    """T-SQL `BEGIN TRY … END CATCH` is one statement."""
    match_dollar_quote: bool = False
    """PostgreSQL `$tag$…$tag$` strings."""
    backslash_escapes: bool = False
    """A backslash escapes the next character in every quoted string (MySQL)."""
    escaped_string_ext: bool = False
    """A backslash escapes the next character in `E'…'` strings (PostgreSQL)."""
    hash_comments: bool = False
    """`#` starts a comment (MySQL)."""
    go_command: bool = False
    """A line `GO [count]` ends a statement (T-SQL tools)."""
    omit_delimiter: bool = False
    """Remove the delimiter from the text even when it is `;`."""
    carriage_return_ends_comment: bool = False
    """A bare `\\r` ends a `--` comment (PostgreSQL); otherwise only `\\n` does."""
    skip_empty: bool = False
    """Drop statements that are nothing but their delimiter, as what is left of MySQL's
    `/*!40101 SET … */;` executable comments (Atlas keeps `;`, which MySQL then rejects
    with "Query was empty": ariga/atlas#1483)."""


DIALECT_OPTIONS: dict[Dialect, ScanOptions] = {
    # Atlas's postgres.Driver.ScanStmts, plus PostgreSQL's own comment rule.
    Dialect.POSTGRES: ScanOptions(
        match_begin=True,
        match_begin_atomic=True,
        match_dollar_quote=True,
        escaped_string_ext=True,
        carriage_return_ends_comment=True,
    ),
    # Atlas's mysql.Driver.ScanStmts.
    Dialect.MYSQL: ScanOptions(
        match_begin=True, backslash_escapes=True, hash_comments=True, skip_empty=True
    ),
    # Atlas's sqlite.Driver.ScanStmts.
    Dialect.SQLITE: ScanOptions(match_begin=True),
    # Atlas's migrate.Stmts, for drivers without a scanner of their own.
    Dialect.GENERIC: ScanOptions(match_begin_atomic=True, match_dollar_quote=True),
}


@dataclass(frozen=True)
class Statement:
    text: str
    position: int = 0
    """Index in the input where the statement starts (its text, after any comments)."""
    comments: tuple[str, ...] = ()
    """Comments directly above the statement (not separated by a blank line), as Atlas
    attaches them; they are not part of `text`, which is what runs and is hashed."""

    def directives(self, name: str) -> list[str]:
        """Arguments of `atlas:<name>` directives in the attached comments."""
        found = []
        for comment in self.comments:
            if comment.startswith("/*") and "\n" not in comment:
                found += directive_args(comment.removesuffix("*/"), name, ("/*",))
            else:
                found += directive_args(comment, name, ("#", "--", "-- "))
        return found


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


def decode_escapes(text: str) -> str:
    return text.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t")


def split_statements(sql: str, dialect: Dialect) -> list[Statement]:
    return scan_statements(sql, DIALECT_OPTIONS[dialect])


def scan_statements(sql: str, options: ScanOptions) -> list[Statement]:
    scanner = _Scanner(sql, options, 0)
    out = []
    while (statement := scanner.next()) is not None:
        out.append(statement)
    return out


# Go's unicode.IsSpace (what Atlas trims and skips); Python's str.isspace() differs.
SPACE_CHARS = "\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
SPACE_STRIP = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
SPACE_STRIP += "\u2028\u2029\u202f\u205f\u3000"
SPACES = re.compile(f"[{SPACE_CHARS}]*")
# Go's regexp `\s`, which Atlas's BEGIN/END/GO patterns use.
WS = "[\t\n\f\r ]"
BEGIN_ATOMIC = re.compile(f"(?i:BEGIN){WS}+(?i:ATOMIC){WS}+")
BEGIN_TRY = re.compile(f"(?i:BEGIN){WS}+(?i:TRY){WS}+")
BEGIN_PLAIN = re.compile(f"(?i:BEGIN){WS}+")
END_PREFIX = re.compile("(?i:END)")
END_OF_BLOCK = re.compile(f"(?i:END){WS}*;?")
END_CATCH = re.compile(f"(?i:END){WS}*(?i:CATCH){WS}*")
GO_COMMAND = re.compile(f"(?i:GO)(?={WS}|\\Z)")
GO_COUNT = re.compile(r"[+-]?[0-9]+")
LINE_END = re.compile(r"[\r\n]")
QUOTE_END = {q: re.compile(f"[^{q}\\\\]*(?:\\\\.[^{q}\\\\]*)*{q}", re.S) for q in "'\"`"}


@lru_cache(maxsize=128)
def _tokens(options: ScanOptions, delimiter: str, top: bool) -> re.Pattern[str]:
    """What can end, open or change a statement, in Atlas's order of precedence; `top`
    is outside parentheses, where the delimiter counts."""
    alternatives = [r"(?P<open>\()", r"(?P<close>\))", r"(?P<quote>['\"`])"]
    if options.go_command:
        alternatives.append(f"(?P<go>\\n(?={GO_COMMAND.pattern})|(?<=\\n){GO_COMMAND.pattern})")
    if top:
        alternatives.append(f"(?P<delimiter>{re.escape(delimiter)})")
    if options.match_dollar_quote:
        alternatives.append(r"(?P<dollar>\$(?:[A-Za-z\xc8-\xff_][0-9A-Za-z_\xc8-\xff]*)?\$)")
    if options.hash_comments:
        alternatives.append(r"(?P<hash>\#)")
    alternatives += [r"(?P<dashes>--)", r"(?P<block>/\*)"]
    blocks = options.match_begin or options.match_begin_atomic or options.match_begin_try_catch
    if delimiter == ";" and blocks:
        alternatives.append(r"(?P<begin>(?i:BEGIN))")
    return re.compile("|".join(alternatives))


def _skip_spaces(sql: str, i: int) -> int:
    match = SPACES.match(sql, i)
    return i if match is None else match.end()


def _line(sql: str, i: int) -> int:
    return sql.count("\n", 0, i) + 1


def _delimiter(text: str) -> str:
    if not text:
        raise SplitError("empty delimiter")
    return decode_escapes(text)


class _Raw(NamedTuple):
    start: int
    end: int
    comments: list[str]


class _Scanner:
    """Atlas's scanner over `sql[start:]`: `next()` returns one statement at a time."""

    def __init__(self, sql: str, options: ScanOptions, start: int) -> None:
        self.sql, self.options, self.pos = sql, options, start
        self.delimiter = ";"
        self.patterns: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {}
        self.skipped = 0  # a directive line Atlas does not count in a block's length
        if sql.startswith("-- atlas:", start):
            directive = DIRECTIVE.match(sql, start)
            if directive and directive.group(2) == "delimiter" and directive.group(1) == "-- ":
                self.delimiter = _delimiter(directive.group(3) or "")
                newline = sql.find("\n", start)
                if newline < 0:
                    raise SplitError(f"no input found after delimiter {directive.group(3) or ''!r}")
                self.skipped = newline + 1 - start
                self.pos = newline + 1

    def next(self) -> Statement | None:
        while (raw := self.raw()) is not None:
            text = self.sql[raw.start : raw.end]
            if self.options.omit_delimiter or self.delimiter != ";":
                text = text.removesuffix(self.delimiter)
            text = text.strip(SPACE_STRIP)
            if not (self.options.skip_empty and text in ("", self.delimiter)):
                return Statement(text, raw.start, tuple(raw.comments))
        return None

    def raw(self) -> _Raw | None:
        sql, n, options = self.sql, len(self.sql), self.options
        start = p = _skip_spaces(sql, self.pos)
        comments: list[str] = []
        depth = opened_at = 0
        top, inner = self.tokens()
        tokens = top
        while True:
            if p == start:
                if p >= n:
                    self.pos = p
                    return None
                if sql.startswith(" ", p + 9) and sql[p : p + 9].lower() == "delimiter":
                    p = self.delimiter_command(p + 9)
                    start, comments = p, []
                    tokens, inner = self.tokens()
                    continue
                if sql[p : p + 9].lower() == "delimiter":
                    p += 9
                elif options.go_command and GO_COMMAND.match(sql, p):
                    self.pos = self.go_count(p + 2)
                    return _Raw(start, p, comments)
            match = tokens.search(sql, p)
            if match is None:
                if depth:
                    raise SplitError(f"unclosed '(' opened at line {_line(sql, opened_at)}")
                self.pos = n
                return _Raw(start, n, comments)
            i, kind = match.start(), match.lastgroup
            if kind == "open":
                if depth == 0:
                    opened_at = i
                    top, tokens = tokens, inner
                depth += 1
                p = i + 1
            elif kind == "close":
                if depth == 0:
                    raise SplitError(f"unexpected ')' at line {_line(sql, i)}")
                depth -= 1
                if depth == 0:
                    tokens = top
                p = i + 1
            elif kind == "quote":
                p = self.skip_quote(i)
            elif kind == "delimiter":
                self.pos = match.end()
                return _Raw(start, match.end(), comments)
            elif kind == "go":
                end = i + 1 if sql[i] == "\n" else i
                self.pos = self.go_count(end + 2)
                return _Raw(start, end, comments)
            elif kind == "dollar":
                close = sql.find(match.group(), match.end())
                p = n if close < 0 else close + len(match.group())
            elif kind == "begin":
                block_end = self.block(i, start)
                if block_end is None:
                    p = match.end()
                    continue
                self.pos = block_end
                return _Raw(start, block_end, comments)
            else:  # a comment: `#`, `--` or `/*`
                end = self.comment_end(kind, match.end())
                if end < 0:  # never terminated: not a comment
                    p = match.end()
                elif i != start:
                    p = end
                else:  # above the statement: not its text, but attached to it
                    comments.append(sql[i:end])
                    blank = "\n\n" if kind == "block" else "\n"
                    if sql.startswith(blank, end) or sql.startswith("\r\r", end - 1):
                        comments = []  # a blank line detaches the group above
                    start = p = _skip_spaces(sql, end)

    def tokens(self) -> tuple[re.Pattern[str], re.Pattern[str]]:
        """The token patterns outside and inside parentheses, for the current delimiter."""
        patterns = self.patterns.get(self.delimiter)
        if patterns is None:
            top = _tokens(self.options, self.delimiter, True)
            patterns = self.patterns[self.delimiter] = (
                top,
                _tokens(self.options, self.delimiter, False),
            )
        return patterns

    def comment_end(self, kind: str | None, after: int) -> int:
        """The index after the comment's terminator, or -1 when there is none."""
        sql = self.sql
        if kind == "block":
            end = sql.find("*/", after)
            return end if end < 0 else end + 2
        if kind == "dashes" and self.options.carriage_return_ends_comment:
            newline = LINE_END.search(sql, after)
            if newline is None:
                return -1
            end = newline.start()
            return end + (2 if sql.startswith("\r\n", end) else 1)
        end = sql.find("\n", after)
        return end if end < 0 else end + 1

    def skip_quote(self, i: int) -> int:
        sql, quote, options = self.sql, self.sql[i], self.options
        escaped = options.backslash_escapes or (
            options.escaped_string_ext
            and quote == "'"
            and i > 0
            and sql[i - 1] in "eE"
            and not (i > 1 and (sql[i - 2].isalnum() or sql[i - 2] in "_$"))
        )
        if escaped:
            match = QUOTE_END[quote].match(sql, i + 1)
            end = -1 if match is None else match.end()
        else:
            end = sql.find(quote, i + 1)
            end = end if end < 0 else end + 1
        if end < 0:
            raise SplitError(f"unclosed quote {quote!r} opened at line {_line(sql, i)}")
        return end

    def delimiter_command(self, p: int) -> int:
        """MySQL's `DELIMITER X` line; `p` is after the word. Returns where the next
        statement starts."""
        sql = self.sql
        newline = sql.find("\n", p)
        end = len(sql) if newline < 0 else newline + 1
        delimiter = sql[p:end].strip(SPACE_STRIP)
        if len(delimiter) > 1 and delimiter[0] == delimiter[-1] == "'":
            delimiter = delimiter[1:-1].replace("''", "'")
        elif delimiter == "'":
            delimiter = ""
        self.delimiter = _delimiter(delimiter)
        return _skip_spaces(sql, end)

    def go_count(self, p: int) -> int:
        """Skips `[count]` after a GO command at `p`; returns where the next statement starts."""
        sql = self.sql
        if sql.startswith(" ", p):
            newline = sql.find("\n", p)
            end = len(sql) if newline < 0 else newline + 1
            if not GO_COUNT.fullmatch(sql[p:end].strip(SPACE_STRIP)):
                raise SplitError(f"invalid GO command, expect digits got {sql[p:end]!r}")
            p = end
        return _skip_spaces(sql, p)

    def block(self, i: int, start: int) -> int | None:
        """The end of a compound block whose `BEGIN` is at `i`, or None if it is not one."""
        sql, options = self.sql, self.options
        if options.match_begin_atomic and (match := BEGIN_ATOMIC.match(sql, i)):
            return self.body(match.end(), "atomic")
        if options.match_begin_try_catch and (match := BEGIN_TRY.match(sql, i)):
            return self.body(match.end(), "try")
        if (
            options.match_begin
            and (i == start or sql[i - 1] in "\t\n\f\r ")
            and (match := BEGIN_PLAIN.match(sql, i))
        ):
            return self.body(match.end(), "plain")
        return None

    def body(self, at: int, kind: str) -> int | None:
        """Scans the statements of a block body from `at` up to its `END` statement."""
        back = 0
        try:
            inner = _Scanner(self.sql, self.options, at)
            while True:
                statement = inner.next()
                if statement is None:
                    return None
                text = statement.text
                if kind == "atomic" and END_PREFIX.match(text):
                    break
                if kind == "plain" and END_OF_BLOCK.fullmatch(text):
                    break
                if kind == "try" and (end := END_CATCH.match(text)):
                    back = len(text) - end.end()
                    break
        except SplitError:
            return None
        return inner.pos - inner.skipped - back
