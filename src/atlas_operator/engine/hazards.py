"""Hazards: what a planned statement risks on a database serving traffic.

Each driver computes them from the change a statement makes and its own lock semantics
(`drivers/<name>/hazards.py`, behind `Driver.hazards`); the plan carries them on every
`PlannedStatement`, `schema apply --dry-run` and `schema diff` print them above the
statement, and `migrate lint` reports them with the HZ analyzer codes.

The kinds are pg-schema-diff's where it has one (`PG_SCHEMA_DIFF`), and ours otherwise
(`TableRewrite`). A catalog-only ALTER (a default, a comment, a nullable column) takes
PostgreSQL's ACCESS EXCLUSIVE lock only for an instant: it is not a hazard, as in
pg-schema-diff; the lock is one when work proportional to the table runs under it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DELETES_DATA = "DeletesData"
ACCESS_EXCLUSIVE = "AcquiresAccessExclusiveLock"
SHARE_LOCK = "AcquiresShareLock"
SHARE_ROW_EXCLUSIVE = "AcquiresShareRowExclusiveLock"
TABLE_REWRITE = "TableRewrite"
INDEX_BUILD = "IndexBuild"
INDEX_DROPPED = "IndexDropped"
PERFORMANCE = "ImpactsDatabasePerformance"
UNTRACKABLE = "HasUntrackableDependencies"
CORRECTNESS = "Correctness"

KINDS = (
    DELETES_DATA,
    ACCESS_EXCLUSIVE,
    SHARE_LOCK,
    SHARE_ROW_EXCLUSIVE,
    TABLE_REWRITE,
    INDEX_BUILD,
    INDEX_DROPPED,
    PERFORMANCE,
    UNTRACKABLE,
    CORRECTNESS,
)
"""Every hazard kind, in the order of their lint codes (HZ101…HZ110)."""

PG_SCHEMA_DIFF = {
    DELETES_DATA: "DELETES_DATA",
    ACCESS_EXCLUSIVE: "ACQUIRES_ACCESS_EXCLUSIVE_LOCK",
    SHARE_LOCK: "ACQUIRES_SHARE_LOCK",
    SHARE_ROW_EXCLUSIVE: "ACQUIRES_SHARE_ROW_EXCLUSIVE_LOCK",
    TABLE_REWRITE: None,
    INDEX_BUILD: "INDEX_BUILD",
    INDEX_DROPPED: "INDEX_DROPPED",
    PERFORMANCE: "IMPACTS_DATABASE_PERFORMANCE",
    UNTRACKABLE: "HAS_UNTRACKABLE_DEPENDENCIES",
    CORRECTNESS: "CORRECTNESS",
}
"""pg-schema-diff's `MigrationHazardType` of each kind (None: it has no such kind)."""

LINT_CODES = {kind: f"HZ{101 + i}" for i, kind in enumerate(KINDS)}


@dataclass(frozen=True)
class Hazard:
    kind: str
    message: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown hazard kind {self.kind!r}")

    @property
    def comment(self) -> str:
        """The comment line printed above its statement (without `-- `)."""
        return f"Hazard {self.kind}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"Type": self.kind, "Message": self.message}


def unique(hazards: list[Hazard]) -> tuple[Hazard, ...]:
    """One hazard per kind, in order of first appearance: several clauses of one
    statement may take the same lock, and their messages are joined."""
    messages: dict[str, list[str]] = {}
    for hazard in hazards:
        kept = messages.setdefault(hazard.kind, [])
        if hazard.message not in kept:
            kept.append(hazard.message)
    return tuple(Hazard(kind, "; ".join(texts)) for kind, texts in messages.items())


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 'es' if noun.endswith('x') else 's'}"


# --- statements ---------------------------------------------------------------------------

IDENT = r'(?:"(?:[^"]|"")+"|`(?:[^`]|``)+`|\[[^\]]+\]|[\w$]+)'
CREATE_INDEX = re.compile(
    rf"^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?P<concurrently>CONCURRENTLY\s+)?"
    rf"(?:IF\s+NOT\s+EXISTS\s+)?(?:{IDENT}\s*\.\s*)?(?P<name>{IDENT})",
    re.IGNORECASE,
)
DROP_INDEX = re.compile(
    rf"^\s*DROP\s+INDEX\s+(?P<concurrently>CONCURRENTLY\s+)?(?:IF\s+EXISTS\s+)?"
    rf"(?:{IDENT}\s*\.\s*)?(?P<name>{IDENT})",
    re.IGNORECASE,
)


