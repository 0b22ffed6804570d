"""PostgreSQL schema objects on the real server: views, materialized views, functions,
procedures, triggers, sequences, enums, domains, composite types, policies and
extensions — create, change in place, changes that re-create dependents, drop,
exclude, skip, and a re-plan that finds nothing.

The oracle is outside the engine: `snapshot` reads the server's own deparsers
(`pg_get_viewdef`, `pg_get_functiondef`, `pg_get_triggerdef`, `pg_policies`,
`pg_sequences`, `pg_describe_object`) on the migrated database and on a database
where the desired SQL ran as written; they must be equal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from atlas_operator.engine.declarative import (
    ApplyPolicy,
    DestructiveChangesError,
    DevDatabaseError,
    schema_apply,
)
from atlas_operator.engine.drivers.base import EngineError
from atlas_operator.engine.urls import DatabaseURL
from tests.engine.drivers.test_postgres import apply, fetch, replan, run

NewDB = Callable[..., DatabaseURL]

SNAPSHOT_QUERIES = {
    "relations": "SELECT c.relname, c.relkind::text, coalesce(c.reloptions, '{}')"
    " FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace"
    " AND c.relkind IN ('r', 'v', 'm', 'S', 'i', 'c') ORDER BY 1",
    "views": "SELECT c.relname, pg_get_viewdef(c.oid, true) FROM pg_class c"
    " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('v', 'm') ORDER BY 1",
    "columns": "SELECT table_name, column_name, data_type, udt_name, column_default,"
    " is_nullable FROM information_schema.columns WHERE table_schema = 'public'"
    " ORDER BY 1, 2",
    "routines": "SELECT pg_get_functiondef(p.oid) FROM pg_proc p"
    " WHERE p.pronamespace = 'public'::regnamespace AND p.prokind IN ('f', 'p')"
    " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"
    " ORDER BY 1",
    "triggers": "SELECT pg_get_triggerdef(t.oid, true), t.tgenabled::text FROM pg_trigger t"
    " WHERE NOT t.tgisinternal ORDER BY 1",
    "enums": "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)"
    " FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY 1 ORDER BY 1",
    "domains": "SELECT t.typname, format_type(t.typbasetype, t.typtypmod), t.typnotnull,"
    " t.typdefault, array(SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c"
    " WHERE c.contypid = t.oid ORDER BY 1) FROM pg_type t WHERE t.typtype = 'd'"
    " AND t.typnamespace = 'public'::regnamespace ORDER BY 1",
    "composites": "SELECT t.typname, a.attname, format_type(a.atttypid, a.atttypmod)"
    " FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'"
    " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
    " WHERE t.typnamespace = 'public'::regnamespace ORDER BY 1, a.attnum",
    "sequences": "SELECT sequencename, data_type::text, start_value, min_value, max_value,"
    " increment_by, cycle, cache_size FROM pg_sequences WHERE schemaname = 'public'"
    " ORDER BY 1",
    "policies": "SELECT tablename, policyname, permissive, roles::text[], cmd, qual,"
    " with_check FROM pg_policies ORDER BY 1, 2",
    "row_security": "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
    " WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY 1",
    "extensions": "SELECT extname, extversion FROM pg_extension ORDER BY 1",
    "comments": "SELECT pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description"
    " FROM pg_description d JOIN pg_class k ON k.oid = d.classoid"
    " WHERE d.objoid >= 16384 AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE"
    " x.objid = d.objoid AND x.deptype = 'e') ORDER BY 1",
}


def snapshot(url: DatabaseURL) -> dict[str, list[tuple[Any, ...]]]:
    return {name: fetch(url, sql) for name, sql in SNAPSHOT_QUERIES.items()}


def converge(new_db: NewDB, current: str, desired: str, **policy: Any) -> list[str]:
    """Applies `desired` over `current` and checks the result against a database where
    `desired` ran verbatim; returns the statements that ran."""
    target, dev, oracle = new_db(), new_db(), new_db()
    if current:
        run(target, current)
    applied = apply(target, dev, desired, **policy).applied
    run(oracle, desired)
    assert snapshot(target) == snapshot(oracle)
    assert replan(target, dev, desired, **policy) == []
    return applied


EVERYTHING = """
create extension if not exists pgcrypto;
create type status as enum ('active', 'inactive');
create domain posint as integer default 1 not null constraint positive check (value > 0);
create type pair as (a int, b text);
create sequence order_seq as integer start 100 increment 5 maxvalue 100000 cycle;
create table users (
  id serial primary key,
  name text not null,
  status status default 'active',
  qty posint,
  ord bigint default nextval('order_seq'),
  token text default encode(gen_random_bytes(8), 'hex'),
  updated_at timestamptz
);
create sequence user_ext_seq owned by users.id;
create function touch() returns trigger language plpgsql as $$
begin
  new.updated_at := now(); -- stamp
  return new;
