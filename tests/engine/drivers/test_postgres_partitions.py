"""PostgreSQL declarative partitioning on the real server: partitioned tables of each
strategy, partitions (default ones and sub-partitioned ones), bounds, partitioned
indexes, and the changes PostgreSQL cannot make in place.

Every step is checked against an oracle outside the engine: the catalogs of the
migrated database (`pg_get_partkeydef`, `pg_get_expr(relpartbound)`, `pg_get_indexdef`,
`pg_get_constraintdef` and the columns of every table and partition) must equal those
of a database where the desired SQL ran verbatim, and a second plan must be empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from atlas_operator.engine.declarative import ApplyPolicy, load_sql_on_dev
from atlas_operator.engine.diff import diff_schemas
from atlas_operator.engine.drivers.base import Scope, UnsupportedChangeError
from atlas_operator.engine.drivers.postgres import PostgresDriver
from atlas_operator.engine.model import (
    Check,
    Column,
    PartitionKey,
    PartitionOf,
    PartitionPart,
    Schema,
    Table,
)
from atlas_operator.engine.urls import DatabaseURL
from tests.engine.drivers import test_postgres
from tests.engine.drivers.test_postgres import apply, fetch, replan, run

# The PostgreSQL driver tests' fixtures: a fresh database per call, dropped at the end.
admin = test_postgres.admin
new_db = test_postgres.new_db

NewDB = Callable[..., DatabaseURL]
DRIVER = PostgresDriver()
PUBLIC = Scope(bound="public")

# The oracle: partitioning, columns, constraints and indexes as PostgreSQL prints them.
# Index names of partitions are PostgreSQL's choice (and survive a detach), so indexes
# compare by table and definition without the name.
TABLES = """
SELECT c.relname, c.relkind::text, pg_get_partkeydef(c.oid), p.relname,
  pg_get_expr(c.relpartbound, c.oid)
FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
LEFT JOIN pg_class p ON p.oid = i.inhparent
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1
"""
COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, a.attnum
"""
CONSTRAINTS = """
SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.conislocal
FROM pg_constraint c WHERE c.connamespace = 'public'::regnamespace ORDER BY 1, 2
"""
INDEXES = """
SELECT t.relname, regexp_replace(pg_get_indexdef(i.indexrelid), 'INDEX \\S+ ON', 'INDEX ON'),
  ix.relispartition
FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class ix ON ix.oid = i.indexrelid
WHERE t.relnamespace = 'public'::regnamespace ORDER BY 1, 2
"""


def layout(url: DatabaseURL) -> list[list[tuple[Any, ...]]]:
    return [fetch(url, query) for query in (TABLES, COLUMNS, CONSTRAINTS, INDEXES)]


def verbatim(new_db: NewDB, sql: str) -> list[list[tuple[Any, ...]]]:
    url = new_db()
    run(url, sql)
    return layout(url)


def converge(new_db: NewDB, current: str, desired: str, **policy: Any) -> list[str]:
    """Applies `desired` over `current`: the result must look like the verbatim desired
    database and plan nothing more. Returns the statements that ran."""
    dev, target = new_db(), new_db()
    if current:
        run(target, current)
    report = apply(target, dev, desired, **policy)
    assert layout(target) == verbatim(new_db, desired)
    assert replan(target, dev, desired, **policy) == []
    return report.applied


# --- each strategy, from scratch -------------------------------------------------------------

RANGE = """
create table events (id bigint not null, at date not null, kind text,
  primary key (id, at), check (id > 0)) partition by range (at);
create table events_2024 partition of events for values from ('2024-01-01') to ('2025-01-01');
create table events_2025 partition of events for values from ('2025-01-01') to ('2026-01-01');
create table events_other partition of events default;
create index events_kind on events (kind);
"""
LIST = """
create table regions (id int not null, code text collate "C" not null, name text)
  partition by list (lower(code));
create table regions_eu partition of regions for values in ('de', 'fr', 'it');
create table regions_us partition of regions for values in ('us', null);
create table regions_rest partition of regions default;
create index regions_names on regions (lower(name) text_pattern_ops);
"""
HASH = """
create table sessions (id bigint not null, user_id int not null, token text,
  unique (user_id, id)) partition by hash (user_id);
create table sessions_0 partition of sessions for values with (modulus 4, remainder 0);
create table sessions_1 partition of sessions for values with (modulus 4, remainder 1);
create table sessions_2 partition of sessions for values with (modulus 4, remainder 2);
create table sessions_3 partition of sessions for values with (modulus 4, remainder 3);
"""