def unquote(name: str) -> str:
    if name[:1] in ('"', "`"):
        return name[1:-1].replace(name[0] * 2, name[0])
    if name[:1] == "[":
        return name[1:-1]
    return name


@dataclass(frozen=True)
class IndexStatement:
    """A statement that creates or drops one index (its name, unquoted)."""

    create: bool
    name: str
    concurrently: bool


def index_statement(sql: str) -> IndexStatement | None:
    for create, pattern in ((True, CREATE_INDEX), (False, DROP_INDEX)):
        match = pattern.match(sql)
        if match:
            name = unquote(match.group("name"))
            return IndexStatement(create, name, bool(match.group("concurrently")))
    return None


def head(sql: str, words: int = 2) -> str:
    """The statement's first words, upper-cased (`ALTER TABLE`)."""
    return " ".join(sql.split()[:words]).upper()


# --- types --------------------------------------------------------------------------------

INTEGER_RANK = {
    "tinyint": 1,
    "smallint": 2,
    "int2": 2,
    "mediumint": 3,
    "int": 4,
    "integer": 4,
    "int4": 4,
    "bigint": 8,
    "int8": 8,
}
TYPE = re.compile(r"^([a-z ]+?)\s*(?:\((\d+)(?:\s*,\s*(\d+))?\))?(\s+unsigned)?$")
TEXTS = ("text", "mediumtext", "longtext", "character varying", "varchar")


def is_widening(before: str, after: str) -> bool:
    """Whether every value of `before` fits `after` unchanged (known cases only)."""
    b, a = TYPE.match(before.lower()), TYPE.match(after.lower())
    if not b or not a:
        return False
    b_name, b_len, b_scale, b_unsigned = b.groups()
    a_name, a_len, a_scale, a_unsigned = a.groups()
    if b_name in INTEGER_RANK and a_name in INTEGER_RANK:
        return bool(
            INTEGER_RANK[a_name] > INTEGER_RANK[b_name]
            or (
                INTEGER_RANK[a_name] == INTEGER_RANK[b_name]
                and bool(b_unsigned) == bool(a_unsigned)
            )
        )
    if b_name in ("varchar", "character varying", "char", "character") and a_name in TEXTS:
        return a_len is None or (b_len is not None and int(a_len) >= int(b_len))
    if b_name in ("numeric", "decimal") and a_name == b_name and b_len and a_len:
        b_int, a_int = int(b_len) - int(b_scale or 0), int(a_len) - int(a_scale or 0)
        return a_int >= b_int and int(a_scale or 0) >= int(b_scale or 0)
    return b_name == "text" and a_name in ("mediumtext", "longtext")


def is_narrowing(before: str, after: str) -> bool:
    """Whether some values of `before` are known not to fit `after`: a shorter string
    type, a smaller integer, fewer digits. Unknown pairs are not narrowing (they are
    reported as rewrites, and by lint's MF105)."""
    b, a = TYPE.match(before.lower()), TYPE.match(after.lower())
    if not b or not a or is_widening(before, after):
        return False
    b_name, b_len, _, _ = b.groups()
    a_name, a_len, _, _ = a.groups()
    if b_name in INTEGER_RANK and a_name in INTEGER_RANK:
        return True
    strings = ("varchar", "character varying", "char", "character", *TEXTS)
    if b_name in strings and a_name in strings:
        return a_len is not None and (b_len is None or int(a_len) < int(b_len))
    if b_name in ("numeric", "decimal") and a_name in ("numeric", "decimal"):
        return True
    return b_name in ("longtext", "mediumtext") and a_name in ("text", "mediumtext")


VOLATILE = re.compile(
    r"\b(random|gen_random_uuid|uuid_generate_v\d\w*|clock_timestamp|timeofday|nextval|"
    r"uuid|rand|sys_guid)\s*\(",
    re.IGNORECASE,
)


def is_volatile(default: str | None) -> bool:
    """A default evaluated once per row (PostgreSQL and MySQL then fill the column row by
    row, rewriting the table). `now()`/CURRENT_TIMESTAMP are stable within a statement,
    so they are not."""
    return default is not None and VOLATILE.search(default) is not None
