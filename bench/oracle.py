"""The conformance oracle's normalisers: pure functions, no database, no engine.

The oracle compares a database the engine migrated with a fresh database on which
`desired` was executed as written, through each server's own rendering of its
schema (pg_dump, SHOW CREATE, sqlite_master), never through the engine's inspection.
Each normaliser turns that rendering into a sorted list of self-contained lines, so
two schemas are equal when the lists are equal; what it folds away is only what
legitimately differs between two databases holding the same schema:

- the order of statements and objects (sorted);
- the order of columns within a table: PostgreSQL and SQLite can only append a column
  added later, and MariaDB could place it (FIRST/AFTER) but the engine, like Atlas,
  neither positions columns nor diffs their order. So a table is compared as the *set*
  of its column and constraint definitions. Column order elsewhere (views, composite
  types, index and key column lists) still counts;
- names the server generates rather than the schema author: PostgreSQL's sequence of a
  serial/identity column (`<table>_<col>_seq`, kept after a table rename, numbered on a
  clash), MariaDB's `CONSTRAINT_<n>` checks and `<table>_ibfk_<n>` foreign keys,
  SQLite's `sqlite_autoindex_<table>_<n>`. Auto-named PostgreSQL constraints
  (`<table>_<col>_check`, `_fkey`, `_key`, `_pkey`) and indexes are the same on both
  sides anyway, so they are left alone;
- the order of storage parameters (`WITH (fillfactor=…, …)`), a set;
- counters, session settings and dump headers: AUTO_INCREMENT=N, DEFINER clauses,
  MariaDB event STARTS times (the creation time when the SQL names none), pg_dump's SET
  lines, comments and `\\restrict` keys;
- whitespace (runs of it, including inside string literals and routine bodies, become
  one space), and for SQLite, whose stored SQL is the author's text, letter case,
  identifier quoting and `IF NOT EXISTS`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

_WS = re.compile(r"\s+")

# ---------------------------------------------------------------------------------
# Shared: a bracket/quote-aware scan of CREATE TABLE element lists.


def _squash(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _scan(text: str, start: int, *, backslash: bool) -> int:
    """Index just past the quoted token that starts at `start` ('…', "…" or `…`)."""
    quote = text[start]
    i = start + 1
    while i < len(text):
        char = text[i]
        if backslash and quote == "'" and char == "\\":
            i += 2
            continue
        if char == quote:
            if i + 1 < len(text) and text[i + 1] == quote:  # doubled: escaped
                i += 2
                continue
            return i + 1
        i += 1
    return len(text)


def _split_table(text: str, *, backslash: bool) -> tuple[str, list[str], str] | None:
    """(head, elements, tail) of `CREATE TABLE head (elements) tail…`, or None.

    `elements` are the top-level comma-separated items of the first parenthesised
    list (columns and constraints); `tail` is everything after its closing bracket.
    None when the first statement has no such list (`CREATE TABLE t OF type;`)."""
    depth, open_at, i = 0, -1, 0
    while i < len(text):
        char = text[i]
        if char in "'\"`":
            i = _scan(text, i, backslash=backslash)
            continue
        if char == "(":
            depth += 1
            if open_at < 0:
                open_at = i
        elif char == ")":
            depth -= 1
            if depth == 0:
                elements = [_squash(e) for e in _top_level_commas(text[open_at + 1 : i], backslash)]
                return _squash(text[:open_at]), [e for e in elements if e], text[i + 1 :]
        elif char == ";" and depth == 0:
            return None
        i += 1
    return None


def _top_level_commas(text: str, backslash: bool) -> list[str]:
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        char = text[i]
        if char in "'\"`":
            i = _scan(text, i, backslash=backslash)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def _table_lines(head: str, elements: Iterable[str], tail: str) -> list[str]:
    """One line for the table itself and one per column/constraint (a set, see above)."""
    lines = [f"{head} (…) {_squash(tail)}".rstrip()]
    lines += [f"{head} :: {element}" for element in elements]
    return lines


def diff_summary(migrated: Sequence[str], desired: Sequence[str]) -> str | None:
    """None when the two normalised schemas are equal, else one line: the first line
    (in sorted order) only the migrated side has, and the first only the oracle has."""
    only_migrated = sorted((Counter(migrated) - Counter(desired)).elements())
    only_desired = sorted((Counter(desired) - Counter(migrated)).elements())
    if not only_migrated and not only_desired:
        return None

    def first(lines: list[str]) -> str:
        if not lines:
            return "(nothing)"
        more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
        return lines[0][:160] + more

    return f"migrated has: {first(only_migrated)} | desired has: {first(only_desired)}"


# ---------------------------------------------------------------------------------
# PostgreSQL: pg_dump --schema-only --no-owner --no-privileges

_PG_TOC = re.compile(r"^-- (?:Name|Data for Name): .*; Type: .*; Schema: .*; Owner: .*$")
_PG_COMMENTS = re.compile(
    r"^-- (?:PostgreSQL database dump(?: complete)?|Dumped (?:from|by) .*|"
    r"Started on .*|Completed on .*|TOC entry .*)$"
)
# The settings pg_dump emits (its preamble and before tables); nothing a schema holds.
_PG_SET = re.compile(
    r"^(?:SET (?:statement_timeout|lock_timeout|idle_in_transaction_session_timeout|"
    r"transaction_timeout|client_encoding|standard_conforming_strings|check_function_bodies|"
    r"xmloption|client_min_messages|row_security|default_tablespace|"
    r"default_table_access_method) = .*;|"
    r"SELECT pg_catalog\.set_config\('search_path', '', false\);|\\(?:un)?restrict \S+)$"
)
_PG_IDENT = r'(?:"(?:[^"]|"")*"|[\w$]+)'
_PG_QNAME = rf"{_PG_IDENT}(?:\.{_PG_IDENT})*"
_PG_OWNED = re.compile(rf"^ALTER SEQUENCE ({_PG_QNAME}) OWNED BY ({_PG_QNAME});$", re.M)
_PG_IDENTITY = re.compile(
    rf"ALTER TABLE (?:ONLY )?({_PG_QNAME}) ALTER COLUMN ({_PG_IDENT}) ADD GENERATED "
    rf"(?:ALWAYS|BY DEFAULT) AS IDENTITY \(\s*SEQUENCE NAME ({_PG_QNAME})"
)
_PG_TABLE = re.compile(r"^CREATE (?:UNLOGGED |FOREIGN )?TABLE ")
# A name PostgreSQL generates for a serial/identity column's sequence.
_PG_GENERATED_SEQ = re.compile(r'_seq\d*"?$')


def _pg_generated_sequences(text: str) -> dict[str, str]:
    """Sequence name -> placeholder, for the sequences of serial and identity columns."""
    names: dict[str, str] = {}
    for match in _PG_OWNED.finditer(text):
        sequence, column = match.groups()
        if _PG_GENERATED_SEQ.search(sequence):
            names[sequence] = f"<sequence of {column}>"
    for match in _PG_IDENTITY.finditer(text):
        table, column, sequence = match.groups()
        if _PG_GENERATED_SEQ.search(sequence):
            names[sequence] = f"<sequence of {table}.{column}>"
    return names


def _pg_blocks(text: str) -> list[str]:
    """The bodies of the dump's TOC blocks (`-- Name: …; Type: …` sections)."""
    lines = text.splitlines()
    drop: set[int] = set()
    for i, line in enumerate(lines):
        if _PG_TOC.match(line) or _PG_COMMENTS.match(line):
            drop.add(i)
            drop.update(j for j in (i - 1, i + 1) if 0 <= j < len(lines) and lines[j] == "--")
    blocks: list[list[str]] = [[]]
    for i, line in enumerate(lines):
        if _PG_TOC.match(line):
            blocks.append([])
        if i in drop or _PG_SET.match(line):
            continue
        blocks[-1].append(line)
    return [body for body in ("\n".join(b).strip() for b in blocks) if body]