end $$;
create function add(a int, b int default 1) returns int language sql immutable strict
  as 'select a + b';
create function add(a text, b text) returns text language sql as 'select a || b';
create function active_count() returns bigint language sql stable
  begin atomic select count(*) from users where status = 'active'; end;
create procedure reset_users(keep int) language sql as $$ delete from users where id > keep $$;
create trigger users_touch before update of name, status on users for each row
  when (old.* is distinct from new.*) execute function touch();
create view active_users with (security_barrier = true) as
  select id, name from users where status = 'active';
create view active_names as select name from active_users with local check option;
create materialized view user_counts as select status, count(*) as n from users group by status;
create unique index user_counts_status on user_counts (status);
alter table users enable row level security;
alter table users force row level security;
create policy own on users as restrictive for update to public
  using (name = current_user) with check (qty < 100);
comment on view active_users is 'who is active';
comment on column active_users.name is 'display name';
comment on function touch() is 'sets updated_at';
comment on type status is 'lifecycle';
comment on sequence order_seq is 'order numbers';
comment on trigger users_touch on users is 'keeps updated_at';
comment on policy own on users is 'only yours';
comment on materialized view user_counts is 'per status';
"""


def test_every_kind_is_created_as_declared_and_replans_nothing(new_db: NewDB) -> None:
    applied = converge(new_db, "", EVERYTHING)
    # Created in dependency order: what the table needs before it, the rest after.
    position = {s.split(" (")[0].split(" AS")[0]: i for i, s in enumerate(applied)}
    assert (
        position['CREATE EXTENSION "pgcrypto" WITH SCHEMA "public" VERSION \'1.3\'']
        < (position['CREATE TABLE "users"'])
    )
    assert position['CREATE TYPE "status"'] < position['CREATE TABLE "users"']
    assert position['CREATE VIEW "active_users" WITH'] < position['CREATE VIEW "active_names" WITH']


def test_formatting_and_comments_in_bodies_change_nothing(new_db: NewDB) -> None:
    target, dev = new_db(), new_db()
    apply(target, dev, EVERYTHING)
    reformatted = EVERYTHING.replace(
        "  new.updated_at := now(); -- stamp\n  return new;",
        "  /* when */ NEW.updated_at   :=   now();\n\n   RETURN   new;",
    ).replace("create view active_users", "CREATE VIEW active_users")
    assert replan(target, dev, reformatted) == []


CHANGED = (
    EVERYTHING.replace("('active', 'inactive')", "('pending', 'active', 'inactive', 'banned')")
    .replace("check (value > 0)", "check (value > 0) constraint small check (value < 1000)")
    .replace("create type pair as (a int, b text)", "create type pair as (a int, b text, c bool)")
    .replace("increment 5", "increment 2")
    .replace("new.updated_at := now()", "new.updated_at := clock_timestamp()")
    .replace("as 'select a + b'", "as 'select a + b + 0'")
    .replace("using (name = current_user)", "using (name = session_user)")
    .replace("'who is active'", "'who is still active'")
    .replace("before update of name, status", "before update of name")
    .replace("select id, name from users", "select id, name, qty from users")
)


def test_changes_are_made_in_place_where_postgres_can(new_db: NewDB) -> None:
    applied = converge(new_db, EVERYTHING, CHANGED)
    joined = "\n".join(applied)
    assert "ALTER TYPE \"status\" ADD VALUE IF NOT EXISTS 'pending' BEFORE 'active'" in joined
    assert "ALTER TYPE \"status\" ADD VALUE IF NOT EXISTS 'banned'" in joined
    assert 'ALTER DOMAIN "posint" ADD CONSTRAINT "small" CHECK' in joined
    assert 'ALTER TYPE "pair" ADD ATTRIBUTE "c" boolean' in joined
    assert 'ALTER SEQUENCE "order_seq" INCREMENT BY 2' in joined
    assert 'CREATE OR REPLACE FUNCTION "touch"()' in joined
    assert 'CREATE OR REPLACE FUNCTION "add"(a integer, b integer DEFAULT 1)' in joined
    assert 'ALTER POLICY "own" ON "users" USING' in joined
    assert "CREATE OR REPLACE TRIGGER users_touch" in joined
    # A column added at the end of a view: replaced in place, its dependent untouched.
    assert 'CREATE OR REPLACE VIEW "active_users"' in joined
    assert "DROP" not in joined


def test_a_column_type_change_recreates_views_two_levels_deep(new_db: NewDB) -> None:
    current = """
    create table t (id int primary key, a int);
    create view v1 as select id, a from t where a > 0;
    create view v2 as select a from v1;
    create materialized view m as select sum(a) as total from v2;
    """
    target, dev = new_db(), new_db()
    run(target, current + "insert into t values (1, 5), (2, 7);")
    desired = current.replace("a int)", "a bigint)")
    applied = apply(target, dev, desired).applied
    assert applied[:3] == ['DROP MATERIALIZED VIEW "m"', 'DROP VIEW "v2"', 'DROP VIEW "v1"']
    assert applied[3].startswith('ALTER TABLE "t" ALTER COLUMN "a" TYPE bigint')
    assert [s.split(" AS")[0] for s in applied[4:]] == [
        'CREATE VIEW "v1"',
        'CREATE VIEW "v2"',
        'CREATE MATERIALIZED VIEW "m"',
    ]
    assert fetch(target, "SELECT total FROM m") == [(12,)]
    assert replan(target, dev, desired) == []


def test_a_function_whose_signature_changes_takes_its_trigger_and_view_along(
    new_db: NewDB,
) -> None:
    current = """
    create table t (id int primary key, a int);
    create function big(x int) returns boolean language sql immutable as 'select x > 10';
    create function tf() returns trigger language plpgsql as $$ begin return new; end $$;
    create trigger t_big before insert on t for each row when (big(new.a)) execute function tf();
    create function n() returns int language sql as 'select 1';
    create view nv as select n() as v;
    """
    desired = current.replace("big(x int)", "big(x bigint)").replace(
        "returns int language sql as 'select 1'", "returns bigint language sql as 'select 1'"
    )
    applied = converge(new_db, current, desired)
    drops = [s for s in applied if s.startswith("DROP")]
    assert sorted(drops) == [
        'DROP FUNCTION "big"(x integer)',
        'DROP FUNCTION "n"()',
        'DROP TRIGGER "t_big" ON "t"',
        'DROP VIEW "nv"',
    ]
    assert applied.index('DROP TRIGGER "t_big" ON "t"') < applied.index(
        'DROP FUNCTION "big"(x integer)'
    )
    assert applied.index('DROP VIEW "nv"') < applied.index('DROP FUNCTION "n"()')


ENUM_IN_USE = """
create type e as enum ('a', 'b', 'c');
create table t (id int primary key, c e not null default 'a', d e[]);
create view v as select id, c from t where c <> 'b';
create function f(x e) returns boolean language sql as 'select x = ''a''';
"""


def test_an_enum_losing_a_label_converts_its_columns_and_views(new_db: NewDB) -> None:
    desired = ENUM_IN_USE.replace("('a', 'b', 'c')", "('c', 'a')").replace(
        "where c <> 'b'", "where c <> 'c'"
    )
    target, dev, oracle = new_db(), new_db(), new_db()
    run(target, ENUM_IN_USE + "insert into t values (1, 'a', '{a,c}'), (2, 'c', null);")
    applied = apply(target, dev, desired).applied
    assert sorted(applied[:2]) == ['DROP FUNCTION "f"(x e)', 'DROP VIEW "v"']
    assert applied[2] == 'ALTER TYPE "e" RENAME TO "e__atlas_old"'
    assert 'DROP TYPE "e__atlas_old"' in applied
    assert fetch(target, "select id, c::text, d::text from t order by id") == [
        (1, "a", "{a,c}"),
        (2, "c", None),
    ]
    run(oracle, desired)
    assert snapshot(target) == snapshot(oracle)
    assert replan(target, dev, desired) == []


def test_an_enum_label_in_use_that_goes_away_fails_and_changes_nothing(new_db: NewDB) -> None:
    current = "create type e as enum ('a', 'b'); create table t (c e);"
    target, dev = new_db(), new_db()
    run(target, current + "insert into t values ('b');")
    report = schema_apply(target, current.replace("'a', 'b'", "'a'"), dev, ApplyPolicy())
    assert report.error is not None
    assert 'invalid input value for enum e: "b"' in report.error
    assert fetch(target, "select typname from pg_type where typtype = 'e'") == [("e",)]
    assert fetch(target, "select c::text from t") == [("b",)]


def test_an_unused_enum_is_recreated_when_a_label_goes(new_db: NewDB) -> None:
    applied = converge(
        new_db, "create type e as enum ('a', 'b');", "create type e as enum ('b', 'a');"
    )
    assert applied == ['DROP TYPE "e"', "CREATE TYPE \"e\" AS ENUM ('b', 'a')"]


def test_objects_missing_from_the_desired_state_are_dropped_and_linted(new_db: NewDB) -> None:
    target, dev = new_db(), new_db()
    run(target, EVERYTHING)
    with pytest.raises(DestructiveChangesError) as raised:
        replan(target, dev, "", lint_destructive_error=True)
    listed = "\n".join(raised.value.statements)
    for statement in ('DROP VIEW "active_names"', 'DROP FUNCTION "touch"()', 'DROP TYPE "pair"'):
        assert statement in listed
    applied = apply(target, dev, "").applied
    assert applied[-1] in ('DROP EXTENSION "pgcrypto"', 'DROP SEQUENCE "order_seq"')
    left = fetch(
        target,
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace",
    )
    assert left == [(0,)]
    assert fetch(target, "SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace "
                 "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = pg_proc.oid "
                 "AND d.deptype = 'e')") == [(0,)]  # fmt: skip


def test_exclude_and_skip_leave_objects_alone(new_db: NewDB) -> None:
    target, dev = new_db(), new_db()
    run(
        target,
        "create table t (a int); create view keep_v as select a from t;"
        " create function keep_f() returns int language sql as 'select 1';"
        " create function gone() returns int language sql as 'select 2';",
    )
    desired = "create table t (a int);"
    excluded = ("*[type=view]", "keep_*[type=function]")
    assert replan(target, dev, desired, exclude=excluded) == ['DROP FUNCTION "gone"()']
    skipped = replan(target, dev, desired, skip=frozenset({"drop_view", "drop_function"}))
    assert skipped == []


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("create view v as select * from missing;", 'relation "missing" does not exist'),
        (
            "create function f() returns int language plpgsql as $$ begin retrun 1; end $$;",
            'syntax error at or near "retrun"',
        ),
        ("create extension no_such_ext;", 'extension "no_such_ext" is not available'),
    ],
)
def test_bad_objects_are_clear_errors_and_change_nothing(
    new_db: NewDB, sql: str, message: str
) -> None:
    target, dev = new_db(), new_db()
    run(target, "create table t (a int);")
    before = fetch(target, "SELECT count(*) FROM pg_class")
    with pytest.raises(DevDatabaseError, match=message) as raised:
        schema_apply(target, "create table t (a int);\n" + sql, dev, ApplyPolicy())
    assert sql.split(" as ")[0].split(";")[0][:20] in str(raised.value)
    assert str(raised.value).endswith("(schema.sql line 2)")
    assert fetch(target, "SELECT count(*) FROM pg_class") == before


def test_realm_scope_qualifies_object_names(new_db: NewDB) -> None:
    target, dev = new_db(schema=None), new_db(schema=None)
    desired = """
    create schema app;
    create type app.mood as enum ('ok');
    create table app.t (m app.mood);
    create view app.v as select m from app.t;
    create function app.f() returns int language sql as 'select 1';
    """
    applied = apply(target, dev, desired).applied
    assert 'CREATE TYPE "app"."mood" AS ENUM (\'ok\')' in applied
    assert any(s.startswith('CREATE VIEW "app"."v"') for s in applied)
    assert any(s.startswith('CREATE FUNCTION "app"."f"()') for s in applied)
    assert replan(target, dev, desired) == []


def test_engine_errors_name_the_object(new_db: NewDB) -> None:
    target, dev = new_db(), new_db()
    current = "create domain d as int; create table t (c d);"
    run(target, current)
    with pytest.raises(EngineError, match='domain "d"'):
        replan(target, dev, current.replace("domain d as int", "domain d as bigint"))


@pytest.mark.parametrize(
    ("current", "desired"),
    [
        (
            "create type a as enum ('x', 'y'); create type b as enum ('x', 'y');"
            " create table t (c a default 'x');",
            "create type a as enum ('x', 'y'); create type b as enum ('x', 'y');"
            " create table t (c b default 'x');",
        ),
        (
            "create table t (c text default 'x');",
            "create type e as enum ('x', 'y'); create table t (c e default 'x');",
        ),
        (
            "create type e as enum ('x', 'y'); create table t (c e default 'y');",
            "create type e as enum ('x', 'y'); create table t (c text default 'y');",
        ),
    ],
)
def test_column_types_change_to_and_from_enums_with_their_data(
    new_db: NewDB, current: str, desired: str
) -> None:
    target, dev, oracle = new_db(), new_db(), new_db()
    run(target, current + " insert into t values ('x'), (default);")
    apply(target, dev, desired)
    run(oracle, desired)
    assert snapshot(target) == snapshot(oracle)
    # Rows keep their values (the second one got the current default when inserted).
    kept = current.split("default '")[1][0]
    assert fetch(target, "select c::text from t order by 1") == sorted([("x",), (kept,)])
    assert replan(target, dev, desired) == []


EVENT_TRIGGERS = """
create table audit (tag text);
create function no_ddl() returns event_trigger language plpgsql as $$
begin
  raise exception 'no DDL here: %', tg_tag;