@pytest.mark.parametrize("sql", [RANGE, LIST, HASH], ids=["range", "list", "hash"])
def test_each_strategy_is_created_as_declared(new_db: NewDB, sql: str) -> None:
    applied = converge(new_db, "", sql)
    parents = [s for s in applied if " PARTITION BY " in s]
    partitions = [s for s in applied if " PARTITION OF " in s]
    assert len(parents) == 1
    assert len(partitions) == sql.count(" partition of ")
    # Parents first; partitions repeat no column.
    assert applied.index(parents[0]) < min(applied.index(s) for s in partitions)
    assert all("(\n" not in s for s in partitions)


def test_the_plan_reads_like_the_desired_sql(new_db: NewDB) -> None:
    applied = converge(new_db, "", HASH)
    assert applied[:2] == [
        'CREATE TABLE "sessions" (\n'
        '  "id" bigint NOT NULL,\n'
        '  "user_id" integer NOT NULL,\n'
        '  "token" text,\n'
        '  CONSTRAINT "sessions_user_id_id_key" UNIQUE ("user_id", "id")\n'
        ') PARTITION BY HASH ("user_id")',
        'CREATE TABLE "sessions_0" PARTITION OF "sessions"'
        " FOR VALUES WITH (modulus 4, remainder 0)",
    ]


SUB = """
create table metrics (at date not null, device int not null, value float8)
  partition by range (at);
create table metrics_2024 partition of metrics
  for values from ('2024-01-01') to ('2025-01-01') partition by hash (device);
create table metrics_2024_0 partition of metrics_2024 for values with (modulus 2, remainder 0);
create table metrics_2024_1 partition of metrics_2024 for values with (modulus 2, remainder 1);
create table metrics_rest partition of metrics default partition by list (device);
create table metrics_rest_1 partition of metrics_rest for values in (1);
create index metrics_at on metrics (at);
create index metrics_2024_1_value on metrics_2024_1 (value);
"""


def test_sub_partitions_are_partitions_that_are_partitioned(new_db: NewDB) -> None:
    applied = converge(new_db, "", SUB)
    assert (
        'CREATE TABLE "metrics_2024" PARTITION OF "metrics"'
        " FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY HASH (\"device\")"
    ) in applied
    assert 'CREATE TABLE "metrics_rest" PARTITION OF "metrics" DEFAULT' in " ".join(applied)


# --- the model ---------------------------------------------------------------------------------

MODEL = """
create table t (id int not null, a text, b int, c int, constraint t_id check (id > 0))
  partition by range (lower(a) collate "C" text_pattern_ops, (b + c), id);
create table t1 partition of t (constraint t1_own check (b < 100))
  for values from (minvalue, minvalue, minvalue) to ('m', 0, 0);
create index t_b on t (b);
create index t1_c on t1 (c);
create table r (id int primary key);
create table f (id int, rid int references r (id)) partition by list (id);
create table f1 partition of f for values in (1);
"""


def test_partitions_carry_only_their_own_elements(new_db: NewDB) -> None:
    realm = load_sql_on_dev(MODEL, new_db(), PUBLIC, ApplyPolicy())
    schema = realm.schemas[0]
    parent, child = schema.table("t"), schema.table("t1")
    assert parent is not None
    assert child is not None
    assert parent.partition == PartitionKey(
        "RANGE",
        (
            PartitionPart(expr="lower(a)", collation='"C"', opclass="text_pattern_ops"),
            PartitionPart(expr="(b + c)"),
            PartitionPart(column="id"),
        ),
    )
    assert child.partition_of == PartitionOf(
        "t", "FOR VALUES FROM (MINVALUE, MINVALUE, MINVALUE) TO ('m', 0, 0)"
    )
    # Columns, the inherited check and the partitioned index's child belong to the parent.
    assert child.columns == ()
    assert child.checks == (Check("t1_own", "b < 100"),)
    assert [i.name for i in child.indexes] == ["t1_c"]
    assert [i.name for i in parent.indexes] == ["t_b"]
    f1 = schema.table("f1")
    assert f1 is not None
    assert f1.foreign_keys == ()
    assert f1.primary_key is None