def _pg_statements(body: str) -> list[str]:
    """A block body as lines: a table is exploded into its elements, the statements
    that follow a CREATE TABLE in its block (SET STATISTICS, REPLICA IDENTITY…) each
    get a line, any other block is one line."""
    if not _PG_TABLE.match(body):
        return [_squash(body)]
    parts = _split_table(body, backslash=False)
    if parts is None:
        return [_squash(body)]
    head, elements, tail = parts
    statement_tail, _, rest = tail.partition(";")
    lines = _table_lines(head, elements, statement_tail)
    for statement in re.split(r";[ \t]*\n", rest):
        if _squash(statement).rstrip(";"):
            lines.append(_squash(statement).rstrip(";") + ";")
    return lines


# A storage-parameter list (`WITH (fillfactor='70', deduplicate_items='on')`): a set.
_PG_RELOPTIONS = re.compile(
    r"\bWITH \((\w+=(?:'[^'(),]*'|[\w.-]+)(?:, \w+=(?:'[^'(),]*'|[\w.-]+))*)\)"
)


def _pg_sorted_options(line: str) -> str:
    return _PG_RELOPTIONS.sub(lambda m: f"WITH ({', '.join(sorted(m.group(1).split(', ')))})", line)


# `time(6)`, `timestamp(6)`, `interval(6)`: precision 6 is the types' maximum and their
# default, so they hold the same values as the bare types. The engine treats them as
# equal, as Atlas does (it creates `timestamp(6)` as `timestamp`; README, issue 13), and
# so does the comparison.
_PG_DEFAULT_PRECISION = re.compile(r"\b(time|timestamp|interval)\(6\)")


