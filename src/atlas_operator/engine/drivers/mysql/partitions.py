"""MySQL/MariaDB partitioning: read from SHOW CREATE TABLE, rendered back as SQL.

Why SHOW CREATE TABLE and not information_schema.PARTITIONS: the catalog loses what the
statement keeps. It cannot tell `PARTITIONS 2` from two partitions named p0 and p1
(SHOW CREATE prints them differently, and so must the migrated table), a LIST DEFAULT
partition from `VALUES IN (0)` (both read `0`), nor `KEY ALGORITHM = 1`, and it has
no per-partition MAX_ROWS or directories. The inspector already runs SHOW CREATE TABLE
for some tables (showcreate.py); it adds the partitioned ones, which TABLES.CREATE_OPTIONS
marks `partitioned`, so unpartitioned tables cost no query.

The clause is what the server prints after the table options: on MariaDB
` PARTITION BY …` on a line of its own, on MySQL 8 the same inside a version comment
(`/*!50100 PARTITION BY … */`). Values stay as printed (`year(`joined`)`, `MAXVALUE`,
`'2024-01-01'`), the server's normal form, so planning renders them back verbatim.
MariaDB's SYSTEM_TIME partitioning (of system-versioned tables, with a start time the
server picks at creation) is not modelled: the table reads as unpartitioned.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from atlas_operator.engine.changes import (
    AddPartitions,
    DropPartitions,
    ModifyPartitionCount,
    ModifyPartitioning,
    ReorganizePartitions,
    TableChange,
)
from atlas_operator.engine.drivers.base import PlannedStatement
from atlas_operator.engine.drivers.mysql.session import quote, quote_string
from atlas_operator.engine.model import Partition, Partitioning, PartitionScheme, SubPartition
from atlas_operator.engine.sqltext import parenthesized, skip_quoted

METHODS = (
    "RANGE COLUMNS",
    "LIST COLUMNS",
    "RANGE",
    "LIST",
    "LINEAR HASH",
    "LINEAR KEY",
    "HASH",
    "KEY",
)
# Where the clause starts: a line of its own after the `) ENGINE=…` line.
CLAUSE_START = re.compile(r"^\s*(?:/\*!\d+\s*)?PARTITION BY\b", re.MULTILINE)
VERSION_COMMENT = re.compile(r"/\*!\d*|\*/")
WORD = re.compile(r"[\w$]+")
# Option names of a partition definition, as the server prints them (two words for the
# directories); the value follows `=`.
OPTION_NAME = re.compile(
    r"(DATA DIRECTORY|INDEX DIRECTORY|STORAGE ENGINE|ENGINE|COMMENT|MAX_ROWS|MIN_ROWS"
    r"|TABLESPACE|NODEGROUP)\s*=?\s*",
    re.IGNORECASE,
)


T = TypeVar("T")


class ParseError(ValueError):
    """The clause does not have the shape the server prints."""


# --- reading ------------------------------------------------------------------------------


def split_create_table(text: str) -> tuple[str, str | None]:
    """(the statement up to its table options, the partition clause or None)."""
    close = re.search(r"^\)", text, re.MULTILINE)  # the line closing the column list
    start = CLAUSE_START.search(text, close.end() if close else 0)
    if start is None:
        return text, None
    return text[: start.start()].rstrip(), text[start.start() :]


def partitioning_of(create_table: str) -> Partitioning | None:
    """The partitioning SHOW CREATE TABLE prints; None when there is none, or only one
    this module does not model (SYSTEM_TIME)."""
    _, clause = split_create_table(create_table)
    if clause is None:
        return None
    text = strip_version_comments(clause)
    if re.match(r"\s*PARTITION BY\s+SYSTEM_TIME\b", text, re.IGNORECASE):
        return None
    return Reader(text).partitioning()


def strip_version_comments(text: str) -> str:
    """`/*!50100 PARTITION BY … */` → ` PARTITION BY … ` (quotes respected)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] in "'`\"":
            end = skip_quoted(text, i, backslash=True)
            out.append(text[i:end])
            i = end
            continue
        match = VERSION_COMMENT.match(text, i)
        if match:
            out.append(" ")
            i = match.end()
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