def test_a_partition_key_with_expressions_round_trips(new_db: NewDB) -> None:
    converge(new_db, "", MODEL)


# --- changes -----------------------------------------------------------------------------------

EXTRA = (
    "create table events_2026 partition of events for values from ('2026-01-01') to ('2027-01-01');"
)


def test_a_partition_is_added_and_dropped(new_db: NewDB) -> None:
    assert converge(new_db, RANGE, RANGE + EXTRA) == [
        'CREATE TABLE "events_2026" PARTITION OF "events"'
        " FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"
    ]
    assert converge(new_db, RANGE + EXTRA, RANGE) == ['DROP TABLE "events_2026"']


def test_a_bound_change_detaches_and_attaches(new_db: NewDB) -> None:
    changed = RANGE.replace("to ('2026-01-01')", "to ('2027-01-01')")
    assert converge(new_db, RANGE, changed) == [
        'ALTER TABLE "events" DETACH PARTITION "events_2025"',
        'ALTER TABLE "events" ATTACH PARTITION "events_2025"'
        " FOR VALUES FROM ('2025-01-01') TO ('2027-01-01')",
    ]


def test_a_split_range_detaches_before_the_new_partition_and_attaches_after(
    new_db: NewDB,
) -> None:
    wide = RANGE.replace("to ('2026-01-01')", "to ('2027-01-01')")
    split = RANGE + EXTRA
    assert converge(new_db, wide, split) == [
        'ALTER TABLE "events" DETACH PARTITION "events_2025"',
        'CREATE TABLE "events_2026" PARTITION OF "events"'
        " FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
        'ALTER TABLE "events" ATTACH PARTITION "events_2025"'
        " FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
    ]


def test_a_dropped_partition_frees_its_range_for_a_moved_one(new_db: NewDB) -> None:
    current = RANGE + EXTRA
    desired = RANGE.replace("to ('2026-01-01')", "to ('2027-01-01')")
    applied = converge(new_db, current, desired)
    assert applied == [
        'ALTER TABLE "events" DETACH PARTITION "events_2025"',
        'DROP TABLE "events_2026"',
        'ALTER TABLE "events" ATTACH PARTITION "events_2025"'
        " FOR VALUES FROM ('2025-01-01') TO ('2027-01-01')",
    ]


def test_partitioned_indexes_are_never_built_concurrently(new_db: NewDB) -> None:
    # (An own index of a partition that matches a new partitioned index would be
    # adopted by it, as PostgreSQL does: the partitioned index here matches none.)
    indexed = SUB + (
        "create index metrics_device on metrics (device, value);"
        "create index metrics_rest_1_value on metrics_rest_1 (value);"
    )
    policy = {"concurrent_create": True, "concurrent_drop": True}
    added = converge(new_db, SUB, indexed, **policy)
    assert added == [
        'CREATE INDEX "metrics_device" ON "metrics" ("device", "value")',
        # A leaf partition is a plain table: its own index may be built concurrently.
        'CREATE INDEX CONCURRENTLY "metrics_rest_1_value" ON "metrics_rest_1" ("value")',
    ]
    dropped = converge(new_db, indexed, SUB, **policy)
    assert dropped == [
        'DROP INDEX "metrics_device"',
        'DROP INDEX CONCURRENTLY "metrics_rest_1_value"',
    ]


def test_a_column_added_to_the_parent_reaches_every_partition(new_db: NewDB) -> None:
    changed = SUB.replace("value float8)", "value float8, unit text not null default 'x')")
    assert converge(new_db, SUB, changed) == [
        'ALTER TABLE "metrics" ADD COLUMN "unit" text NOT NULL DEFAULT \'x\'::text'
    ]


def test_dropping_a_partitioned_table_drops_its_partitions_with_it(new_db: NewDB) -> None:
    assert converge(new_db, SUB + HASH, HASH) == ['DROP TABLE "metrics"']


KEYS = """
create table notes (id bigint, at date, body text,
  constraint notes_event foreign key (id, at) references events (id, at));
create table users (id int primary key);
create table events_by_user (id bigint not null, user_id int references users (id), at date)
  partition by range (at);
create table events_by_user_2024 partition of events_by_user (
  primary key (id), constraint own_check check (id > 10)
) for values from ('2024-01-01') to ('2025-01-01');
"""