def normalise_pg_dump(text: str) -> list[str]:
    """pg_dump's schema-only output as a sorted list of comparable lines."""
    text = _PG_DEFAULT_PRECISION.sub(r"\1", text)
    sequences = _pg_generated_sequences(text)
    if sequences:
        pattern = re.compile(
            r"(?<![\w$\"])(?:"
            + "|".join(re.escape(n) for n in sorted(sequences, key=len, reverse=True))
            + r")(?![\w$\"])"
        )
        text = pattern.sub(lambda m: sequences[m.group(0)], text)
    lines: list[str] = []
    for body in _pg_blocks(text):
        lines += _pg_statements(body)
    return sorted(_pg_sorted_options(line) for line in lines)


# ---------------------------------------------------------------------------------
# MariaDB: SHOW CREATE TABLE / VIEW / SEQUENCE / TRIGGER / FUNCTION / PROCEDURE / EVENT

_MY_AUTO_INCREMENT = re.compile(r"\s*\bAUTO_INCREMENT=\d+\b")
_MY_NAME = r"(?:`(?:[^`]|``)*`|'[^']*'|[\w.%$-]+)"
_MY_DEFINER = re.compile(rf"DEFINER={_MY_NAME}@{_MY_NAME}")
_MY_GENERATED_NAMES = (
    (re.compile(r"`CONSTRAINT_\d+`"), "`CONSTRAINT_#`"),
    (re.compile(r"(`[^`]*_ibfk_)\d+`"), r"\1#`"),
)
_MY_STARTS = re.compile(r"\bSTARTS '[^']*'")


def normalise_mariadb(objects: Iterable[tuple[str, str, str]]) -> list[str]:
    """(kind, name, SHOW CREATE text) of every object as a sorted list of lines;
    kind is TABLE, VIEW, SEQUENCE, TRIGGER, FUNCTION, PROCEDURE or EVENT."""
    lines: list[str] = []
    for kind, _name, create in objects:
        text = _MY_DEFINER.sub("DEFINER=<definer>", create)
        for pattern, replacement in _MY_GENERATED_NAMES:
            text = pattern.sub(replacement, text)
        if kind == "EVENT":
            text = _MY_STARTS.sub("STARTS <time>", text)
        if kind == "TABLE":
            text = _MY_AUTO_INCREMENT.sub("", text)
            parts = _split_table(text, backslash=True)
            if parts is not None:
                lines += _table_lines(*parts)
                continue
        lines.append(_squash(text))
    return sorted(lines)


# ---------------------------------------------------------------------------------
# SQLite: sqlite_master

_LITE_TOKEN = re.compile(
    r"""(?P<string>'(?:[^']|'')*')|(?P<quoted>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\])"""
    r"""|(?P<comment>--[^\n]*|/\*.*?\*/)|(?P<word>[A-Za-z_][\w$]*)"""
    r"""|(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|(?P<space>\s+)|(?P<other>.)""",
    re.S,
)
_LITE_AUTOINDEX = re.compile(r"^(sqlite_autoindex_.*_)\d+$")


def _lite_tokens(sql: str) -> list[str]:
    tokens: list[str] = []
    for match in _LITE_TOKEN.finditer(sql):
        kind, value = match.lastgroup, match.group()
        if kind in ("space", "comment"):
            continue
        if kind == "word":
            value = value.lower()
        elif kind == "quoted":
            value = _lite_name(value)
        tokens.append(value)
    if tokens[:1] == ["create"]:
        # IF NOT EXISTS is part of the statement, not of the schema.
        for i in range(1, min(len(tokens), 5)):
            if tokens[i : i + 3] == ["if", "not", "exists"]:
                del tokens[i : i + 3]
                break
        # SQLite takes a 'string' where it expects a name (the object's name here).
        for i in range(1, min(len(tokens), 4)):
            if tokens[i - 1] in ("table", "index", "view", "trigger") and tokens[i][0] == "'":
                tokens[i] = _lite_name(tokens[i])
    return tokens


