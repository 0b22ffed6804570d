"""MySQL/MariaDB partitioning: current × desired → the partition changes that get there
with the least work, in the order they must run.

What the server can do in place, and what this module asks for:
- RANGE and LIST: partitions added after the last one (`ADD PARTITION`), dropped
  (`DROP PARTITION`, which deletes their rows), or a run of adjacent partitions replaced
  by new ones (`REORGANIZE PARTITION … INTO`): a split, a merge, a moved bound, a new
  comment. RANGE only lets a reorganisation keep the span of the partitions it replaces
  (or extend the last one), so the run is widened to the next unchanged partition
  when its upper bound moves.
- HASH and KEY: partitions added at the end (`ADD PARTITION`), a count that grows or
  shrinks (`ADD PARTITION PARTITIONS n`, `COALESCE PARTITION n`).
- LIST with a DEFAULT partition (MariaDB): a run whose values change takes DEFAULT in,
  and a DEFAULT that moves means partitioning anew (see `default_index`).
- Anything else (another scheme or subpartitioning, partitioning added or removed, a
  RANGE whose last bound shrinks): the table is partitioned anew (`PARTITION BY …`,
  `REMOVE PARTITIONING`), a copy that keeps every row or fails.

Partitions compare as a whole (name, bound, comment, options, subpartitions), and bounds
in the server's normal form, so equal text is equal meaning.
"""

from __future__ import annotations

import re

from atlas_operator.engine.changes import (
    AddPartitions,
    DropPartitions,
    ModifyPartitionCount,
    ModifyPartitioning,
    ReorganizePartitions,
    TableChange,
)
from atlas_operator.engine.model import Partition, Partitioning
from atlas_operator.engine.sqltext import split_top_level

HASHED = frozenset({"HASH", "LINEAR HASH", "KEY", "LINEAR KEY"})
RANGED = frozenset({"RANGE", "RANGE COLUMNS"})
LESS_THAN = "VALUES LESS THAN"
VALUES_IN = "VALUES IN"
# Literals whose text order is their value order: integers, and ISO dates and datetimes.
INTEGER = re.compile(r"-?\d+")
ISO_DATE = re.compile(r"'\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2}(?:\.\d+)?)?'")


def partitioning_changes(
    before: Partitioning | None, after: Partitioning | None
) -> list[TableChange]:
    """The changes from `before` to `after`, in the order the planner must render them."""
    if before == after:
        return []
    if before is None or after is None or not same_scheme(before, after):
        return [ModifyPartitioning(before, after)]
    if before.by.method in HASHED:
        return hashed_changes(before, after)
    return listed_changes(before, after)


def same_scheme(before: Partitioning, after: Partitioning) -> bool:
    """Whether only the partitions differ (the count of HASH and KEY ones included)."""
    return (
        before.by.method == after.by.method
        and before.by.expr == after.by.expr
        and before.by.algorithm == after.by.algorithm
        and before.sub == after.sub
    )


# --- HASH and KEY ---------------------------------------------------------------------


def hashed_changes(before: Partitioning, after: Partitioning) -> list[TableChange]:
    old, new = before.partitions, after.partitions
    if not old and not new:
        return counted_changes(before, after)
    if old and new:
        if new[: len(old)] == old:
            return [AddPartitions(new[len(old) :])]
        if old[: len(new)] == new:
            # COALESCE takes the last partitions away and spreads their rows over the rest.
            return [ModifyPartitionCount(len(old), len(new))]
    return [ModifyPartitioning(before, after)]


def counted_changes(before: Partitioning, after: Partitioning) -> list[TableChange]:
    """`PARTITIONS n` → `PARTITIONS m`. Without a count the table has one partition and
    the server prints none; a count changed to that (or from `PARTITIONS 1` to it) is
    only written by partitioning anew, which re-plans clean."""
    old, new = before.by.count, after.by.count
    if old is None or new is None or old == new:
        return [ModifyPartitioning(before, after)]
    return [ModifyPartitionCount(old, new)]


# --- RANGE and LIST -------------------------------------------------------------------


def listed_changes(before: Partitioning, after: Partitioning) -> list[TableChange]:
    """The partitions that differ are a run between a common head and a common tail; the
    run is added, dropped or reorganised."""
    old, new = before.partitions, after.partitions
    head = common_head(old, new)
    tail = common_tail(old[head:], new[head:])
    cut, put = list(old[head : len(old) - tail]), list(new[head : len(new) - tail])
    if not cut and not put:
        return [ModifyPartitioning(before, after)]  # a difference outside the partitions
    if before.by.method not in RANGED and put:
        if default_index(old) != default_index(new):
            return [ModifyPartitioning(before, after)]
        head, tail = with_default_partition(old, head, tail, cut, put)
        cut, put = list(old[head : len(old) - tail]), list(new[head : len(new) - tail])
    if not cut and not tail:
        return [AddPartitions(tuple(put))]
    if not put:
        return [DropPartitions(tuple(cut))]
    ranged = before.by.method in RANGED
    if not cut or (ranged and tail and upper(cut[-1]) != upper(put[-1])):
        # A partition inserted before an unchanged one splits that one; a moved upper
        # bound changes the span of the next one: either way that one joins the run.
        cut.append(old[len(old) - tail])
        put.append(new[len(new) - tail])
    if ranged and upper(cut[-1]) != upper(put[-1]):
        return last_range_changes(before, after, cut, put)
    return [reorganize(cut, put, ranged)]


