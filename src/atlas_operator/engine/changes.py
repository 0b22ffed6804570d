"""Schema changes: what the diff finds and the planner renders.

Top-level changes act on schemas and tables; a `ModifyTable` carries the
table-level changes. Each change knows its `policy.diff.skip` key, so the skip
policy is one filter over kinds rather than a check in every diff step.
"""

from __future__ import annotations

from dataclasses import dataclass

from atlas_operator.engine.model import (
    Check,
    Column,
    ForeignKey,
    Index,
    PrimaryKey,
    Schema,
    Table,
)


@dataclass(frozen=True)
class AddColumn:
    column: Column
    skip_key = "add_column"


@dataclass(frozen=True)
class DropColumn:
    column: Column
    skip_key = "drop_column"


@dataclass(frozen=True)
class ModifyColumn:
    before: Column
    after: Column
    kinds: frozenset[str]
    """What changed: a subset of {type, null, default, comment, generated, identity,
    auto_increment, collation}."""
    skip_key = "modify_column"


@dataclass(frozen=True)
class AddIndex:
    index: Index
    skip_key = "add_index"


@dataclass(frozen=True)
class DropIndex:
    index: Index
    skip_key = "drop_index"


@dataclass(frozen=True)
class ModifyIndex:
    before: Index
    after: Index
    skip_key = "modify_index"


@dataclass(frozen=True)
class AddForeignKey:
    foreign_key: ForeignKey
    skip_key = "add_foreign_key"


@dataclass(frozen=True)
class DropForeignKey:
    foreign_key: ForeignKey
    skip_key = "drop_foreign_key"


@dataclass(frozen=True)
class ModifyForeignKey:
    before: ForeignKey
    after: ForeignKey
    skip_key = "modify_foreign_key"


@dataclass(frozen=True)
class AddPrimaryKey:
    primary_key: PrimaryKey
    skip_key = None  # not skippable, as in Atlas


@dataclass(frozen=True)
class DropPrimaryKey:
    primary_key: PrimaryKey
    skip_key = None


@dataclass(frozen=True)
class ModifyPrimaryKey:
    before: PrimaryKey
    after: PrimaryKey
    skip_key = None


@dataclass(frozen=True)
class AddCheck:
    check: Check
    skip_key = None


@dataclass(frozen=True)
class DropCheck:
    check: Check
    skip_key = None


@dataclass(frozen=True)
class ModifyCheck:
    before: Check
    after: Check
    skip_key = None


@dataclass(frozen=True)
class ModifyTableAttr:
    """A table comment or option changed (`name` is `comment` or an option name)."""

    name: str
    before: str | None
    after: str | None
    skip_key = "modify_table"


TableChange = (
    AddColumn
    | DropColumn
    | ModifyColumn
    | AddIndex
    | DropIndex
    | ModifyIndex
    | AddForeignKey
    | DropForeignKey
    | ModifyForeignKey
    | AddPrimaryKey
    | DropPrimaryKey
    | ModifyPrimaryKey
    | AddCheck
    | DropCheck
    | ModifyCheck
    | ModifyTableAttr
)


@dataclass(frozen=True)
class AddSchema:
    schema: Schema
    skip_key = "add_schema"


@dataclass(frozen=True)
class DropSchema:
    schema: Schema
    skip_key = "drop_schema"


@dataclass(frozen=True)
class ModifySchema:
    before: Schema
    after: Schema
    skip_key = "modify_schema"


@dataclass(frozen=True)
class AddTable:
    schema: str
    table: Table
    skip_key = "add_table"


@dataclass(frozen=True)
class DropTable:
    schema: str
    table: Table
    skip_key = "drop_table"


@dataclass(frozen=True)
class ModifyTable:
    schema: str
    before: Table
    after: Table
    changes: tuple[TableChange, ...]
    skip_key = "modify_table"

    def with_changes(self, changes: tuple[TableChange, ...]) -> ModifyTable:
        return ModifyTable(self.schema, self.before, self.after, changes)


Change = AddSchema | DropSchema | ModifySchema | AddTable | DropTable | ModifyTable

SKIP_KEYS = (
    "add_schema",
    "drop_schema",
    "modify_schema",
    "add_table",
    "drop_table",
    "modify_table",
    "add_column",
    "drop_column",
    "modify_column",
    "add_index",
    "drop_index",
    "modify_index",
    "add_foreign_key",
    "drop_foreign_key",
    "modify_foreign_key",
)


def skip_changes(changes: list[Change], skip: frozenset[str]) -> list[Change]:
    """Removes the change kinds named by `policy.diff.skip` keys, at every level."""
    unknown = skip - set(SKIP_KEYS)
    if unknown:
        raise ValueError(f"unknown diff skip kind(s): {', '.join(sorted(unknown))}")
    kept: list[Change] = []
    for change in changes:
        if change.skip_key in skip:
            continue
        if isinstance(change, ModifyTable):
            nested = tuple(c for c in change.changes if c.skip_key not in skip)
            if not nested:
                continue
            change = change.with_changes(nested)
        kept.append(change)
    return kept


DESTRUCTIVE = (DropSchema, DropTable)


def destructive_changes(changes: list[Change]) -> list[Change]:
    """Changes that lose data: dropped schemas, tables and (non-generated) columns.

    A dropped column comes back as a ModifyTable holding only that drop, so each
    finding can be rendered as a statement of its own for the lint message."""
    found: list[Change] = []
    for change in changes:
        if isinstance(change, DESTRUCTIVE):
            found.append(change)
        elif isinstance(change, ModifyTable):
            found.extend(
                change.with_changes((c,))
                for c in change.changes
                if isinstance(c, DropColumn) and c.column.generated is None
            )
    return found