@dataclass
class Reader:
    """A cursor over the clause text: words, quoted names and strings, parenthesised
    groups taken whole."""

    text: str
    pos: int = 0

    def partitioning(self) -> Partitioning:
        self.expect("PARTITION BY")
        by = self.scheme(sub=False)
        sub = None
        if self.accept("SUBPARTITION BY"):
            sub = self.scheme(sub=True)
        partitions: tuple[Partition, ...] = ()
        if self.peek("("):
            partitions = tuple(self.each(self.partition))
        self.skip_space()
        if self.pos != len(self.text):
            raise ParseError(f"unexpected text after the partitions: {self.text[self.pos :]!r}")
        return Partitioning(by=by, partitions=partitions, sub=sub)

    def scheme(self, sub: bool) -> PartitionScheme:
        method = next((m for m in METHODS if self.accept(m)), None)
        if method is None:
            raise ParseError(f"unknown partitioning at {self.text[self.pos :][:40]!r}")
        algorithm = None
        if self.accept("ALGORITHM"):
            self.accept("=")
            algorithm = int(self.word())
        expr = self.group().strip()
        count = None
        if self.accept("SUBPARTITIONS" if sub else "PARTITIONS"):
            count = int(self.word())
        return PartitionScheme(method=method, expr=expr, algorithm=algorithm, count=count)

    def partition(self) -> Partition:
        self.expect("PARTITION")
        name = self.name()
        bound = None
        if self.accept("VALUES LESS THAN"):
            bound = "VALUES LESS THAN " + ("MAXVALUE" if self.accept("MAXVALUE") else self.raw())
        elif self.accept("VALUES IN"):
            bound = "VALUES IN " + self.raw()
        elif self.accept("DEFAULT"):
            bound = "DEFAULT"
        comment, options = self.options()
        subs: tuple[SubPartition, ...] = ()
        if self.peek("("):
            subs = tuple(self.each(self.subpartition))
        return Partition(name, bound, comment, options, subs)

    def subpartition(self) -> SubPartition:
        self.expect("SUBPARTITION")
        name = self.name()
        comment, options = self.options()
        return SubPartition(name, comment, options)

    def options(self) -> tuple[str | None, tuple[tuple[str, str], ...]]:
        """COMMENT (decoded) and the other options; ENGINE is the table's and dropped."""
        comment: str | None = None
        options: list[tuple[str, str]] = []
        while True:
            self.skip_space()
            match = OPTION_NAME.match(self.text, self.pos)
            if match is None:
                return comment, tuple(options)
            self.pos = match.end()
            option = " ".join(match.group(1).upper().split())
            value = self.value()
            if option == "COMMENT":
                comment = decode_string(value) or None
            elif not option.endswith("ENGINE"):
                options.append((option, value))

    def each(self, read: Callable[[], T]) -> list[T]:
        """`(item, item, …)`: items that may hold parentheses of their own."""
        self.expect("(")
        items = [read()]
        while self.accept(","):
            items.append(read())
        self.expect(")")
        return items

    # --- tokens ---

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self, token: str) -> bool:
        self.skip_space()
        return self.text.startswith(token, self.pos)

    def accept(self, phrase: str) -> bool:
        """Consumes `phrase` (words separated by any space, any case) when it is next."""
        self.skip_space()
        if phrase in ("=", ",", "(", ")"):
            if self.text.startswith(phrase, self.pos):
                self.pos += 1
                return True
            return False
        pattern = r"\s+".join(re.escape(w) for w in phrase.split()) + r"(?![\w$])"
        match = re.compile(pattern, re.IGNORECASE).match(self.text, self.pos)
        if match is None:
            return False
        self.pos = match.end()
        return True

    def expect(self, phrase: str) -> None:
        if not self.accept(phrase):
            raise ParseError(f"expected {phrase} at {self.text[self.pos :][:40]!r}")

    def word(self) -> str:
        self.skip_space()
        match = WORD.match(self.text, self.pos)
        if match is None:
            raise ParseError(f"expected a word at {self.text[self.pos :][:40]!r}")
        self.pos = match.end()
        return match.group(0)

    def name(self) -> str:
        """A partition name: in backticks (doubled to escape), double quotes, or bare."""
        self.skip_space()
        if self.pos < len(self.text) and self.text[self.pos] in '`"':
            end = skip_quoted(self.text, self.pos)
            quote_char = self.text[self.pos]
            name = self.text[self.pos + 1 : end - 1].replace(quote_char * 2, quote_char)
            self.pos = end
            return name
        return self.word()

    def group(self) -> str:
        """The text inside the parentheses that come next."""
        self.skip_space()
        if not self.text.startswith("(", self.pos):
            raise ParseError(f"expected ( at {self.text[self.pos :][:40]!r}")
        inner, self.pos = parenthesized(self.text, self.pos, backslash=True)
        return inner

    def raw(self) -> str:
        """The parenthesised group that comes next, parentheses included."""
        return f"({self.group()})"

    def value(self) -> str:
        """An option value as printed: a string literal or a word."""
        self.skip_space()
        if self.text.startswith("'", self.pos):
            end = skip_quoted(self.text, self.pos, backslash=True)
            text = self.text[self.pos : end]
            self.pos = end
            return text
        return self.word()


