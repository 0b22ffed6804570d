"""PostgreSQL dev-database cleaning on the real server: every kind of object a desired
state (or a replayed migration) can leave behind is removed by `clean` and counted by
`is_clean`, and nothing leaks from one run on a dev database into the next.

Leftovers are read from pg_catalog directly, never through the engine's inspection.
Database-wide objects (extensions, event triggers) and, in a bound scope, other
schemas are dropped when the run created them, and kept when the dev database had
them before (the marker's baseline).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from atlas_operator.engine.declarative import ApplyPolicy, normalise_on_dev, schema_apply
from atlas_operator.engine.devrun import dev_session
from atlas_operator.engine.drivers.base import Scope
from atlas_operator.engine.drivers.postgres import PostgresDriver
from atlas_operator.engine.model import Realm
from atlas_operator.engine.urls import DatabaseURL
from tests.engine.drivers import test_postgres
from tests.engine.drivers.test_postgres import fetch, run

# The PostgreSQL driver tests' fixtures: a fresh database per call, dropped at the end.
admin = test_postgres.admin
new_db = test_postgres.new_db

NewDB = Callable[..., DatabaseURL]
DRIVER = PostgresDriver()
PUBLIC = Scope(bound="public")
REALM = Scope()

NOT_EXTENSION_MEMBER = (
    "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass"
    " AND d.objid = {oid} AND d.deptype = 'e')"
)
# (catalog, namespace column, extra condition): what a schema holds, one catalog each.
# An array type goes with its element type (and is no extension member itself).
CATALOGS = [
    ("pg_class", "relnamespace", "TRUE"),
    ("pg_proc", "pronamespace", "TRUE"),
    ("pg_type", "typnamespace", "NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = x.oid)"),
    ("pg_collation", "collnamespace", "TRUE"),
    ("pg_operator", "oprnamespace", "TRUE"),
    ("pg_opfamily", "opfnamespace", "TRUE"),
    ("pg_opclass", "opcnamespace", "TRUE"),
    ("pg_ts_config", "cfgnamespace", "TRUE"),
    ("pg_ts_dict", "dictnamespace", "TRUE"),
    ("pg_conversion", "connamespace", "TRUE"),
]

# Every kind of object, one statement each.
KINDS = {
    "partitioned table": (
        "create table parted (id int, k text) partition by list (k);"
        " create table parted_a partition of parted for values in ('a');"
        " create table parted_d partition of parted default"
        " partition by hash (id);"
        " create table parted_d0 partition of parted_d for values with (modulus 1, remainder 0)"
    ),
    "table with policy and trigger": (
        "create table plain (id int primary key, v text);"
        " alter table plain enable row level security;"
        " create policy p_read on plain for select using (true);"
        " create function trg() returns trigger language plpgsql"
        "   as $$ begin return new; end $$;"
        " create trigger tr before insert on plain for each row execute function trg()"
    ),
    "view": "create view v as select 1 as one",
    "materialized view": "create materialized view mv as select 1 as one with no data",
    "sequence": "create sequence s",
    "function": "create function f(int) returns int language sql immutable as 'select $1'",
    "procedure": "create procedure pr() language sql as 'select 1'",
    "aggregate": "create aggregate agg(int) (sfunc = int4pl, stype = int)",
    "enum": "create type mood as enum ('sad', 'ok')",
    "composite type": "create type pair as (a int, b int)",
    "range type": "create type floatrange as range (subtype = float8)",
    "domain": "create domain positive as int check (value > 0)",
    "collation": 'create collation c2 from "C"',
    "operator": "create operator === (leftarg = int, rightarg = int, function = int4eq)",
    "operator class": (
        "create operator class rev_ops for type int using btree as"
        " operator 1 >, operator 2 >=, operator 3 =, operator 4 <=, operator 5 <,"
        " function 1 btint4cmp(int, int)"
    ),
    "text search": (
        "create text search dictionary dict (template = simple);"
        " create text search configuration cfg (copy = english)"
    ),
    "extension": "create extension hstore",
    "event trigger": (
        "create function on_ddl() returns event_trigger language plpgsql"
        "   as $$ begin end $$;"
        " create event trigger et on ddl_command_start execute function on_ddl()"
    ),
}
SCHEMA_KIND = "create schema other; create table other.t (id int)"


def objects_in(url: DatabaseURL, schema: str) -> list[tuple[str, int]]:
    """Per catalog, how many objects `schema` holds that no extension owns."""
    counts = []
    for catalog, column, extra in CATALOGS:
        member = NOT_EXTENSION_MEMBER.format(catalog=catalog, oid="x.oid")
        query = (
            f"SELECT count(*) FROM {catalog} x JOIN pg_namespace n ON n.oid = x.{column}"
            f" WHERE n.nspname = %s AND {extra} AND {member}"
        )
        counts.append((catalog, int(fetch(url, query, [schema])[0][0])))
    return counts


def empty(url: DatabaseURL, schema: str) -> bool:
    return all(count == 0 for _, count in objects_in(url, schema))


def database_wide(url: DatabaseURL) -> dict[str, set[str]]:
    """Schemas, extensions, event triggers and what policies and triggers remain."""
    return {
        "schemas": {
            r[0]
            for r in fetch(
                url,
                "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_'"
                " AND nspname <> 'information_schema'",
            )
        },
        "extensions": {r[0] for r in fetch(url, "SELECT extname FROM pg_extension")},
        "event triggers": {r[0] for r in fetch(url, "SELECT evtname FROM pg_event_trigger")},
        "policies": {r[0] for r in fetch(url, "SELECT polname FROM pg_policy")},
        "triggers": {
            r[0] for r in fetch(url, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        },
    }


def load_and_clean(url: DatabaseURL, scope: Scope, sql: str) -> None:
    """A run: mark, load `sql`, then (checked by `is_clean`) clean and unmark."""
    with DRIVER.open(url) as session:
        assert DRIVER.is_clean(session, scope)
        DRIVER.mark_dev(session, scope)
        session.execute(sql)
        assert not DRIVER.is_clean(session, scope), "is_clean missed what was loaded"
        DRIVER.clean(session, scope)
        assert DRIVER.is_clean(session, scope)
        DRIVER.unmark_dev(session, scope)


# --- every kind ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_is_counted_and_cleaned_in_a_bound_schema(new_db: NewDB, kind: str) -> None:
    url = new_db()
    before = database_wide(url)
    load_and_clean(url, PUBLIC, KINDS[kind])
    assert objects_in(url, "public") == [(catalog, 0) for catalog, _, _ in CATALOGS]
    assert database_wide(url) == before


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_is_counted_and_cleaned_in_realm_scope(new_db: NewDB, kind: str) -> None:
    url = new_db(schema=None)
    before = database_wide(url)
    load_and_clean(url, REALM, "set search_path = public; " + KINDS[kind])
    assert empty(url, "public")
    assert database_wide(url) == before


def test_schemas_a_bound_run_created_are_dropped(new_db: NewDB) -> None:
    url = new_db()
    before = database_wide(url)
    load_and_clean(url, PUBLIC, SCHEMA_KIND)
    assert database_wide(url) == before


def test_everything_at_once_and_what_was_there_before_stays(new_db: NewDB) -> None:
    url = new_db()
    run(
        url,
        "create extension citext; create schema keep_me; create table keep_me.t (id int);"
        " create function keep_me.on_ddl() returns event_trigger language plpgsql"
        "   as $$ begin end $$;"
        " create event trigger kept on sql_drop execute function keep_me.on_ddl()",
    )
    before = database_wide(url)
    load_and_clean(url, PUBLIC, "; ".join([*KINDS.values(), SCHEMA_KIND]))
    assert empty(url, "public")
    assert database_wide(url) == before
    assert before["extensions"] == {"plpgsql", "citext"}
    assert {"keep_me", "public"} <= before["schemas"]
    assert before["event triggers"] == {"kept"}
    assert fetch(url, "SELECT count(*) FROM keep_me.t") == [(0,)]


def test_without_a_baseline_database_wide_objects_are_left_alone(new_db: NewDB) -> None:
    """A clean with no marker (or one an older version wrote) cannot tell a run's
    extension from the dev database's own: it keeps it, and `is_clean` does not count it."""
    url = new_db()
    run(url, "create extension hstore; create schema other")
    with DRIVER.open(url) as session:
        assert DRIVER.is_clean(session, PUBLIC)
        DRIVER.clean(session, PUBLIC)
    assert {"hstore"} <= database_wide(url)["extensions"]
    assert "other" in database_wide(url)["schemas"]