end $$;
create event trigger guard on ddl_command_start when tag in ('DROP TABLE')
  execute function no_ddl();
create event trigger sleeper on sql_drop execute function no_ddl();
alter event trigger sleeper disable;
create table later (id int);
"""


def test_event_triggers_never_fire_on_the_dev_database_and_are_set_up_last(
    new_db: NewDB,
) -> None:
    """The desired state's event trigger raises on every DROP TABLE and sql_drop: it is
    loaded disabled on the dev database (whose cleaning drops tables), created after
    every other statement of the plan, and keeps the state the SQL gives it."""
    target, dev = new_db(schema=None), new_db(schema=None)
    applied = apply(target, dev, EVENT_TRIGGERS).applied
    assert applied[-3:] == [
        "CREATE EVENT TRIGGER \"guard\" ON ddl_command_start WHEN TAG IN ('DROP TABLE')"
        " EXECUTE FUNCTION no_ddl()",
        'CREATE EVENT TRIGGER "sleeper" ON sql_drop EXECUTE FUNCTION no_ddl()',
        'ALTER EVENT TRIGGER "sleeper" DISABLE',
    ]
    assert fetch(target, "select evtname, evtenabled::text from pg_event_trigger order by 1") == [
        ("guard", "O"),
        ("sleeper", "D"),
    ]
    assert fetch(dev, "select count(*) from pg_event_trigger") == [(0,)]
    assert replan(target, dev, EVENT_TRIGGERS) == []
    # Excluded, it is left alone; gone from the desired state, it is dropped first.
    kept = replan(target, dev, "", exclude=("*[type=event_trigger]",))
    assert not [s for s in kept if "EVENT TRIGGER" in s]
    gone = replan(target, dev, EVENT_TRIGGERS.split("create event trigger")[0])
    assert gone[:2] == ['DROP EVENT TRIGGER "guard"', 'DROP EVENT TRIGGER "sleeper"']


def test_event_triggers_are_refused_in_schema_scope(new_db: NewDB) -> None:
    target, dev = new_db(), new_db()
    with pytest.raises(EngineError, match="CREATE EVENT TRIGGER is not allowed"):
        replan(target, dev, EVENT_TRIGGERS)


# One sample per kind: (selector, SQL that creates it next to a table `base`, pattern
# that excludes it, catalog query counting it).
PER_KIND = {
    "view": (
        "create view v as select id from base;",
        "v[type=view]",
        "pg_views WHERE viewname = 'v'",
    ),
    "materialized": (
        "create materialized view mv as select id from base;",
        "mv[type=materialized]",
        "pg_matviews WHERE matviewname = 'mv'",
    ),
    "function": (
        "create function f() returns int language sql as 'select 1';",
        "f[type=function]",
        "pg_proc WHERE proname = 'f'",
    ),
    "procedure": (
        "create procedure p() language sql as 'select 1';",
        "p[type=procedure]",
        "pg_proc WHERE proname = 'p'",
    ),
    "trigger": (
        "create trigger tr before insert on base for each row execute function tf();",
        "base.tr[type=trigger]",
        "pg_trigger WHERE tgname = 'tr'",
    ),
    "sequence": ("create sequence s;", "s[type=sequence]", "pg_class WHERE relname = 's'"),
    "enum": ("create type e as enum ('a');", "e[type=enum]", "pg_type WHERE typname = 'e'"),
    "domain": ("create domain d as int;", "d[type=domain]", "pg_type WHERE typname = 'd'"),
    "composite": (
        "create type c as (a int);",
        "c[type=composite]",
        "pg_type WHERE typname = 'c' AND typtype = 'c'",
    ),
    "policy": (
        "create policy pol on base using (id > 0);",
        "base.pol[type=policy]",
        "pg_policy WHERE polname = 'pol'",
    ),
    "collation": (
        "create collation coll (provider = libc, locale = 'C');",
        "coll[type=collation]",
        "pg_collation WHERE collname = 'coll'",
    ),
    "extension": (
        "create extension if not exists pg_trgm;",
        "pg_trgm[type=extension]",
        "pg_extension WHERE extname = 'pg_trgm'",
    ),
}
BASE = (
    "create table base (id int primary key);"
    " create function tf() returns trigger language plpgsql as $$ begin return new; end $$;"
)


@pytest.mark.parametrize("kind", sorted(PER_KIND))
def test_each_kind_is_excluded_skipped_and_dropped(new_db: NewDB, kind: str) -> None:
    sql, pattern, counted = PER_KIND[kind]
    target, dev = new_db(), new_db()
    apply(target, dev, BASE + sql)
    assert fetch(target, f"SELECT count(*) FROM {counted}") == [(1,)]
    assert replan(target, dev, BASE + sql) == []
    assert replan(target, dev, BASE, exclude=(pattern,)) == []
    assert replan(target, dev, BASE, skip=frozenset({f"drop_{kind}"})) == []
    dropped = apply(target, dev, BASE).applied
    assert dropped
    assert all(s.startswith("DROP ") for s in dropped)
    assert fetch(target, f"SELECT count(*) FROM {counted}") == [(0,)]
    assert replan(target, dev, BASE) == []


RICH_OBJECTS = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE "Weird Type" AS (x int, "Y" text);
CREATE DOMAIN email AS text COLLATE "C" CHECK (VALUE ~ '@') CHECK (length(VALUE) < 200);
CREATE TABLE people (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  mail email NOT NULL,
  feeling mood DEFAULT 'ok',
  extra "Weird Type",
  tags text[] DEFAULT '{}'
);
CREATE FUNCTION sum_ab(a int, b int DEFAULT 2, VARIADIC rest int[] DEFAULT '{}') RETURNS int
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 5 SECURITY DEFINER SET search_path = public, pg_temp
  AS $body$ BEGIN RETURN a + b + coalesce(array_length(rest, 1), 0); END $body$;
CREATE FUNCTION sum_ab(a text) RETURNS text LANGUAGE sql AS $$ SELECT a || a $$;
CREATE FUNCTION people_count() RETURNS TABLE (n bigint)
  LANGUAGE sql STABLE AS $$ SELECT count(*) FROM people $$;
CREATE FUNCTION setof_people() RETURNS SETOF people LANGUAGE sql AS 'SELECT * FROM people';
CREATE VIEW "Happy People" AS SELECT id, mail FROM people WHERE feeling = 'happy';
CREATE RECURSIVE VIEW nums (n) AS VALUES (1) UNION ALL SELECT n + 1 FROM nums WHERE n < 5;
CREATE MATERIALIZED VIEW moods AS SELECT feeling, count(*) FROM people
  GROUP BY feeling WITH NO DATA;
CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER people_audit AFTER INSERT ON people REFERENCING NEW TABLE AS newrows
  FOR EACH STATEMENT
  EXECUTE FUNCTION audit();
CREATE CONSTRAINT TRIGGER people_check AFTER UPDATE ON people DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW
  EXECUTE FUNCTION audit();
CREATE TRIGGER happy_instead INSTEAD OF INSERT ON "Happy People" FOR EACH ROW
  EXECUTE FUNCTION audit();
ALTER TABLE people DISABLE TRIGGER people_audit;
CREATE SEQUENCE counter AS smallint INCREMENT -1 MINVALUE -100 MAXVALUE -1 START -1 CYCLE;
COMMENT ON FUNCTION sum_ab(int, int, int[]) IS 'adds';
COMMENT ON DOMAIN email IS 'an address';
COMMENT ON COLUMN "Happy People".mail IS 'the mail';
ALTER TABLE people ENABLE ROW LEVEL SECURITY;
CREATE POLICY p_all ON people TO PUBLIC USING (true);
CREATE POLICY p_ins ON people AS RESTRICTIVE FOR INSERT WITH CHECK (feeling <> 'sad');
"""
RICH_OBJECTS_CHANGED = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'ecstatic');
CREATE TYPE "Weird Type" AS (x bigint, "Y" text);
CREATE DOMAIN email AS text COLLATE "C" CHECK (VALUE ~ '@');
CREATE TABLE people (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  mail email NOT NULL,
  feeling mood DEFAULT 'happy',
  tags text[] DEFAULT '{}'
);
CREATE FUNCTION sum_ab(a int, b int DEFAULT 3, VARIADIC rest int[] DEFAULT '{}') RETURNS int
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 5 SECURITY DEFINER SET search_path = public, pg_temp
  AS $body$ BEGIN RETURN a + b; END $body$;
