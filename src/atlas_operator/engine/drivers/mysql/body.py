"""MySQL/MariaDB text of views, routines, triggers and events: a lexer that knows the
dialect's quoting and comments, and what the object inspection builds on it.

- `normal_form`: what a stored body is compared as. The servers keep routine, trigger
  and event bodies as written (`ROUTINE_DEFINITION`, `ACTION_STATEMENT`,
  `EVENT_DEFINITION`), so reformatting the desired SQL would otherwise plan a change:
  comments are dropped, whitespace is kept only where it separates two words, and
  reserved words (`RESERVED`) are lower-cased; every other word keeps its case, as
  string literals and quoted identifiers do: table names (`Log` and `log` are two
  tables on most servers) and column aliases (`AS MyId`, the name a client sees) are
  case-sensitive, and no word is known to be anything else by its spelling alone.
- `strip_qualifier`: a view definition as the server stores it names every table with
  its database (`` `app`.`t` ``); in schema scope the bound database's own qualifier is
  removed, so a dev database of another name compares equal and the plan stays
  unqualified.
- `name_uses`: the dotted names a text uses, for dependencies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from atlas_operator.engine.sqltext import skip_quoted

WORD_CHARS = frozenset("_$@")
RESERVED = frozenset(
    {
        "all", "and", "as", "asc", "between", "by", "call", "case", "condition", "continue",
        "cross", "cursor", "declare", "default", "delete", "desc", "distinct", "div", "dual",
        "each", "else", "elseif", "exists", "exit", "false", "fetch", "for", "from", "group",
        "having", "if", "in", "inner", "inout", "insert", "interval", "into", "is", "iterate",
        "join", "leave", "left", "like", "limit", "loop", "mod", "natural", "not", "null", "on",
        "or", "order", "out", "outer", "regexp", "repeat", "replace", "return", "right",
        "select", "set", "signal", "sqlstate", "then", "true", "union", "update", "using",
        "values", "when", "where", "while", "with", "xor",
    }
)  # fmt: skip
"""Words reserved on MySQL and MariaDB: unquoted, never a name (but after a `.`), so
their case means nothing."""


@dataclass(frozen=True)
class Lexeme:
    """One piece of MySQL text: `space`, `comment`, `string`, `ident` (backquoted),
    `word` (bare word or number) or `punct`; `text` is exactly what was written, so
    joining the pieces gives the input back."""

    kind: str
    text: str

    @property
    def name(self) -> str | None:
        """The identifier it spells (unquoted), or None when it is no name."""
        if self.kind == "ident":
            return self.text[1:-1].replace("``", "`")
        if self.kind == "word":
            return self.text
        return None


def is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch in WORD_CHARS


def lex(text: str) -> Iterator[Lexeme]:
    """The pieces of `text`. MySQL's executable comments (`/*!50001 … */`, `/*M! … */`)
    hold code: their markers are yielded as comments and their content as code."""
    i, n, executable = 0, len(text), 0
    while i < n:
        ch = text[i]
        if ch.isspace():
            j = i
            while j < n and text[j].isspace():
                j += 1
            yield Lexeme("space", text[i:j])
        elif ch in "'\"`":
            # Doubled quotes escape; a backslash too in strings, not in `names`.
            j = skip_quoted(text, i, backslash=True)
            yield Lexeme("ident" if ch == "`" else "string", text[i:j])
        elif ch == "#" or (text.startswith("--", i) and (i + 2 == n or text[i + 2].isspace())):
            j = text.find("\n", i)
            j = n if j < 0 else j
            yield Lexeme("comment", text[i:j])
        elif text.startswith("/*!", i) or text.startswith("/*M!", i):
            j = i + (3 if text[i + 2] == "!" else 4)
            while j < n and text[j].isdigit():
                j += 1
            executable += 1
            yield Lexeme("comment", text[i:j])
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            j = n if end < 0 else end + 2
            yield Lexeme("comment", text[i:j])
        elif executable and text.startswith("*/", i):
            executable -= 1
            j = i + 2
            yield Lexeme("comment", text[i:j])
        elif is_word_char(ch):
            j = i
            while j < n and is_word_char(text[j]):
                j += 1
            yield Lexeme("word", text[i:j])
        else:
            j = i + 1
            yield Lexeme("punct", ch)
        i = j


def normal_form(text: str) -> str:
    """The text without comments and layout, reserved words lower-cased (see above)."""
    out: list[str] = []
    spaced = False
    for piece in lex(text):
        if piece.kind in ("space", "comment"):
            spaced = True
            continue
        glued = piece.kind in ("word", "string", "ident")
        if spaced and out and glued and separates(out[-1]):
            out.append(" ")
        keyword = piece.kind == "word" and piece.text.lower() in RESERVED
        after_dot = bool(out) and out[-1] == "."
        out.append(piece.text.lower() if keyword and not after_dot else piece.text)
        spaced = False
    return "".join(out)


def separates(previous: str) -> bool:
    """Whether a space between `previous` and a following word is significant."""
    last = previous[-1]
    return is_word_char(last) or last in "'\"`"


def strip_qualifier(text: str, schema: str) -> str:
    """`text` without the `schema.` qualifiers of names (quoted or not), outside
    strings and comments: `` `app`.`t`.`id` `` → `` `t`.`id` `` for schema `app`."""
    pieces = list(lex(text))
    out: list[str] = []
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        after_dot = bool(out) and out[-1] == "."
        if (
            piece.name == schema
            and not after_dot
            and i + 1 < len(pieces)
            and pieces[i + 1].text == "."
            and i + 2 < len(pieces)
            and pieces[i + 2].kind in ("ident", "word")
        ):
            # The qualifier and its dot go; the name they qualify stays as it is, even
            # when it is spelt like the schema (`app`.`app`.`id`).
            out.append(pieces[i + 2].text)
            i += 3
            continue
        out.append(piece.text)
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class NameUse:
    """A dotted name used in a text: its parts, and whether a call follows (`f(`)."""

    parts: tuple[str, ...]
    call: bool = False
    after: str = ""
    """The keyword before the name, upper-cased (`CALL`, `FROM`), or ""."""


def name_uses(text: str) -> list[NameUse]:
    """Every dotted name of `text` outside strings and comments: `a`, `` `d`.`t` ``,
    `d.t.c`, with whether it is called and the keyword before it."""
    pieces = [p for p in lex(text) if p.kind not in ("space", "comment")]
    uses: list[NameUse] = []
    i = 0
    while i < len(pieces):
        if pieces[i].name is None or (i > 0 and pieces[i - 1].text == "."):
            i += 1
            continue
        before = pieces[i - 1].text.upper() if i > 0 and pieces[i - 1].kind == "word" else ""
        parts = [pieces[i].name or ""]
        j = i + 1
        while j + 1 < len(pieces) and pieces[j].text == "." and pieces[j + 1].name is not None:
            parts.append(pieces[j + 1].name or "")
            j += 2
        call = j < len(pieces) and pieces[j].text == "("
        uses.append(NameUse(tuple(parts), call, before))
        i = j
    return uses