def default_index(partitions: tuple[Partition, ...]) -> int | None:
    """Where the LIST DEFAULT partition (MariaDB) is. While it moves (or comes or goes),
    REORGANIZE and ADD PARTITION put rows in the wrong partitions without a word
    (MariaDB 10.11: CHECK TABLE then finds `a misplaced row`, and queries pruned to the
    right partition miss it), so the table is partitioned anew instead."""
    return next((i for i, p in enumerate(partitions) if p.bound == "DEFAULT"), None)


def with_default_partition(
    old: tuple[Partition, ...], head: int, tail: int, cut: list[Partition], put: list[Partition]
) -> tuple[int, int]:
    """(head, tail) widened so the run takes in the LIST DEFAULT partition (MariaDB) when
    the run's values change. The server moves no row out of a partition the operation
    leaves alone: a value that goes to a new partition would stay in DEFAULT, where the
    partition pruning of every query looks past it, and one that leaves the run would
    find no partition (`Found a row in wrong partition`). Reorganised together, DEFAULT
    gives and takes what it must. (A partition only dropped deletes its rows: that is
    what DROP PARTITION says, and it is reported as destructive.)"""
    if list_values(cut) == list_values(put):
        return head, tail
    index = default_index(old)
    if index is None:
        return head, tail
    if index < head:
        return index, tail
    if index >= len(old) - tail:
        return head, len(old) - index - 1
    return head, tail  # DEFAULT is in the run already


def common_head(old: tuple[Partition, ...], new: tuple[Partition, ...]) -> int:
    size = 0
    while size < min(len(old), len(new)) and old[size] == new[size]:
        size += 1
    return size


def common_tail(old: tuple[Partition, ...], new: tuple[Partition, ...]) -> int:
    size = 0
    while size < min(len(old), len(new)) and old[-1 - size] == new[-1 - size]:
        size += 1
    return size


def reorganize(cut: list[Partition], put: list[Partition], ranged: bool) -> ReorganizePartitions:
    loses = not ranged and not list_covers(put, cut)
    return ReorganizePartitions(tuple(cut), tuple(put), loses_rows=loses)


def last_range_changes(
    before: Partitioning, after: Partitioning, cut: list[Partition], put: list[Partition]
) -> list[TableChange]:
    """The run ends the table and its upper bound moves. REORGANIZE may extend the last
    range but not shrink it: a shrink drops the partitions past the new end first (their
    rows go, as the desired state has no partition for them)."""
    old_end, new_end = upper(cut[-1]), upper(put[-1])
    new_ends = [upper(p) for p in put]
    if old_end in new_ends[:-1]:
        # The old end is among the new bounds: reorganise up to it, add the rest.
        k = new_ends.index(old_end) + 1
        return [reorganize(cut, put[:k], True), AddPartitions(tuple(put[k:]))]
    old_ends = [upper(p) for p in cut]
    if new_end in old_ends[:-1]:
        # The new end is among the old bounds: drop what lies past it, reorganise the rest
        # (dropping first frees names the reorganised partitions may take).
        k = old_ends.index(new_end) + 1
        return [DropPartitions(tuple(cut[k:])), reorganize(cut[:k], put, True)]
    if compare_bounds(new_end, old_end) == 1:
        return [reorganize(cut, put, True)]
    return [ModifyPartitioning(before, after)]


def upper(partition: Partition) -> str:
    """`VALUES LESS THAN (10)` → `10`, `VALUES LESS THAN MAXVALUE` → `MAXVALUE`."""
    bound = partition.bound or ""
    value = bound[len(LESS_THAN) :].strip() if bound.startswith(LESS_THAN) else bound
    if value.startswith("(") and value.endswith(")"):
        value = value[1:-1]
    return value


def compare_bounds(left: str, right: str) -> int | None:
    """-1, 0 or 1 as RANGE upper bounds compare (tuples for RANGE COLUMNS); None when
    their text does not tell (strings under a collation, expressions)."""
    for a, b in zip(split_top_level(left), split_top_level(right), strict=False):
        order = compare_values(a, b)
        if order != 0:
            return order
    return 0


def compare_values(a: str, b: str) -> int | None:
    if a == b:
        return 0
    if a.upper() == "MAXVALUE" or b.upper() == "MAXVALUE":
        return 1 if a.upper() == "MAXVALUE" else -1
    if INTEGER.fullmatch(a) and INTEGER.fullmatch(b):
        return 1 if int(a) > int(b) else -1
    if ISO_DATE.fullmatch(a) and ISO_DATE.fullmatch(b):
        # A date is its midnight: '2024-01-01' < '2024-01-01 10:00:00'.
        left, right = iso_datetime(a), iso_datetime(b)
        return 0 if left == right else 1 if left > right else -1
    return None


def iso_datetime(literal: str) -> str:
    """`'2024-01-01'` → `2024-01-01 00:00:00`: text that orders as the value does."""
    text = literal[1:-1]
    return text + " 00:00:00" if len(text) == 10 else text


def list_covers(put: list[Partition], cut: list[Partition]) -> bool:
    """Whether the new LIST partitions take every value the old ones held (a DEFAULT
    partition takes them all)."""
    if any(p.bound == "DEFAULT" for p in put):
        return True
    if any(p.bound == "DEFAULT" for p in cut):
        return False
    return list_values(cut) <= list_values(put)


def list_values(partitions: list[Partition]) -> set[str]:
    values: set[str] = set()
    for partition in partitions:
        bound = partition.bound or ""
        inner = bound[len(VALUES_IN) :].strip()[1:-1] if bound.startswith(VALUES_IN) else ""
        values.update(split_top_level(inner))
    return values