def decode_string(literal: str) -> str:
    """`'it''s a \\\\ b'` → `it's a \\ b`: a string literal as the server prints it."""
    if not (len(literal) >= 2 and literal[0] == literal[-1] == "'"):
        return literal
    body, out, i = literal[1:-1], [], 0
    escapes = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "Z": "\x1a", "b": "\b"}
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(escapes.get(body[i + 1], body[i + 1]))
            i += 2
        elif ch == "'" and body[i + 1 : i + 2] == "'":
            out.append("'")
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# --- writing ------------------------------------------------------------------------------


def partitioning_sql(partitioning: Partitioning, separator: str = "\n") -> str:
    """`PARTITION BY …` for CREATE TABLE (one line per part) or ALTER TABLE (`" "`)."""
    parts = [scheme_sql(partitioning.by, sub=False)]
    if partitioning.sub is not None:
        parts.append(scheme_sql(partitioning.sub, sub=True))
    if partitioning.partitions:
        listed = f",{separator}".join(partition_sql(p) for p in partitioning.partitions)
        parts.append(f"({listed})")
    return separator.join(parts)


def scheme_sql(scheme: PartitionScheme, sub: bool) -> str:
    keyword = "SUBPARTITION BY" if sub else "PARTITION BY"
    if scheme.method.endswith(" COLUMNS"):
        sql = f"{keyword} {scheme.method}({scheme.expr})"
    else:
        algorithm = f" ALGORITHM = {scheme.algorithm}" if scheme.algorithm is not None else ""
        sql = f"{keyword} {scheme.method}{algorithm} ({scheme.expr})"
    if scheme.count is not None:
        sql += f" {'SUBPARTITIONS' if sub else 'PARTITIONS'} {scheme.count}"
    return sql


def partition_sql(partition: Partition) -> str:
    sql = f"PARTITION {quote(partition.name)}"
    if partition.bound:
        sql += f" {partition.bound}"
    sql += options_sql(partition.comment, partition.options)
    if partition.subpartitions:
        subs = ", ".join(
            f"SUBPARTITION {quote(s.name)}{options_sql(s.comment, s.options)}"
            for s in partition.subpartitions
        )
        sql += f" ({subs})"
    return sql


def options_sql(comment: str | None, options: tuple[tuple[str, str], ...]) -> str:
    sql = "".join(f" {name} = {value}" for name, value in options)
    if comment:
        sql += f" COMMENT = {quote_string(comment)}"
    return sql


def repartition_clause(change: ModifyPartitioning) -> str:
    """The clause that ends the table's ALTER TABLE: it may follow column and key changes
    in the same statement, which the server checks against the new layout only."""
    if change.after is None:
        return "REMOVE PARTITIONING"
    return partitioning_sql(change.after, " ")


def partition_statements(
    table_sql: str, table: str, changes: tuple[TableChange, ...]
) -> list[PlannedStatement]:
    """One ALTER TABLE per partition operation (the server takes one per statement, and
    none next to other changes), in the order the diff put them."""
    statements: list[PlannedStatement] = []
    for c in changes:
        operation = partition_operation(c, table)
        if operation is not None:
            sql, comment = operation
            statements.append(PlannedStatement(f"ALTER TABLE {table_sql} {sql}", comment))
    return statements


def partition_operation(c: TableChange, table: str) -> tuple[str, str] | None:
    """(the ALTER TABLE operation, its comment) of one partition change."""
    label = f'"{table}"'
    if isinstance(c, AddPartitions):
        listed = ", ".join(partition_sql(p) for p in c.partitions)
        return f"ADD PARTITION ({listed})", f"Add {named(c.partitions)} to {label} table"
    if isinstance(c, DropPartitions):
        names = ", ".join(quote(p.name) for p in c.partitions)
        return f"DROP PARTITION {names}", f"Drop {named(c.partitions)} of {label} table"
    if isinstance(c, ReorganizePartitions):
        names = ", ".join(quote(p.name) for p in c.before)
        listed = ", ".join(partition_sql(p) for p in c.after)
        return (
            f"REORGANIZE PARTITION {names} INTO ({listed})",
            f"Reorganize {named(c.before)} of {label} table",
        )
    if isinstance(c, ModifyPartitionCount):
        if c.after > c.before:
            count = c.after - c.before
            return f"ADD PARTITION PARTITIONS {count}", f"Add {count} partitions to {label} table"
        count = c.before - c.after
        return f"COALESCE PARTITION {count}", f"Coalesce {count} partitions of {label} table"
    return None


def named(partitions: tuple[Partition, ...]) -> str:
    noun = "partition" if len(partitions) == 1 else "partitions"
    return f"{noun} " + ", ".join(f'"{p.name}"' for p in partitions)