# --- runs on one dev database ---------------------------------------------------------------

PARTITIONED = """
create table sessions (id bigint not null, user_id int not null) partition by hash (user_id);
create table sessions_0 partition of sessions for values with (modulus 2, remainder 0);
create table sessions_1 partition of sessions for values with (modulus 2, remainder 1);
"""
WITH_EXTENSION = PARTITIONED + "create extension hstore; create table attrs (id int, a hstore);"
UNRELATED = "create table x (id int primary key);"


def normalise(dev: DatabaseURL, sql: str) -> Realm:
    scope = DRIVER.scope_of(dev)
    return normalise_on_dev(DRIVER, sql, dev, scope, "schema.sql")


def test_nothing_leaks_into_the_next_run_on_the_dev_database(new_db: NewDB) -> None:
    dev = new_db()
    first = normalise(dev, WITH_EXTENSION)
    assert {t.name for t in first.schemas[0].tables} >= {"sessions", "sessions_0", "attrs"}
    assert empty(dev, "public")
    assert "hstore" not in database_wide(dev)["extensions"]
    second = normalise(dev, UNRELATED)
    assert [t.name for s in second.schemas for t in s.tables] == ["x"]
    # The same desired state loads again ("already exists" when leftovers stayed).
    assert normalise(dev, WITH_EXTENSION) == first


def test_an_apply_after_a_partitioned_one_creates_only_its_own_tables(new_db: NewDB) -> None:
    dev = new_db()
    for sql in (PARTITIONED, UNRELATED):
        target = new_db()
        report = schema_apply(target, sql, dev, ApplyPolicy())
        assert report.error is None
    tables = fetch(
        target,
        "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p')"
        " AND relnamespace = 'public'::regnamespace",
    )
    assert tables == [("x",)]


def test_a_bound_run_that_creates_another_schema_leaves_nothing(new_db: NewDB) -> None:
    """Replayed migrations (migrate down, lint) are not sandboxed and may create schemas
    outside a bound dev URL's schema."""
    dev = new_db()
    before = database_wide(dev)
    with dev_session(DRIVER, dev, PUBLIC) as session:
        session.execute(SCHEMA_KIND + "; create extension hstore schema other")
    assert database_wide(dev) == before


def test_a_dead_runs_database_wide_leftovers_are_cleaned_by_the_next_run(
    new_db: NewDB,
) -> None:
    dev = new_db()
    before = database_wide(dev)
    with DRIVER.open(dev) as session:  # marked and loaded, then killed
        DRIVER.mark_dev(session, PUBLIC)
        session.execute(SCHEMA_KIND + "; create extension hstore; " + KINDS["event trigger"])
    realm = normalise(dev, UNRELATED)
    assert [t.name for s in realm.schemas for t in s.tables] == ["x"]
    assert database_wide(dev) == before