def _lite_name(quoted: str) -> str:
    """A quoted identifier (or a 'string' used as one) as a bare lower-case name,
    quoted again only when it is not a plain word: SQLite's names ignore case."""
    name = quoted[1:-1]
    if quoted[0] != "[":
        name = name.replace(quoted[0] * 2, quoted[0])
    name = name.lower()
    return name if re.fullmatch(r"[^\W\d]\w*", name) else '"' + name.replace('"', '""') + '"'


# Words that start a column constraint, i.e. end the previous one.
_LITE_CONSTRAINTS = {
    "constraint", "primary", "not", "null", "unique", "check", "default",
    "collate", "references", "generated", "as",
}  # fmt: skip


def _lite_column(tokens: list[str]) -> tuple[list[str], bool]:
    """A column definition with SQLite's spelling variants folded: `GENERATED ALWAYS
    AS (…)` is `AS (…)`, VIRTUAL is the default storage; a plain `PRIMARY KEY [ASC]`
    is taken out (the caller writes it as the table constraint it is equivalent to)."""
    out: list[str] = []
    primary = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if tokens[i : i + 3] == ["generated", "always", "as"]:
            i += 2
            continue
        if token == "virtual" and out and out[-1] == ")":
            i += 1
            continue
        if tokens[i : i + 2] == ["primary", "key"] and out and out[-1] != "constraint":
            j = i + 2 + (tokens[i + 2 : i + 3] == ["asc"])
            if j == len(tokens) or tokens[j] in _LITE_CONSTRAINTS:
                primary = True
                i = j
                continue
        out.append(token)
        i += 1
    return out, primary


def _lite_split(tokens: list[str]) -> list[list[str]]:
    """Top-level comma-separated token groups."""
    groups: list[list[str]] = [[]]
    depth = 0
    for token in tokens:
        depth += (token == "(") - (token == ")")
        if token == "," and depth == 0:
            groups.append([])
        else:
            groups[-1].append(token)
    return [g for g in groups if g]


def normalise_sqlite_sql(sql: str) -> list[str]:
    """One stored CREATE statement as lines (a table: one per column/constraint)."""
    tokens = _lite_tokens(sql)
    if tokens[:2] != ["create", "table"] or "(" not in tokens:
        return [" ".join(tokens)]
    start = tokens.index("(")
    depth = 0
    for end in range(start, len(tokens)):
        depth += (tokens[end] == "(") - (tokens[end] == ")")
        if depth == 0:
            break
    else:
        return [" ".join(tokens)]
    options = sorted(" ".join(g) for g in _lite_split(tokens[end + 1 :]))
    elements: list[str] = []
    keys: list[str] = []
    for group in _lite_split(tokens[start + 1 : end]):
        if group[0] in ("constraint", "primary", "unique", "check", "foreign"):
            elements.append(" ".join(group))
            if group[:2] == ["primary", "key"]:
                keys += [g[0] for g in _lite_split(group[3:-1]) if g]
            continue
        if group[0][0] == "'":  # a column named by a 'string'
            group[0] = _lite_name(group[0])
        column, primary = _lite_column(group)
        if primary:
            elements.append(f"primary key ( {column[0]} )")
            keys.append(column[0])
        elements.append(" ".join(column))
    if "without rowid" in options:
        # Every column of a WITHOUT ROWID table's primary key is NOT NULL anyway.
        elements = [
            e.replace(" not null", "") if e.split(" ", 1)[0] in keys else e for e in elements
        ]
    return _table_lines(" ".join(tokens[:start]), elements, " , ".join(options))


def normalise_sqlite(rows: Iterable[tuple[str, str, str, str | None]]) -> list[str]:
    """sqlite_master rows (type, name, tbl_name, sql) as a sorted list of lines."""
    lines: list[str] = []
    for kind, name, table, sql in rows:
        name = _LITE_AUTOINDEX.sub(r"\1#", name)
        prefix = f"{kind} {name.lower()} on {table.lower()}"
        if sql is None:
            lines.append(prefix)
            continue
        lines += [f"{prefix}: {line}" for line in normalise_sqlite_sql(sql)]
    return sorted(lines)
