"""MySQL/MariaDB table partitioning: read from SHOW CREATE TABLE, diffed into in-place
partition operations where the server has them, planned and applied.

Server tests migrate a database, then compare SHOW CREATE TABLE of the migrated table
with a database where the desired SQL ran verbatim (engine-independent), count the rows
with direct queries, and re-plan to nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from atlas_operator.engine.changes import (
    AddPartitions,
    Change,
    DropPartitions,
    ModifyPartitionCount,
    ModifyPartitioning,
    ModifyTable,
    ReorganizePartitions,
    destructive_changes,
)
from atlas_operator.engine.declarative import ApplyPolicy, DestructiveChangesError, schema_apply
from atlas_operator.engine.diff import diff_tables
from atlas_operator.engine.diff_partitions import compare_bounds, partitioning_changes
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.drivers.base import Scope
from atlas_operator.engine.drivers.mysql import MARIADB, Planner
from atlas_operator.engine.drivers.mysql.partitions import (
    partitioning_of,
    partitioning_sql,
    split_create_table,
)
from atlas_operator.engine.hcl import HCLError, hcl_to_sql
from atlas_operator.engine.migrate.lint import migrate_lint
from atlas_operator.engine.model import (
    Column,
    Partition,
    Partitioning,
    PartitionScheme,
    PrimaryKey,
    SubPartition,
    Table,
)
from atlas_operator.engine.urls import DatabaseURL, parse_url
from tests.engine.drivers import test_mysql as base
from tests.engine.drivers import test_mysql_options as options
from tests.engine.migrate.test_executor import directory
from tests.rig.services import ServiceURLs

DB = pytest.mark.databases

server = base.server
make_database = base.make_database
pair = base.pair

# --- reading SHOW CREATE TABLE ------------------------------------------------------------

MARIADB_RANGE = """CREATE TABLE `users` (
  `uuid` varchar(37) NOT NULL,
  `joined` date NOT NULL,
  KEY `k` (`uuid`) COMMENT 'PARTITION BY nothing',
  PRIMARY KEY (`uuid`,`joined`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COMMENT='not\\n PARTITION BY this'
 PARTITION BY RANGE (year(`joined`))
(PARTITION `p2021` VALUES LESS THAN (2022) COMMENT = 'it''s \\\\ old' ENGINE = InnoDB,
 PARTITION `p max` VALUES LESS THAN MAXVALUE MAX_ROWS = 10 ENGINE = InnoDB)"""

MYSQL8_KEY = """CREATE TABLE `m` (
  `id` int NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
/*!50100 PARTITION BY LINEAR KEY ALGORITHM = 1 (id)
PARTITIONS 4 */"""

MARIADB_SUB = """CREATE TABLE `s2` (
  `id` int(11) DEFAULT NULL,
  `d` date DEFAULT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
 PARTITION BY LIST  COLUMNS(`id`,`d`)
SUBPARTITION BY KEY (`id`)
(PARTITION `p0` VALUES IN ((1,'2024-01-01'),(2,NULL))
 (SUBPARTITION `s0` COMMENT = 'x' ENGINE = InnoDB,
  SUBPARTITION `s1` ENGINE = InnoDB),
 PARTITION `p1` DEFAULT
 (SUBPARTITION `s2` ENGINE = InnoDB,
  SUBPARTITION `s3` ENGINE = InnoDB))"""


def test_range_partitioning_is_read_with_comments_options_and_quoted_names() -> None:
    partitioning = partitioning_of(MARIADB_RANGE)
    assert partitioning == Partitioning(
        by=PartitionScheme("RANGE", "year(`joined`)"),
        partitions=(
            Partition("p2021", "VALUES LESS THAN (2022)", comment="it's \\ old"),
            Partition("p max", "VALUES LESS THAN MAXVALUE", options=(("MAX_ROWS", "10"),)),
        ),
    )
    # The table's own text ends before the clause; a comment mentioning it is not it.
    definition, clause = split_create_table(MARIADB_RANGE)
    assert definition.endswith("PARTITION BY this'")
    assert clause is not None
    assert clause.startswith(" PARTITION BY RANGE")
    assert partitioning_sql(partitioning, " ") == (
        "PARTITION BY RANGE (year(`joined`)) (PARTITION `p2021` VALUES LESS THAN (2022)"
        " COMMENT = 'it''s \\\\ old', PARTITION `p max` VALUES LESS THAN MAXVALUE"
        " MAX_ROWS = 10)"
    )


def test_mysql8_version_comments_and_counts_are_read() -> None:
    assert partitioning_of(MYSQL8_KEY) == Partitioning(
        by=PartitionScheme("LINEAR KEY", "id", algorithm=1, count=4)
    )
    assert partitioning_sql(Partitioning(PartitionScheme("LINEAR KEY", "id", 1, 4))) == (
        "PARTITION BY LINEAR KEY ALGORITHM = 1 (id) PARTITIONS 4"
    )


def test_subpartitions_and_list_columns_are_read() -> None:
    partitioning = partitioning_of(MARIADB_SUB)
    assert partitioning is not None
    assert partitioning.by == PartitionScheme("LIST COLUMNS", "`id`,`d`")
    assert partitioning.sub == PartitionScheme("KEY", "`id`")
    assert partitioning.partitions == (
        Partition(
            "p0",
            "VALUES IN ((1,'2024-01-01'),(2,NULL))",
            subpartitions=(SubPartition("s0", comment="x"), SubPartition("s1")),
        ),
        Partition("p1", "DEFAULT", subpartitions=(SubPartition("s2"), SubPartition("s3"))),
    )


def test_unpartitioned_and_system_time_tables_read_as_none() -> None:
    assert partitioning_of("CREATE TABLE `t` (\n  `a` int\n) ENGINE=InnoDB") is None
    system_time = (
        "CREATE TABLE `sv` (\n  `id` int(11) DEFAULT NULL\n) ENGINE=InnoDB WITH SYSTEM VERSIONING\n"
        " PARTITION BY SYSTEM_TIME INTERVAL 1 MONTH STARTS TIMESTAMP'2026-12-02 00:00:00'\n"
        "PARTITIONS 3"
    )
    assert partitioning_of(system_time) is None


# --- diffing ----------------------------------------------------------------------------


def ranged(*bounds: tuple[str, str], method: str = "RANGE") -> Partitioning:
    """RANGE partitioning on `v` with (name, upper bound) partitions."""
    return Partitioning(
        by=PartitionScheme(method, "`v`"),
        partitions=tuple(Partition(n, f"VALUES LESS THAN {b}") for n, b in bounds),
    )


def listed(*values: tuple[str, str]) -> Partitioning:
    return Partitioning(
        by=PartitionScheme("LIST", "`v`"),
        partitions=tuple(
            Partition(n, v if v == "DEFAULT" else f"VALUES IN ({v})") for n, v in values
        ),
    )


def names(change: Any) -> list[str]:
    return [p.name for p in change]


def test_range_partitions_added_at_the_end_or_inserted_before_maxvalue() -> None:
    before = ranged(("p1", "(10)"), ("p2", "(20)"))
    (add,) = partitioning_changes(before, ranged(("p1", "(10)"), ("p2", "(20)"), ("p3", "(30)")))
    assert isinstance(add, AddPartitions)
    assert names(add.partitions) == ["p3"]

    # Before MAXVALUE nothing can be added: the last partition is split.
    before = ranged(("p1", "(10)"), ("pmax", "MAXVALUE"))
    after = ranged(("p1", "(10)"), ("p2", "(20)"), ("pmax", "MAXVALUE"))
    (split,) = partitioning_changes(before, after)
    assert isinstance(split, ReorganizePartitions)
    assert not split.loses_rows
    assert (names(split.before), names(split.after)) == (["pmax"], ["p2", "pmax"])


def test_moved_range_bounds_reorganise_up_to_the_next_unchanged_partition() -> None:
    before = ranged(("a", "(10)"), ("b", "(20)"), ("c", "(30)"))
    after = ranged(("a", "(15)"), ("b", "(20)"), ("c", "(30)"))
    (move,) = partitioning_changes(before, after)
    assert isinstance(move, ReorganizePartitions)
    assert (names(move.before), names(move.after)) == (["a", "b"], ["a", "b"])

    # Merging two partitions keeps the span: one reorganisation.
    merged = ranged(("a", "(20)"), ("c", "(30)"))
    (merge,) = partitioning_changes(before, merged)
    assert isinstance(merge, ReorganizePartitions)
    assert (names(merge.before), names(merge.after)) == (["a", "b"], ["a"])


def test_last_range_extends_in_place_and_shrinks_by_dropping_what_lies_past_it() -> None:
    before = ranged(("a", "(10)"), ("b", "(20)"))
    (extend,) = partitioning_changes(before, ranged(("a", "(10)"), ("b", "(25)")))
    assert isinstance(extend, ReorganizePartitions)

    three = ranged(("a", "(10)"), ("b", "(20)"), ("c", "(30)"))
    drop, reorganize = partitioning_changes(three, ranged(("a", "(10)"), ("c", "(20)")))
    assert isinstance(drop, DropPartitions)
    assert names(drop.partitions) == ["c"]
    assert isinstance(reorganize, ReorganizePartitions)
    assert (names(reorganize.before), names(reorganize.after)) == (["b"], ["c"])

    # A shrink to a bound no partition had: partitioned anew, which keeps every row or fails.
    (rebuild,) = partitioning_changes(before, ranged(("a", "(10)"), ("b", "(15)")))
    assert isinstance(rebuild, ModifyPartitioning)
    # Text order tells nothing of strings under a collation: partitioned anew.
    strings = ranged(("a", "('b')"), method="RANGE COLUMNS")
    (rebuild,) = partitioning_changes(strings, ranged(("a", "('c')"), method="RANGE COLUMNS"))
    assert isinstance(rebuild, ModifyPartitioning)


def test_bounds_compare_as_values() -> None:
    assert compare_bounds("MAXVALUE", "20") == 1
    assert compare_bounds("-5", "3") == -1
    assert compare_bounds("'2024-01-01',MAXVALUE", "'2024-01-01',5") == 1
    assert compare_bounds("'2025-01-01'", "'2024-12-31 10:00:00'") == 1
    assert compare_bounds("'b'", "'a'") is None


def test_list_reorganisation_that_leaves_values_out_loses_rows() -> None:
    before = listed(("a", "1,2"), ("b", "3,4"))
    (narrow,) = partitioning_changes(before, listed(("a", "1,2"), ("b", "3")))
    assert isinstance(narrow, ReorganizePartitions)
    assert narrow.loses_rows
    (widen,) = partitioning_changes(before, listed(("a", "1,2"), ("b", "3,4,5")))
    assert isinstance(widen, ReorganizePartitions)
    assert not widen.loses_rows
    # A DEFAULT partition that comes: MariaDB refuses to REORGANIZE into one alone, and
    # next to others it deletes the rows it should take (`b (3), c DEFAULT` loses 4):
    # partitioned anew, which keeps them.
    (default,) = partitioning_changes(before, listed(("a", "1,2"), ("b", "DEFAULT")))
    assert isinstance(default, ModifyPartitioning)
    after = listed(("a", "1,2"), ("b", "3"), ("c", "DEFAULT"))
    assert partitioning_changes(before, after) == [ModifyPartitioning(before, after)]
    (drop,) = partitioning_changes(before, listed(("a", "1,2")))
    assert isinstance(drop, DropPartitions)


def test_hash_partitions_change_count_or_are_partitioned_anew() -> None:
    def hashed(count: int | None, method: str = "HASH") -> Partitioning:
        return Partitioning(by=PartitionScheme(method, "`id`", count=count))

    (grow,) = partitioning_changes(hashed(2), hashed(5))
    assert grow == ModifyPartitionCount(2, 5)
    (shrink,) = partitioning_changes(hashed(5), hashed(3))
    assert shrink == ModifyPartitionCount(5, 3)
    (scheme,) = partitioning_changes(hashed(4), hashed(4, "KEY"))
    assert scheme == ModifyPartitioning(hashed(4), hashed(4, "KEY"))
    # Named partitions: added at the end, or the last ones coalesced.
    two = Partitioning(PartitionScheme("HASH", "`id`"), (Partition("a"), Partition("b")))
    three = Partitioning(two.by, (*two.partitions, Partition("c")))
    assert partitioning_changes(two, three) == [AddPartitions((Partition("c"),))]
    assert partitioning_changes(three, two) == [ModifyPartitionCount(3, 2)]


def test_partitioning_added_or_removed_is_one_change() -> None:
    partitioned = ranged(("a", "(10)"))
    assert partitioning_changes(None, partitioned) == [ModifyPartitioning(None, partitioned)]
    assert partitioning_changes(partitioned, None) == [ModifyPartitioning(partitioned, None)]
    assert partitioning_changes(partitioned, partitioned) == []


# --- planning ---------------------------------------------------------------------------

TABLE = Table(
    "t",
    columns=(Column("id", "int(11)", nullable=False), Column("v", "int(11)", nullable=False)),
    primary_key=PrimaryKey(("id", "v")),
)


def plan(before: Table, after: Table) -> list[tuple[str, str]]:
    change = ModifyTable("s", before, after, tuple(diff_tables(before, after)))
    planner = Planner(Scope(bound="s"), MARIADB)
    return [(s.sql, s.comment) for s in planner.change(change)]


def test_partition_operations_are_statements_of_their_own_with_comments() -> None:
    before = replace(TABLE, partitioning=ranged(("a", "(10)")))
    after = replace(TABLE, comment="c", partitioning=ranged(("a", "(10)"), ("b", "MAXVALUE")))
    assert plan(before, after) == [
        ("ALTER TABLE `t` COMMENT 'c'", 'Modify "t" table'),
        (
            "ALTER TABLE `t` ADD PARTITION (PARTITION `b` VALUES LESS THAN MAXVALUE)",
            'Add partition "b" to "t" table',
        ),
    ]
    assert plan(after, before)[1] == (
        "ALTER TABLE `t` DROP PARTITION `b`",
        'Drop partition "b" of "t" table',
    )


def test_new_partitioning_ends_the_alter_table_after_its_key_changes() -> None:
    plain = Table("t", columns=TABLE.columns, primary_key=PrimaryKey(("id",)))
    partitioned = replace(TABLE, partitioning=ranged(("a", "(10)")))
    assert plan(plain, partitioned) == [
        (
            "ALTER TABLE `t` DROP PRIMARY KEY, ADD PRIMARY KEY (`id`, `v`)"
            " PARTITION BY RANGE (`v`) (PARTITION `a` VALUES LESS THAN (10))",
            'Modify "t" table',
        )
    ]
    assert plan(partitioned, plain) == [
        (
            "ALTER TABLE `t` DROP PRIMARY KEY, ADD PRIMARY KEY (`id`) REMOVE PARTITIONING",
            'Modify "t" table',
        )
    ]
    created = Planner(Scope(bound="s"), MARIADB).create_table("s", partitioned)
    assert created.sql.endswith(
        ")\nPARTITION BY RANGE (`v`)\n(PARTITION `a` VALUES LESS THAN (10))"
    )


def test_dropped_partitions_and_lossy_reorganisations_are_destructive() -> None:
    before = replace(TABLE, partitioning=listed(("a", "1"), ("b", "2")))

    def found(after: Partitioning) -> list[Change]:
        target = replace(before, partitioning=after)
        changes: list[Change] = [
            ModifyTable("s", before, target, tuple(diff_tables(before, target)))
        ]
        return destructive_changes(changes)

    (drop,) = found(listed(("a", "1")))
    assert isinstance(drop, ModifyTable)
    assert isinstance(drop.changes[0], DropPartitions)
    (narrow,) = found(listed(("a", "1"), ("b", "3")))
    assert isinstance(narrow, ModifyTable)
    assert isinstance(narrow.changes[0], ReorganizePartitions)
    assert found(listed(("a", "1"), ("b", "2"), ("c", "3"))) == []
    assert found(listed(("a", "1"), ("b", "2,3"))) == []


# --- on the server ----------------------------------------------------------------------


def rows(url: DatabaseURL, table: str) -> int:
    return int(base.admin_run(url, f"SELECT COUNT(*) FROM `{url.schema}`.`{table}`")[0][0])


def partition_clause(url: DatabaseURL, table: str) -> str | None:
    """The partition clause of SHOW CREATE TABLE, read directly (not by the engine)."""
    text = base.admin_run(url, f"SHOW CREATE TABLE `{url.schema}`.`{table}`")[0][1]
    return split_create_table(str(text))[1]


def apply(pair: tuple[DatabaseURL, DatabaseURL], sql: str, **policy: Any) -> list[str]:
    """Applies `sql`, re-plans it to nothing; returns the applied statements."""
    target, dev = pair
    applied = base.apply(target, dev, sql, **policy)
    assert base.replan(target, dev, sql) == []
    return applied


STRATEGIES = {
    "range": "PARTITION BY RANGE (year(joined)) (PARTITION p2021 VALUES LESS THAN (2022)"
    " COMMENT 'first', PARTITION pmax VALUES LESS THAN MAXVALUE)",
    "range_columns": "PARTITION BY RANGE COLUMNS (joined, id) (PARTITION p1 VALUES LESS THAN"
    " ('2024-01-01', 10), PARTITION p2 VALUES LESS THAN (MAXVALUE, MAXVALUE))",
    "list": "PARTITION BY LIST (id) (PARTITION a VALUES IN (1, 2, NULL), PARTITION b DEFAULT)",
    "list_columns": "PARTITION BY LIST COLUMNS (joined) (PARTITION a VALUES IN"
    " ('2024-01-01', '2024-01-02'), PARTITION b VALUES IN ('2025-01-01'))",
    "hash": "PARTITION BY HASH (id + 1) PARTITIONS 3",
    "linear_hash": "PARTITION BY LINEAR HASH (id) (PARTITION x, PARTITION y COMMENT 'why')",
    "key": "PARTITION BY KEY () PARTITIONS 2",
    "linear_key": "PARTITION BY LINEAR KEY ALGORITHM=1 (id, joined) PARTITIONS 4",
    "subpartitions": "PARTITION BY RANGE (year(joined)) SUBPARTITION BY HASH (id)"
    " SUBPARTITIONS 2 (PARTITION p0 VALUES LESS THAN (2000), PARTITION p1 VALUES LESS THAN"
    " MAXVALUE)",
    "named_subpartitions": "PARTITION BY LIST (id) SUBPARTITION BY KEY (joined) (PARTITION a"
    " VALUES IN (1) (SUBPARTITION a0 COMMENT 's', SUBPARTITION a1), PARTITION b VALUES IN"
    " (2) (SUBPARTITION b0, SUBPARTITION b1))",
}
MEMBERS = """CREATE TABLE members (
  id int NOT NULL,
  joined date NOT NULL,
  PRIMARY KEY (id, joined)
) {partitioning}"""


@DB
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_each_strategy_is_created_as_written_and_replans_empty(
    pair: tuple[DatabaseURL, DatabaseURL], make_database: base.MakeDatabase, strategy: str
) -> None:
    desired = MEMBERS.format(partitioning=STRATEGIES[strategy])
    applied = options.converge(pair, make_database, desired)
    assert len(applied) == 1
    assert "\nPARTITION BY " in applied[0]
    assert base.table_of(pair[0], "members").partitioning is not None


SALES = """CREATE TABLE sales (
  id int NOT NULL,
  year_num int NOT NULL,
  PRIMARY KEY (id, year_num)
) PARTITION BY RANGE (year_num) ({partitions})"""


def sales(*partitions: str) -> str:
    return SALES.format(partitions=", ".join(partitions))


@DB
@pytest.mark.parametrize("scheme", ["mysql", "mariadb"])
def test_range_partitions_are_added_split_merged_and_dropped_in_place(
    databases: ServiceURLs, make_database: base.MakeDatabase, scheme: str
) -> None:
    root = parse_url(databases.mysql if scheme == "mysql" else databases.mariadb)
    assert root.scheme == scheme
    target, dev = root.with_schema(make_database("target")), root.with_schema(make_database("dev"))
    p2022 = "PARTITION p2022 VALUES LESS THAN (2023)"
    p2023 = "PARTITION p2023 VALUES LESS THAN (2024)"
    apply((target, dev), sales(p2022, p2023))
    base.admin_run(
        root,
        f"INSERT INTO `{target.schema}`.sales VALUES (1, 2021), (2, 2022), (3, 2023), (4, 2023)",
    )

    # Added after the last partition: ADD PARTITION, no copy of the table.
    p2024 = "PARTITION p2024 VALUES LESS THAN (2025)"
    pmax = "PARTITION pmax VALUES LESS THAN MAXVALUE"
    assert apply((target, dev), sales(p2022, p2023, p2024, pmax)) == [
        "ALTER TABLE `sales` ADD PARTITION (PARTITION `p2024` VALUES LESS THAN (2025),"
        " PARTITION `pmax` VALUES LESS THAN MAXVALUE)"
    ]
    # Split p2023 in two, merge p2024 into the catch-all: reorganisations, rows kept.
    half = "PARTITION h1 VALUES LESS THAN (2023), PARTITION h2 VALUES LESS THAN (2024)"
    split = sales("PARTITION p2022 VALUES LESS THAN (2022)", half, pmax)
    assert apply((target, dev), split) == [
        "ALTER TABLE `sales` REORGANIZE PARTITION `p2022`, `p2023`, `p2024`, `pmax` INTO"
        " (PARTITION `p2022` VALUES LESS THAN (2022), PARTITION `h1` VALUES LESS THAN (2023),"
        " PARTITION `h2` VALUES LESS THAN (2024), PARTITION `pmax` VALUES LESS THAN MAXVALUE)"
    ]
    assert rows(target, "sales") == 4
    # Dropping a partition drops its rows: refused under the destructive lint policy.
    fewer = sales("PARTITION p2022 VALUES LESS THAN (2022)", half)
    with pytest.raises(DestructiveChangesError, match="DROP PARTITION `pmax`"):
        schema_apply(target, fewer, dev, ApplyPolicy(lint_destructive_error=True))
    assert rows(target, "sales") == 4
    base.admin_run(root, f"INSERT INTO `{target.schema}`.sales VALUES (5, 2030)")
    assert apply((target, dev), fewer) == ["ALTER TABLE `sales` DROP PARTITION `pmax`"]
    assert rows(target, "sales") == 4
    oracle = target.with_schema(make_database("oracle"))
    options.run(oracle, fewer)
    assert partition_clause(target, "sales") == partition_clause(oracle, "sales")


@DB
def test_list_partitions_are_added_inserted_and_reorganised(
    pair: tuple[DatabaseURL, DatabaseURL], make_database: base.MakeDatabase
) -> None:
    target, _ = pair
    regions = """CREATE TABLE regions (
  id int NOT NULL,
  code int NOT NULL,
  PRIMARY KEY (id, code)
) PARTITION BY LIST (code) ({partitions})"""
    north, south = "PARTITION `p north` VALUES IN (1, 2)", "PARTITION p_south VALUES IN (3, 4)"
    apply(pair, regions.format(partitions=f"{north}, {south}"))
    base.admin_run(target, f"INSERT INTO `{target.schema}`.regions VALUES (1, 1), (2, 3), (3, 4)")
    west = "PARTITION p_west VALUES IN (7)"
    assert apply(pair, regions.format(partitions=f"{north}, {south}, {west}")) == [
        "ALTER TABLE `regions` ADD PARTITION (PARTITION `p_west` VALUES IN (7))"
    ]
    # Inserted between two partitions: the next one is reorganised with it, in order.
    east = "PARTITION p_east VALUES IN (5, 6)"
    inserted = regions.format(partitions=f"{north}, {east}, {south}, {west}")
    assert apply(pair, inserted) == [
        "ALTER TABLE `regions` REORGANIZE PARTITION `p_south` INTO (PARTITION `p_east`"
        " VALUES IN (5,6), PARTITION `p_south` VALUES IN (3,4))"
    ]
    assert rows(target, "regions") == 3
    oracle = target.with_schema(make_database("oracle"))
    options.run(oracle, inserted)
    assert partition_clause(target, "regions") == partition_clause(oracle, "regions")


@DB
def test_hash_partition_count_grows_and_shrinks_in_place(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    target, _ = pair
    events = "CREATE TABLE events (id int NOT NULL PRIMARY KEY) PARTITION BY HASH (id) {count}"
    apply(pair, events.format(count="PARTITIONS 2"))
    base.admin_run(target, f"INSERT INTO `{target.schema}`.events VALUES (1), (2), (3), (4)")
    assert apply(pair, events.format(count="PARTITIONS 5")) == [
        "ALTER TABLE `events` ADD PARTITION PARTITIONS 3"
    ]
    assert apply(pair, events.format(count="PARTITIONS 3")) == [
        "ALTER TABLE `events` COALESCE PARTITION 2"
    ]
    assert rows(target, "events") == 4
    assert partition_clause(target, "events") == " PARTITION BY HASH (`id`)\nPARTITIONS 3"


@DB
def test_partitioning_is_added_changed_and_removed_keeping_the_rows(
    pair: tuple[DatabaseURL, DatabaseURL], make_database: base.MakeDatabase
) -> None:
    target, _ = pair
    plain = "CREATE TABLE logs (id int NOT NULL, day int NOT NULL, PRIMARY KEY (id))"
    apply(pair, plain)
    base.admin_run(target, f"INSERT INTO `{target.schema}`.logs VALUES (1, 5), (2, 15), (3, 25)")
    # The key must take the partitioning column: it changes in the same statement.
    by_range = (
        "CREATE TABLE logs (id int NOT NULL, day int NOT NULL, PRIMARY KEY (id, day))"
        " PARTITION BY RANGE (day) (PARTITION a VALUES LESS THAN (10),"
        " PARTITION b VALUES LESS THAN (20), PARTITION c VALUES LESS THAN MAXVALUE)"
    )
    assert apply(pair, by_range) == [
        "ALTER TABLE `logs` DROP PRIMARY KEY, ADD PRIMARY KEY (`id`, `day`) PARTITION BY RANGE"
        " (`day`) (PARTITION `a` VALUES LESS THAN (10), PARTITION `b` VALUES LESS THAN (20),"
        " PARTITION `c` VALUES LESS THAN MAXVALUE)"
    ]
    by_key = (
        "CREATE TABLE logs (id int NOT NULL, day int NOT NULL, PRIMARY KEY (id, day))"
        " PARTITION BY KEY (day) PARTITIONS 3"
    )
    assert apply(pair, by_key) == ["ALTER TABLE `logs` PARTITION BY KEY (`day`) PARTITIONS 3"]
    assert rows(target, "logs") == 3
    oracle = target.with_schema(make_database("oracle"))
    options.run(oracle, by_key)
    assert partition_clause(target, "logs") == partition_clause(oracle, "logs")
    assert apply(pair, plain) == [
        "ALTER TABLE `logs` DROP PRIMARY KEY, ADD PRIMARY KEY (`id`) REMOVE PARTITIONING"
    ]
    assert rows(target, "logs") == 3
    assert partition_clause(target, "logs") is None


@DB
def test_a_shrinking_last_range_drops_what_lies_past_it_then_reorganises(
    pair: tuple[DatabaseURL, DatabaseURL], make_database: base.MakeDatabase
) -> None:
    target, _ = pair
    apply(pair, sales("PARTITION a VALUES LESS THAN (10)", "PARTITION b VALUES LESS THAN (20)"))
    base.admin_run(target, f"INSERT INTO `{target.schema}`.sales VALUES (1, 5), (2, 15)")
    # Extending the last range is a reorganisation in place.
    wider = sales("PARTITION a VALUES LESS THAN (10)", "PARTITION b VALUES LESS THAN (30)")
    assert apply(pair, wider) == [
        "ALTER TABLE `sales` REORGANIZE PARTITION `b` INTO (PARTITION `b` VALUES LESS THAN (30))"
    ]
    # Ending at the old first bound: the partition past it goes (and its row), the rest
    # is renamed by a reorganisation.
    shorter = sales("PARTITION c VALUES LESS THAN (10)")
    assert apply(pair, shorter) == [
        "ALTER TABLE `sales` DROP PARTITION `b`",
        "ALTER TABLE `sales` REORGANIZE PARTITION `a` INTO (PARTITION `c` VALUES LESS THAN (10))",
    ]
    assert rows(target, "sales") == 1
    oracle = target.with_schema(make_database("oracle"))
    options.run(oracle, shorter)
    assert partition_clause(target, "sales") == partition_clause(oracle, "sales")


@DB
def test_list_values_left_out_are_destructive_and_delete_their_rows(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    target, dev = pair
    codes = "CREATE TABLE codes (id int NOT NULL, code int NOT NULL, PRIMARY KEY (id, code))"
    apply(pair, f"{codes} PARTITION BY LIST (code) (PARTITION a VALUES IN (1, 2))")
    base.admin_run(target, f"INSERT INTO `{target.schema}`.codes VALUES (1, 1), (2, 2)")
    narrow = f"{codes} PARTITION BY LIST (code) (PARTITION a VALUES IN (1))"
    with pytest.raises(DestructiveChangesError, match="REORGANIZE PARTITION `a`"):
        schema_apply(target, narrow, dev, ApplyPolicy(lint_destructive_error=True))
    assert apply(pair, narrow) == [
        "ALTER TABLE `codes` REORGANIZE PARTITION `a` INTO (PARTITION `a` VALUES IN (1))"
    ]
    assert rows(target, "codes") == 1


@DB
def test_named_hash_partitions_are_added_and_coalesced(
    pair: tuple[DatabaseURL, DatabaseURL], make_database: base.MakeDatabase
) -> None:
    target, _ = pair
    hashed = "CREATE TABLE h (id int NOT NULL PRIMARY KEY) PARTITION BY LINEAR HASH (id) ({})"
    apply(pair, hashed.format("PARTITION a COMMENT 'first', PARTITION b"))
    base.admin_run(target, f"INSERT INTO `{target.schema}`.h VALUES (1), (2), (3)")
    three = hashed.format("PARTITION a COMMENT 'first', PARTITION b, PARTITION c")
    assert apply(pair, three) == ["ALTER TABLE `h` ADD PARTITION (PARTITION `c`)"]
    one = hashed.format("PARTITION a COMMENT 'first'")
    assert apply(pair, one) == ["ALTER TABLE `h` COALESCE PARTITION 2"]
    assert rows(target, "h") == 3
    oracle = target.with_schema(make_database("oracle"))
    options.run(oracle, one)
    assert partition_clause(target, "h") == partition_clause(oracle, "h")


@DB
def test_partitions_with_subpartitions_are_added_next_to_column_changes(
    pair: tuple[DatabaseURL, DatabaseURL], make_database: base.MakeDatabase
) -> None:
    target, _ = pair
    table = """CREATE TABLE t (
  id int NOT NULL,
  d date NOT NULL,{column}
  PRIMARY KEY (id, d)
) PARTITION BY RANGE (year(d)) SUBPARTITION BY KEY (id) ({partitions})"""
    p0 = "PARTITION p0 VALUES LESS THAN (2000) (SUBPARTITION s0, SUBPARTITION s1)"
    p1 = "PARTITION p1 VALUES LESS THAN (2010) (SUBPARTITION s2 COMMENT 'x', SUBPARTITION s3)"
    apply(pair, table.format(column="", partitions=p0))
    desired = table.format(column="\n  note text,", partitions=f"{p0}, {p1}")
    assert apply(pair, desired) == [
        "ALTER TABLE `t` ADD COLUMN `note` text NULL",
        "ALTER TABLE `t` ADD PARTITION (PARTITION `p1` VALUES LESS THAN (2010)"
        " (SUBPARTITION `s2` COMMENT = 'x', SUBPARTITION `s3`))",
    ]
    oracle = target.with_schema(make_database("oracle"))
    options.run(oracle, desired)
    assert options.show_create(target) == options.show_create(oracle)


@DB
def test_migrate_lint_reports_dropped_partitions(
    server: DatabaseURL, make_database: base.MakeDatabase
) -> None:
    created = sales("PARTITION a VALUES LESS THAN (10)", "PARTITION b VALUES LESS THAN (20)")
    files = {"1.sql": f"{created};", "2.sql": "ALTER TABLE sales DROP PARTITION b;"}
    report = migrate_lint(directory(files), server.with_schema(make_database("lint")))
    assert [(d.code, d.text) for f in report.files for d in f.diagnostics] == [
        ("DS104", 'Dropping partition "b" of table "sales"')
    ]
    assert report.failed


# --- HCL ----------------------------------------------------------------------------------

HCL = """
schema "shop" {}
table "orders" {
  schema = schema.shop
  column "id" { type = int }
  column "day" { type = date }
  primary_key { columns = [column.id, column.day] }
  partition {
    type = RANGE
    by { expr = "year(`day`)" }
    partition "p0" {
      values_less_than = ["2024"]
      comment = "first range"
    }
    partition "pmax" {
      values_less_than = ["MAXVALUE"]
    }
  }
}
table "logs" {
  schema = schema.shop
  column "id" { type = int }
  column "tenant" { type = varchar(10) }
  primary_key { columns = [column.id, column.tenant] }
  partition {
    type = LIST
    columns = [column.tenant]
    partition "eu" { values_in = ["'de'", "'fr'"] }
  }
}
table "keys" {
  schema = schema.shop
  column "id" { type = int }
  primary_key { columns = [column.id] }
  partition {
    type = KEY
    columns = [column.id]
    partition "k0" { comment = "key 0" }
    partition "k1" {}
  }
}
"""


def test_hcl_partition_blocks_render_the_partition_clause() -> None:
    driver = driver_for(parse_url("mysql://u@localhost/shop"))
    statements = hcl_to_sql(HCL, driver, "shop", "shop").split(";\n")
    assert [s.split("\n)")[-1].strip().rstrip(";") for s in statements] == [
        "PARTITION BY RANGE (year(`day`)) (PARTITION `p0` VALUES LESS THAN (2024)"
        " COMMENT 'first range', PARTITION `pmax` VALUES LESS THAN MAXVALUE)",
        "PARTITION BY LIST COLUMNS(`tenant`) (PARTITION `eu` VALUES IN ('de', 'fr'))",
        "PARTITION BY KEY (`id`) (PARTITION `k0` COMMENT 'key 0', PARTITION `k1`)",
    ]


@pytest.mark.parametrize(
    ("block", "error"),
    [
        ('type = RANGE\n by { expr = "id" }', 'RANGE partitioning needs its partition "name"'),
        ('type = KEY\n by { expr = "id" }', "KEY partitioning takes columns"),
        (
            'type = HASH\n columns = [column.id]\n partition "a" { values_in = ["1"] }',
            'attribute "values_in" does not apply to HASH',
        ),
        ('type = LIST\n columns = [column.id]\n partition "a" {}', '"values_in" is required'),
    ],
)
def test_hcl_partition_blocks_are_checked(block: str, error: str) -> None:
    text = 'schema "s" {}\ntable "t" {\n schema = schema.s\n column "id" { type = int }\n'
    text += f" partition {{\n {block}\n }}\n}}\n"
    with pytest.raises(HCLError, match=error):
        hcl_to_sql(text, driver_for(parse_url("mysql://u@localhost/s")), "s", "s")


@DB
def test_hcl_partitioned_tables_apply_and_replan_empty(
    server: DatabaseURL, make_database: base.MakeDatabase
) -> None:
    target = server.with_schema(make_database("shop"))
    dev = server.with_schema(make_database("dev"))
    text = HCL.replace('schema "shop"', f'schema "{target.schema}"')
    text = text.replace("schema.shop", f"schema.{target.schema}")
    sql = hcl_to_sql(text, driver_for(target), target.schema, dev.schema)
    apply((target, dev), sql)
    assert partition_clause(target, "keys") == (
        " PARTITION BY KEY (`id`)\n(PARTITION `k0` COMMENT = 'key 0' ENGINE = InnoDB,\n"
        " PARTITION `k1` ENGINE = InnoDB)"
    )


@DB
def test_range_columns_comment_and_split_before_maxvalue(
    pair: tuple[DatabaseURL, DatabaseURL], make_database: base.MakeDatabase
) -> None:
    target, _ = pair
    orders = """CREATE TABLE orders (
  id int NOT NULL,
  day date NOT NULL,
  PRIMARY KEY (id, day)
) PARTITION BY RANGE COLUMNS (day) ({partitions})"""
    q1 = "PARTITION q1 VALUES LESS THAN ('2024-04-01')"
    rest = "PARTITION rest VALUES LESS THAN (MAXVALUE)"
    apply(pair, orders.format(partitions=f"{q1}, {rest}"))
    base.admin_run(
        target, f"INSERT INTO `{target.schema}`.orders VALUES (1, '2024-01-05'), (2, '2024-05-05')"
    )
    # A comment changes through a reorganisation of that one partition (same bound).
    noted = "PARTITION q1 VALUES LESS THAN ('2024-04-01') COMMENT 'first quarter'"
    q2 = "PARTITION q2 VALUES LESS THAN ('2024-07-01') MAX_ROWS 1000"
    desired = orders.format(partitions=f"{noted}, {q2}, {rest}")
    assert apply(pair, desired) == [
        "ALTER TABLE `orders` REORGANIZE PARTITION `q1`, `rest` INTO (PARTITION `q1` VALUES"
        " LESS THAN ('2024-04-01') COMMENT = 'first quarter', PARTITION `q2` VALUES LESS THAN"
        " ('2024-07-01') MAX_ROWS = 1000, PARTITION `rest` VALUES LESS THAN (MAXVALUE))"
    ]
    assert rows(target, "orders") == 2
    oracle = target.with_schema(make_database("oracle"))
    options.run(oracle, desired)
    assert partition_clause(target, "orders") == partition_clause(oracle, "orders")


def test_list_changes_take_the_default_partition_in() -> None:
    """A LIST run whose values change is reorganised together with the DEFAULT partition
    (MariaDB): the server moves no row out of a partition left alone, so a value going
    to a new partition would stay in DEFAULT (out of reach of partition pruning) and one
    leaving the run would fail the statement (`Found a row in wrong partition`)."""
    first = listed(("d", "DEFAULT"), ("a", "1,2"))
    (add,) = partitioning_changes(first, listed(("d", "DEFAULT"), ("a", "1,2"), ("b", "3")))
    assert isinstance(add, ReorganizePartitions)
    assert (names(add.before), names(add.after)) == (["d", "a"], ["d", "a", "b"])
    assert not add.loses_rows

    last = listed(("a", "1,2"), ("b", "3"), ("d", "DEFAULT"))
    (narrow,) = partitioning_changes(last, listed(("a", "1"), ("b", "3"), ("d", "DEFAULT")))
    assert isinstance(narrow, ReorganizePartitions)
    assert (names(narrow.before), names(narrow.after)) == (["a", "b", "d"], ["a", "b", "d"])
    assert not narrow.loses_rows
    # Values unchanged (a comment): the run stays as it is.
    commented = (Partition("a", "VALUES IN (1,2)", comment="c"), *last.partitions[1:])
    (comment,) = partitioning_changes(last, replace(last, partitions=commented))
    assert isinstance(comment, ReorganizePartitions)
    assert names(comment.before) == ["a"]
    # A partition inserted before a last DEFAULT moves it: partitioned anew.
    (moved,) = partitioning_changes(
        last, listed(("a", "1,2"), ("b", "3"), ("c", "4"), ("d", "DEFAULT"))
    )
    assert isinstance(moved, ModifyPartitioning)
    # A dropped partition still deletes its rows: that is what DROP PARTITION says.
    (drop,) = partitioning_changes(last, listed(("a", "1,2"), ("d", "DEFAULT")))
    assert isinstance(drop, DropPartitions)


def test_a_date_bound_is_its_midnight() -> None:
    assert compare_bounds("'2024-01-01'", "'2024-01-01 10:00:00'") == -1
    assert compare_bounds("'2024-01-01 00:00:00'", "'2024-01-01'") == 0
    assert compare_bounds("'2024-01-02'", "'2024-01-01 23:59:59'") == 1


@DB
def test_list_values_and_the_default_partition_keep_every_row_reachable(
    pair: tuple[DatabaseURL, DatabaseURL], make_database: base.MakeDatabase
) -> None:
    target, dev = pair
    codes = """CREATE TABLE codes (
  id int NOT NULL,
  code int NOT NULL,
  PRIMARY KEY (id, code)
) PARTITION BY LIST (code) ({partitions})"""
    other = "PARTITION `other``s` DEFAULT COMMENT 'the rest'"
    apply(pair, codes.format(partitions=f"{other}, PARTITION a VALUES IN (1, 2)"))
    values = range(1, 9)
    base.admin_run(
        target,
        f"INSERT INTO `{target.schema}`.codes VALUES " + ", ".join(f"({v}, {v})" for v in values),
    )

    def reachable() -> int:
        # Pruned to the partitions that should hold each value: a row left in the wrong
        # one is not found.
        return sum(
            int(
                base.admin_run(
                    target, f"SELECT COUNT(*) FROM `{target.schema}`.codes WHERE code = {v}"
                )[0][0]
            )
            for v in values
        )

    steps = [
        # Added after DEFAULT, widened, a value left to DEFAULT: reorganised with it.
        (f"{other}, PARTITION a VALUES IN (1, 2), PARTITION b VALUES IN (3, 4)", "REORGANIZE"),
        (f"{other}, PARTITION a VALUES IN (1, 2, 5), PARTITION b VALUES IN (3, 4)", "REORGANIZE"),
        (f"{other}, PARTITION a VALUES IN (1), PARTITION b VALUES IN (3, 4)", "REORGANIZE"),
        # DEFAULT moves (to the end, then a partition goes before it): partitioned anew,
        # as MariaDB's REORGANIZE misplaces rows then.
        (f"PARTITION a VALUES IN (1), PARTITION b VALUES IN (3, 4, 6), {other}", "PARTITION BY"),
        (
            f"PARTITION a VALUES IN (1), PARTITION b VALUES IN (3, 4, 6),"
            f" PARTITION c VALUES IN (7), {other}",
            "PARTITION BY",
        ),
    ]
    for partitions, operation in steps:
        desired = codes.format(partitions=partitions)
        # Nothing is lost, so the strict policy lets every step through.
        report = schema_apply(target, desired, dev, ApplyPolicy(lint_destructive_error=True))
        assert report.error is None, report.error
        assert len(report.applied) == 1
        assert operation in report.applied[0]
        assert base.replan(target, dev, desired) == []
        assert rows(target, "codes") == len(values)
        assert reachable() == len(values)
        checked = base.admin_run(target, f"CHECK TABLE `{target.schema}`.codes")
        assert checked[-1][-1] == "OK", checked
        oracle = target.with_schema(make_database("oracle"))
        options.run(oracle, desired)
        assert partition_clause(target, "codes") == partition_clause(oracle, "codes")