CREATE FUNCTION people_count() RETURNS TABLE (n bigint)
  LANGUAGE sql STABLE AS $$ SELECT count(*) FROM people $$;
CREATE VIEW "Happy People" AS SELECT id, mail, feeling FROM people
  WHERE feeling IN ('happy', 'ecstatic');
CREATE MATERIALIZED VIEW moods AS SELECT feeling, count(*) AS c
  FROM people GROUP BY feeling;
CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER people_audit AFTER INSERT ON people REFERENCING NEW TABLE AS newrows
  FOR EACH STATEMENT
  EXECUTE FUNCTION audit();
CREATE SEQUENCE counter AS integer INCREMENT -1 MINVALUE -100 MAXVALUE -1 START -1;
ALTER TABLE people ENABLE ROW LEVEL SECURITY;
CREATE POLICY p_all ON people TO PUBLIC USING (id > 0);
"""


def test_a_rich_schema_converges_there_and_back(new_db: NewDB) -> None:
    """Overloads, VARIADIC and defaults, SETOF and TABLE results, SECURITY DEFINER with
    SET, recursive views, transition tables, constraint and INSTEAD OF triggers, quoted
    names, descending cycling sequences, restrictive policies: each direction matches a
    database where the SQL ran as written and re-plans nothing."""
    target, dev = new_db(), new_db()
    for desired in (RICH_OBJECTS, RICH_OBJECTS_CHANGED, RICH_OBJECTS):
        apply(target, dev, desired)
        oracle = new_db()
        run(oracle, desired)
        assert snapshot(target) == snapshot(oracle)
        assert replan(target, dev, desired) == []