def test_keys_to_from_and_of_partitions(new_db: NewDB) -> None:
    """A key referencing a partitioned table, a partitioned table's key (cloned onto
    every partition) and a partition's own primary key and check."""
    applied = converge(new_db, RANGE, RANGE + KEYS)
    assert (
        'CREATE TABLE "events_by_user_2024" PARTITION OF "events_by_user" (\n'
        '  PRIMARY KEY ("id"),\n'
        '  CONSTRAINT "own_check" CHECK (id > 10)\n'
        ") FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
    ) in applied


def test_partitions_in_another_schema_of_the_realm(new_db: NewDB) -> None:
    dev, target = new_db(schema=None), new_db(schema=None)
    sql = """
    create schema app; create schema archive;
    create table app.log (at date not null, line text) partition by range (at);
    create table archive.log_2020 partition of app.log
      for values from ('2020-01-01') to ('2021-01-01');
    create table app.log_now partition of app.log default;
    """
    applied = apply(target, dev, sql).applied
    assert (
        'CREATE TABLE "archive"."log_2020" PARTITION OF "app"."log"'
        " FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')"
    ) in applied
    assert replan(target, dev, sql) == []
    parents = fetch(
        target,
        "SELECT inhrelid::regclass::text, inhparent::regclass::text FROM pg_inherits ORDER BY 1",
    )
    assert parents == [("app.log_now", "app.log"), ("archive.log_2020", "app.log")]
    moved = sql.replace("'2021-01-01'", "'2022-01-01'")
    assert replan(target, dev, moved) == [
        'ALTER TABLE "app"."log" DETACH PARTITION "archive"."log_2020"',
        'ALTER TABLE "app"."log" ATTACH PARTITION "archive"."log_2020"'
        " FOR VALUES FROM ('2020-01-01') TO ('2022-01-01')",
    ]


# --- what cannot be done in place --------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "desired", "message"),
    [
        (HASH, HASH.replace("hash (user_id)", "hash (id)"), 'table "sessions": the partition key'),
        (
            "create table t (id int);",
            "create table t (id int) partition by hash (id);",
            'table "t": the partition key cannot change in place (not partitioned → HASH',
        ),
        (
            RANGE,
            RANGE.replace(
                "create table events_2025 partition of events for values from"
                " ('2025-01-01') to ('2026-01-01');",
                "create table events_2025 (id bigint not null, at date not null, kind text);",
            ),
            'table "events_2025" is a partition and cannot become a plain table in place',
        ),
    ],
    ids=["key", "plain-to-partitioned", "partition-to-plain"],
)
def test_changes_that_need_a_new_table_are_refused(
    new_db: NewDB, current: str, desired: str, message: str
) -> None:
    dev, target = new_db(), new_db()
    run(target, current)
    with pytest.raises(UnsupportedChangeError, match=message.replace("(", r"\(")):
        replan(target, dev, desired)


# --- planning without a database ---------------------------------------------------------------


def test_realm_scope_qualifies_the_parent_and_schema_scope_a_foreign_one() -> None:
    parent = Table(
        "t",
        columns=(Column("id", "integer", nullable=False),),
        partition=PartitionKey("LIST", (PartitionPart(column="id"),)),
    )
    child = Table("t1", partition_of=PartitionOf("t", "FOR VALUES IN (1)"))
    away = Table("t2", partition_of=PartitionOf("t", "DEFAULT", schema="app"))
    changes = diff_schemas(Schema("app"), Schema("app", tables=(child, parent)))
    realm = [s.sql for s in DRIVER.plan(changes, Scope())]
    assert realm == [
        'CREATE TABLE "app"."t" (\n  "id" integer NOT NULL\n) PARTITION BY LIST ("id")',
        'CREATE TABLE "app"."t1" PARTITION OF "app"."t" FOR VALUES IN (1)',
    ]
    bound = DRIVER.plan(diff_schemas(Schema("public"), Schema("public", tables=(away,))), PUBLIC)
    assert [s.sql for s in bound] == ['CREATE TABLE "t2" PARTITION OF "app"."t" DEFAULT']
