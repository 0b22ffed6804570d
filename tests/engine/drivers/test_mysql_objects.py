"""MySQL/MariaDB views, triggers, stored functions and procedures and events, managed
like tables, against the real MariaDB test server.

Each server test migrates a database through desired states and checks the result with
the server's own SHOW CREATE or information_schema, never through the engine's
inspection; and that planning the same desired state again finds nothing to do. The
unit tests at the end cover the text handling (bodies, qualifiers, dependencies) and
the rendering paths of MySQL 8 that this server cannot exercise.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pymysql
import pytest

from atlas_operator.engine.changes import AddObject, DropObject, ModifyObject
from atlas_operator.engine.declarative import (
    ApplyPolicy,
    DestructiveChangesError,
    execute_plan,
    load_sql_on_dev,
    plan_apply,
    schema_apply,
)
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.drivers.base import EngineError, Scope
from atlas_operator.engine.drivers.mysql import MARIADB, MYSQL, MySQLDriver, ServerInfo
from atlas_operator.engine.drivers.mysql.body import (
    NameUse,
    name_uses,
    normal_form,
    strip_qualifier,
)
from atlas_operator.engine.drivers.mysql.execution import statement_traits
from atlas_operator.engine.drivers.mysql.objects import (
    event_schedule,
    trigger_head,
    typed,
    view_attrs,
)
from atlas_operator.engine.drivers.mysql.objects_plan import ObjectPlanner, ObjectRules
from atlas_operator.engine.drivers.mysql.session import normal_sql_mode, quote_string
from atlas_operator.engine.migrate.executor import migrate_apply
from atlas_operator.engine.model import SchemaObject
from atlas_operator.engine.sandbox import SandboxError
from atlas_operator.engine.urls import DatabaseURL, parse_url
from tests.engine.drivers import test_mysql as base
from tests.engine.migrate.test_executor import directory
from tests.rig.services import ServiceURLs

DB = pytest.mark.databases

# The shared fixtures of test_mysql: random databases on the MariaDB server, dropped after.
server = base.server
make_database = base.make_database
pair = base.pair
admin_run = base.admin_run
apply = base.apply
replan = base.replan

SHOW_COLUMN = {"VIEW": 1, "TRIGGER": 2, "FUNCTION": 2, "PROCEDURE": 2, "EVENT": 3}


def show_create(url: DatabaseURL, kind: str, name: str) -> str:
    """The server's own SHOW CREATE text of an object, from a session whose database is
    the URL's (so names in it are printed unqualified, as the server does then)."""
    conn = pymysql.connect(**url.pymysql_kwargs(), autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"SHOW CREATE {kind} `{name}`")
            return str(cursor.fetchall()[0][SHOW_COLUMN[kind]])
    finally:
        conn.close()


def applier(url: DatabaseURL) -> str:
    """The DEFINER clause objects get: the applying user, as SHOW CREATE prints it."""
    user, host = str(admin_run(url, "SELECT CURRENT_USER()")[0][0]).rsplit("@", 1)
    return f"DEFINER=`{user}`@`{host}`"


def catalog(url: DatabaseURL, sql: str) -> list[tuple[Any, ...]]:
    """A query of information_schema with the URL's database as its one parameter."""
    conn = base.admin_connection(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, (url.schema,))
            return list(cursor.fetchall())
    finally:
        conn.close()


# --- views ---------------------------------------------------------------------------

VIEW_V1 = """
create table t (id int primary key, name varchar(20), active tinyint);
create algorithm=merge sql security invoker view active as
  select id, name from t where active = 1 with local check option;
"""
VIEW_V2 = """
create table t (id int primary key, name varchar(20), active tinyint);
CREATE VIEW active AS SELECT id, name, active FROM t WHERE active = 1;
"""
VIEW_V3 = "create table t (id int primary key, name varchar(20), active tinyint);"


@DB
@pytest.mark.parametrize("scheme", ["mysql", "mariadb"])
def test_views_are_created_replaced_and_dropped(
    databases: ServiceURLs, make_database: base.MakeDatabase, scheme: str
) -> None:
    url = parse_url(databases.mysql if scheme == "mysql" else databases.mariadb)
    target, dev = url.with_schema(make_database("target")), url.with_schema(make_database("dev"))

    applied = apply(target, dev, VIEW_V1)
    assert applied[1] == (
        "CREATE ALGORITHM = MERGE SQL SECURITY INVOKER VIEW `active` AS select `t`.`id` AS"
        " `id`,`t`.`name` AS `name` from `t` where `t`.`active` = 1 WITH LOCAL CHECK OPTION"
    )
    shown = show_create(target, "VIEW", "active")
    assert shown == (
        f"CREATE ALGORITHM=MERGE {applier(target)} SQL SECURITY INVOKER VIEW `active` AS"
        " select `t`.`id` AS `id`,`t`.`name` AS `name` from `t` where `t`.`active` = 1"
        " WITH LOCAL CHECK OPTION"
    )
    assert str(dev.schema) not in shown
    assert replan(target, dev, VIEW_V1) == []

    assert apply(target, dev, VIEW_V2) == [
        "CREATE OR REPLACE VIEW `active` AS select `t`.`id` AS `id`,`t`.`name` AS `name`,"
        "`t`.`active` AS `active` from `t` where `t`.`active` = 1"
    ]
    assert show_create(target, "VIEW", "active").startswith(
        f"CREATE ALGORITHM=UNDEFINED {applier(target)} SQL SECURITY DEFINER VIEW `active`"
    )
    assert replan(target, dev, VIEW_V2) == []

    assert apply(target, dev, VIEW_V3) == ["DROP VIEW `active`"]
    assert (
        catalog(target, "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s")
        == []
    )
    assert replan(target, dev, VIEW_V3) == []


CHAIN_V1 = """
create view top as select * from base_v where doubled > 2;
create view base_v as select id, twice(id) as doubled from t;
create function twice(x int) returns int deterministic return x * 2;
create table t (id int primary key);
"""
CHAIN_V2 = """
create table t (id int primary key);
create function twice(x int) returns int deterministic return x * 2;
create view base_v as select id, twice(id) as doubled, id + 1 as next from t;
create view top as select * from base_v where doubled > 2;
"""


@DB
def test_views_follow_what_they_use_and_a_base_view_change_reaches_its_dependents(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    """The server checks at CREATE VIEW that what a view uses exists: tables, functions
    and base views are created first whatever the file's order. `select *` is expanded
    when a view is created, so a base view's new column changes the view over it too,
    which is replaced after the base view."""
    target, dev = pair
    applied = apply(target, dev, CHAIN_V1)
    assert [s.split(" AS ")[0].split("(")[0].strip() for s in applied] == [
        "CREATE TABLE `t`",
        "CREATE FUNCTION `twice`",
        "CREATE VIEW `base_v`",
        "CREATE VIEW `top`",
    ]
    assert replan(target, dev, CHAIN_V1) == []

    applied = apply(target, dev, CHAIN_V2)
    assert [s.split(" AS ")[0] for s in applied] == [
        "CREATE OR REPLACE VIEW `base_v`",
        "CREATE OR REPLACE VIEW `top`",
    ]
    assert "`base_v`.`next` AS `next`" in show_create(target, "VIEW", "top")
    assert replan(target, dev, CHAIN_V2) == []


DROP_COLUMN_V1 = """
create table t (id int primary key, a int, b int);
create view v as select id, a, b from t;
create view w as select id, b from v;
create view only_a as select a from t;
"""
DROP_COLUMN_V2 = """
create table t (id int primary key, a int);
create view v as select id, a from t;
create view w as select id from v;
create view only_a as select a from t;
"""


@DB
def test_a_dropped_column_used_by_a_view_drops_and_creates_its_dependents_around_it(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    target, dev = pair
    apply(target, dev, DROP_COLUMN_V1)
    assert apply(target, dev, DROP_COLUMN_V2) == [
        "DROP VIEW `w`",
        "DROP VIEW `v`",
        "ALTER TABLE `t` DROP COLUMN `b`",
        "CREATE VIEW `v` AS select `t`.`id` AS `id`,`t`.`a` AS `a` from `t`",
        "CREATE VIEW `w` AS select `v`.`id` AS `id` from `v`",
    ]
    assert show_create(target, "VIEW", "w").endswith("VIEW `w` AS select `v`.`id` AS `id` from `v`")
    assert replan(target, dev, DROP_COLUMN_V2) == []


# --- triggers ------------------------------------------------------------------------

TRIGGERS_V1 = """
create table t (id int primary key, a int, b int, note varchar(50));
create trigger t_a before insert on t for each row set new.a = 1;
create trigger t_b before insert on t for each row follows t_a set new.b = 2;
create trigger t_log after delete on t for each row begin
  set @deleted = old.id;
end;
"""
TRIGGERS_V2 = """
create table t (id int primary key, a int, b int, note varchar(50));
create trigger t_first before insert on t for each row precedes t_a set new.note = 'first';
CREATE TRIGGER t_a BEFORE INSERT ON t FOR EACH ROW SET NEW.a   =   1;
create trigger t_b before insert on t for each row follows t_a set new.b = 3;
create trigger t_log after delete on t for each row begin
  -- only the layout changes
  set @deleted = old.id;  end;
"""
TRIGGERS_V3 = """
create table t (id int primary key, a int, b int, note varchar(50));
create trigger t_a before insert on t for each row set new.a = 1;
"""
ORDER_QUERY = (
    "SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER"
    " FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s ORDER BY 2, 3, 4"
)


@DB
def test_triggers_are_created_in_order_changed_and_dropped(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    target, dev = pair
    apply(target, dev, TRIGGERS_V1)
    assert catalog(target, ORDER_QUERY) == [
        ("t_log", "AFTER", "DELETE", 1),
        ("t_a", "BEFORE", "INSERT", 1),
        ("t_b", "BEFORE", "INSERT", 2),
    ]
    # The statement as written: the definer is the applying user, the head as typed.
    assert show_create(target, "TRIGGER", "t_b") == (
        f"CREATE {applier(target)} trigger t_b before insert on t for each row set new.b = 2"
    )
    assert replan(target, dev, TRIGGERS_V1) == []

    # A new first trigger, a changed body; layout changes alone change nothing (t_log).
    applied = apply(target, dev, TRIGGERS_V2)
    assert applied == [
        "CREATE trigger t_first before insert on t for each row set new.note = 'first'",
        "DROP TRIGGER `t_a`",
        "CREATE TRIGGER t_a BEFORE INSERT ON t FOR EACH ROW FOLLOWS `t_first` SET NEW.a   =   1",
        "DROP TRIGGER `t_b`",
        "CREATE trigger t_b before insert on t for each row FOLLOWS `t_a` set new.b = 3",
    ]
    assert catalog(target, ORDER_QUERY)[1:] == [
        ("t_first", "BEFORE", "INSERT", 1),
        ("t_a", "BEFORE", "INSERT", 2),
        ("t_b", "BEFORE", "INSERT", 3),
    ]
    assert replan(target, dev, TRIGGERS_V2) == []

    applied = apply(target, dev, TRIGGERS_V3)
    assert sorted(applied) == sorted(
        [
            "DROP TRIGGER `t_first`",
            "DROP TRIGGER `t_b`",
            "DROP TRIGGER `t_log`",
            "DROP TRIGGER `t_a`",
            "CREATE trigger t_a before insert on t for each row set new.a = 1",
        ]
    )
    assert catalog(target, ORDER_QUERY) == [("t_a", "BEFORE", "INSERT", 1)]
    assert replan(target, dev, TRIGGERS_V3) == []


@DB
def test_a_trigger_changed_in_the_middle_keeps_its_place(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    """A trigger created again goes after the one it follows; the first one goes before
    the first trigger that stays."""
    target, dev = pair
    head = "create table t (id int primary key, a int);\n"
    triggers = [
        f"create trigger t{i} before update on t for each row"
        + (f" follows t{i - 1}" if i else "")
        + f" set new.a = {i};"
        for i in range(3)
    ]
    apply(target, dev, head + "\n".join(triggers))
    for changed in (1, 0):
        triggers[changed] = triggers[changed].replace(f"new.a = {changed}", f"new.a = {changed}0")
        applied = apply(target, dev, head + "\n".join(triggers))
        assert len(applied) == 2
        order = "PRECEDES `t1`" if changed == 0 else "FOLLOWS `t0`"
        assert order in applied[1]
        assert [row[0] for row in catalog(target, ORDER_QUERY)] == ["t0", "t1", "t2"]
    assert replan(target, dev, head + "\n".join(triggers)) == []


# --- functions and procedures ----------------------------------------------------------

ROUTINES_V1 = """
create table t (id int primary key, name varchar(20));
create function greet(who varchar(20) charset latin1) returns varchar(40) deterministic
  comment 'says hello'
  return concat('hello ', who);
create procedure count_named(in who varchar(20), out n int) reads sql data
begin
  select count(*) into n from t where name = who;
end;
"""
ROUTINES_REFORMATTED = """
create table t (id int primary key, name varchar(20));
CREATE FUNCTION greet(who VARCHAR(20) CHARSET latin1) RETURNS VARCHAR(40) DETERMINISTIC
  COMMENT 'says hello'
  RETURN concat('hello ',   who);
create procedure count_named(in who varchar(20), out n int) reads sql data
begin
  # the layout, comments and the case of reserved words are not the routine
  SELECT count(*) INTO n FROM t WHERE name = who;
end;
"""
ROUTINES_V2 = """
create table t (id int primary key, name varchar(20));
create function greet(who varchar(20) charset latin1) returns varchar(40) deterministic
  comment 'says hi'
  return concat('hello ', who);
create procedure count_named(in who varchar(20), out n int) reads sql data sql security invoker
begin
  select count(*) into n from t where name = who;
end;
"""
ROUTINES_V3 = """
create table t (id int primary key, name varchar(20));
create function greet(who varchar(20) charset latin1) returns varchar(40) deterministic
  comment 'says hi'
  return concat('hi ', who);
"""


@DB
def test_functions_and_procedures_are_created_altered_replaced_and_dropped(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    target, dev = pair
    apply(target, dev, ROUTINES_V1)
    assert show_create(target, "FUNCTION", "greet") == (
        f"CREATE {applier(target)} FUNCTION `greet`(`who` varchar(20) CHARSET latin1 COLLATE"
        " latin1_swedish_ci) RETURNS varchar(40) CHARSET utf8mb4 COLLATE utf8mb4_general_ci\n"
        "    DETERMINISTIC\n    COMMENT 'says hello'\nreturn concat('hello ', who)"
    )
    assert "READS SQL DATA" in show_create(target, "PROCEDURE", "count_named")
    assert admin_run(target, f"SELECT `{target.schema}`.greet('you')") == [("hello you",)]
    assert replan(target, dev, ROUTINES_V1) == []
    # Bodies are compared in normal form: layout, case and comments change nothing.
    assert replan(target, dev, ROUTINES_REFORMATTED) == []

    assert apply(target, dev, ROUTINES_V2) == [
        "ALTER FUNCTION `greet` COMMENT 'says hi'",
        "ALTER PROCEDURE `count_named` SQL SECURITY INVOKER",
    ]
    assert "SQL SECURITY INVOKER" in show_create(target, "PROCEDURE", "count_named")
    assert replan(target, dev, ROUTINES_V2) == []

    applied = apply(target, dev, ROUTINES_V3)
    assert applied == [
        "DROP PROCEDURE `count_named`",
        "DROP FUNCTION `greet`",
        "CREATE FUNCTION `greet`(`who` varchar(20) CHARSET latin1 COLLATE latin1_swedish_ci)"
        " RETURNS varchar(40) COMMENT 'says hi' DETERMINISTIC return concat('hi ', who)",
    ]
    assert admin_run(target, f"SELECT `{target.schema}`.greet('you')") == [("hi you",)]
    assert replan(target, dev, ROUTINES_V3) == []


DELIMITED = """
create table t (id int primary key, n int);
DELIMITER //
create procedure bump(in by_n int)
begin
  update t set n = n + by_n;
end//
create trigger t_n before insert on t for each row
begin
  if new.n is null then
    set new.n = 0;
  end if;
end//
DELIMITER ;
"""


@DB
def test_delimiter_and_begin_end_bodies_load_apply_and_replan_nothing(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    target, dev = pair
    applied = apply(target, dev, DELIMITED)
    assert (
        applied[1]
        == "CREATE PROCEDURE `bump`(IN `by_n` int(11)) begin\n  update t set n = n + by_n;\nend"
    )
    assert applied[2].endswith(
        "for each row\nbegin\n  if new.n is null then\n    set new.n = 0;\n  end if;\nend"
    )
    assert replan(target, dev, DELIMITED) == []
    admin_run(target, f"INSERT INTO `{target.schema}`.t (id) VALUES (1)")
    assert admin_run(target, f"SELECT n FROM `{target.schema}`.t") == [(0,)]


AS_WRITTEN_V1 = """
create table t (id int primary key, a varchar(20));
create table Log (id int);
create table log (id int);
create function cs() returns varchar(20) deterministic return charset(_latin1'a');
create procedure p() select id as MyId from t;
create trigger tr after insert on t for each row insert into Log values (new.id);
create event e on schedule every 1 day disable do insert into t values (9, charset(_latin1'a'));
"""
AS_WRITTEN_V2 = AS_WRITTEN_V1.replace("as MyId", "as myid").replace("into Log", "into log")


@DB
def test_bodies_are_taken_as_written_and_keep_case_sensitive_names(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    """information_schema re-prints bodies without character set introducers
    (`_latin1'a'` → `'a'`, another character set): bodies come from SHOW CREATE. The
    case of a table name (`Log` and `log` are two tables) and of a column alias (what a
    client sees) is a change."""
    target, dev = pair
    db = target.schema
    apply(target, dev, AS_WRITTEN_V1)
    assert admin_run(target, f"SELECT `{db}`.cs()") == [("latin1",)]
    assert show_create(target, "EVENT", "e").endswith(
        "DO insert into t values (9, charset(_latin1'a'))"
    )
    assert replan(target, dev, AS_WRITTEN_V1) == []

    applied = apply(target, dev, AS_WRITTEN_V2)
    assert applied == [
        "DROP PROCEDURE `p`",
        "CREATE PROCEDURE `p`() select id as myid from t",
        "DROP TRIGGER `tr`",
        "CREATE trigger tr after insert on t for each row insert into log values (new.id)",
    ]
    admin_run(target, f"INSERT INTO `{db}`.t (id) VALUES (1)")
    assert admin_run(
        target, f"SELECT (SELECT COUNT(*) FROM `{db}`.log), COUNT(*) FROM `{db}`.Log"
    ) == [(1, 0)]
    assert replan(target, dev, AS_WRITTEN_V2) == []


# --- events --------------------------------------------------------------------------

EVENTS_V1 = """
create table t (id int primary key, created datetime);
create event prune on schedule every 1 day comment 'prune old rows'
  do delete from t where created < now() - interval 30 day;
create event once on schedule at '2035-01-01 00:00:00' on completion preserve disable
  do delete from t;
create event windowed on schedule every 2 hour starts '2030-01-01 00:00:00'
  ends '2031-01-01 00:00:00' do begin delete from t; end;
"""
EVENTS_V2 = """
create table t (id int primary key, created datetime);
create event prune on schedule every 1 day comment 'prune older rows'
  do delete from t where created < now() - interval 60 day;
create event once on schedule at '2035-01-01 00:00:00' on completion preserve
  do delete from t;
create event windowed on schedule every 3 hour starts '2030-01-01 00:00:00'
  ends '2031-01-01 00:00:00' do begin delete from t; end;
"""
EVENTS_QUERY = (
    "SELECT EVENT_NAME, STATUS, ON_COMPLETION, EVENT_COMMENT, INTERVAL_VALUE, INTERVAL_FIELD,"
    " STARTS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s ORDER BY 1"
)


@DB
def test_events_are_created_with_their_status_altered_and_dropped(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    """Events load disabled on the dev database; the target gets the status the SQL
    wrote (ENABLE when none). A STARTS the SQL does not write is the creation time,
    which is not compared."""
    target, dev = pair
    driver = driver_for(target)
    desired = load_sql_on_dev(EVENTS_V1, dev, driver.scope_of(target), ApplyPolicy())
    status = {o.name: o.attr("status") for o in desired.schemas[0].objects}
    assert status == {"once": "DISABLED", "prune": None, "windowed": None}

    apply(target, dev, EVENTS_V1)
    rows = catalog(target, EVENTS_QUERY)
    assert [row[:6] for row in rows] == [
        ("once", "DISABLED", "PRESERVE", "", None, None),
        ("prune", "ENABLED", "NOT PRESERVE", "prune old rows", "1", "DAY"),
        ("windowed", "ENABLED", "NOT PRESERVE", "", "2", "HOUR"),
    ]
    assert str(rows[2][6]) == "2030-01-01 00:00:00"
    assert show_create(target, "EVENT", "prune").startswith(
        f"CREATE {applier(target)} EVENT `prune` ON SCHEDULE EVERY 1 DAY STARTS '"
    )
    assert replan(target, dev, EVENTS_V1) == []

    applied = apply(target, dev, EVENTS_V2)
    assert applied == [
        "ALTER EVENT `once` ENABLE",
        "ALTER EVENT `prune` COMMENT 'prune older rows'"
        " DO delete from t where created < now() - interval 60 day",
        "DROP EVENT `windowed`",
        "CREATE EVENT `windowed` ON SCHEDULE EVERY 3 HOUR STARTS '2030-01-01 00:00:00'"
        " ENDS '2031-01-01 00:00:00' DO begin delete from t; end",
    ]
    assert [row[:6] for row in catalog(target, EVENTS_QUERY)] == [
        ("once", "ENABLED", "PRESERVE", "", None, None),
        ("prune", "ENABLED", "NOT PRESERVE", "prune older rows", "1", "DAY"),
        ("windowed", "ENABLED", "NOT PRESERVE", "", "3", "HOUR"),
    ]
    assert replan(target, dev, EVENTS_V2) == []

    table_only = "create table t (id int primary key, created datetime);"
    assert sorted(apply(target, dev, table_only)) == [
        "DROP EVENT `once`",
        "DROP EVENT `prune`",
        "DROP EVENT `windowed`",
    ]
    assert catalog(target, EVENTS_QUERY) == []


# --- sql_mode of routines, triggers and events ----------------------------------------------

# The backslash string is `'a\\b'` in SQL: one backslash by default, two under
# NO_BACKSLASH_ESCAPES (and a statement splitter that knows no modes still closes it).
MODES_V1 = """
create table t (id int, a varchar(20), b varchar(20));
create procedure plain() select "id" from t;
set sql_mode = 'PIPES_AS_CONCAT';
create function glue(x varchar(10)) returns varchar(20) deterministic return x || 'z';
set sql_mode = 'NO_BACKSLASH_ESCAPES';
create trigger slash before insert on t for each row set new.b = concat(new.a, 'a\\\\b');
set sql_mode = 'PIPES_AS_CONCAT,ANSI_QUOTES,NO_BACKSLASH_ESCAPES';
create event tick on schedule every 1 day disable comment 'c\\\\d' do
  insert into t (id, a) values (1, "id" || 'x');
set sql_mode = 'ANSI_QUOTES';
create procedure quoted() select "id" from t;
"""
MODES_V2 = MODES_V1.replace("set sql_mode = 'ANSI_QUOTES';", "set sql_mode = default;").replace(
    "set sql_mode = 'PIPES_AS_CONCAT,ANSI_QUOTES,NO_BACKSLASH_ESCAPES'",
    "set sql_mode = 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES,PIPES_AS_CONCAT'",
)
MODE_OBJECTS = (
    "SELECT 'routine', ROUTINE_NAME, SQL_MODE FROM information_schema.ROUTINES"
    " WHERE ROUTINE_SCHEMA = %s UNION ALL SELECT 'trigger', TRIGGER_NAME, SQL_MODE"
    " FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s UNION ALL"
    " SELECT 'event', EVENT_NAME, SQL_MODE FROM information_schema.EVENTS"
    " WHERE EVENT_SCHEMA = %s ORDER BY 1, 2"
)
DEFAULT_MODE_MARK = "<default>"


def verbatim(url: DatabaseURL, sql: str) -> None:
    """Runs `sql` statement by statement on one plain session, as a client would."""
    conn = base.admin_connection(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"USE `{url.schema}`")
            for statement in sql.split(";\n"):
                if statement.strip():
                    cursor.execute(statement)
    finally:
        conn.close()


def modes(url: DatabaseURL, default: str) -> list[tuple[str, str, str]]:
    """(kind, name, sql_mode) of each object; `default` (a fresh session's mode on that
    database) printed as DEFAULT_MODE_MARK."""
    conn = base.admin_connection(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(MODE_OBJECTS, (url.schema,) * 3)
            rows = cursor.fetchall()
    finally:
        conn.close()
    return [(k, n, DEFAULT_MODE_MARK if m == default else m) for k, n, m in rows]


def behaviour(url: DatabaseURL) -> list[Any]:
    """What the objects do: calls, a fired trigger; the server's own SHOW CREATE's mode."""
    conn = pymysql.connect(**url.pymysql_kwargs(), autocommit=True)
    try:
        with conn.cursor() as cursor:
            seen: list[Any] = []
            for sql in (
                "INSERT INTO t (id) VALUES (7)",
                "CALL plain",
                "CALL quoted",
                "SELECT glue('a')",
                "INSERT INTO t (id, a) VALUES (2, 'q')",
                "SELECT b FROM t WHERE id = 2",
                "DELETE FROM t",
                "SHOW CREATE PROCEDURE quoted",
            ):
                cursor.execute(sql)
                rows = cursor.fetchall()
                seen.append(rows[0][1] if sql.startswith("SHOW") else tuple(rows))
                while cursor.nextset():
                    pass
            return seen
    finally:
        conn.close()


def session_mode(url: DatabaseURL) -> str:
    conn = pymysql.connect(**url.pymysql_kwargs(), autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT @@SESSION.sql_mode")
            return str(cursor.fetchall()[0][0])
    finally:
        conn.close()


def mode_wraps(applied: list[str]) -> list[tuple[str, str]]:
    """(mode set, the statement it wraps) for each SET … sql_mode of a plan, checking
    that the session's mode is restored right after."""
    wraps = []
    for i, sql in enumerate(applied):
        if sql.startswith("SET @atlas_sql_mode"):
            assert sql.startswith("SET @atlas_sql_mode = @@SESSION.sql_mode, SESSION sql_mode = '")
            assert applied[i + 2] == "SET SESSION sql_mode = @atlas_sql_mode"
            wraps.append((sql.split("sql_mode = ")[-1].strip("'"), applied[i + 1].split("(")[0]))
    assert len(applied) - 2 * len(wraps) == len([s for s in applied if "@atlas" not in s])
    return wraps


@DB
def test_objects_keep_the_sql_mode_they_were_written_under(
    pair: tuple[DatabaseURL, DatabaseURL], make_database: base.MakeDatabase
) -> None:
    """The target's routines, trigger and event behave as on a database where the SQL
    ran verbatim (the oracle): each is created under the sql_mode the file set for it,
    the applying session's restored after; an object written under the default gets no
    SET; the mode left set at the end of the file does not leak into the dev
    inspection; a change of the mode alone is a change."""
    target, dev = pair
    oracle = target.with_schema(make_database("verbatim"))
    verbatim(oracle, MODES_V1)
    default = session_mode(target)

    desired = load_sql_on_dev(MODES_V1, dev, MySQLDriver().scope_of(target), ApplyPolicy())
    attrs = {o.name: o.attr("sql_mode") for o in desired.schemas[0].objects}
    assert attrs == {
        "plain": None,
        "glue": "PIPES_AS_CONCAT",
        "slash": "NO_BACKSLASH_ESCAPES",
        "tick": "ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT",
        "quoted": "ANSI_QUOTES",
    }

    applied = apply(target, dev, MODES_V1)
    assert sorted(mode_wraps(applied)) == [
        ("ANSI_QUOTES", "CREATE PROCEDURE `quoted`"),
        (
            "ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT",
            "CREATE EVENT `tick` ON SCHEDULE EVERY 1 DAY DISABLE"
            " COMMENT 'c\\\\d' DO insert into t ",
        ),
        (
            "NO_BACKSLASH_ESCAPES",
            "CREATE trigger slash before insert on t for each row set new.b = concat",
        ),
        ("PIPES_AS_CONCAT", "CREATE FUNCTION `glue`"),
    ]
    assert 'CREATE PROCEDURE `plain`() select "id" from t' in applied
    assert modes(target, default) == modes(oracle, default)
    assert ("routine", "plain", DEFAULT_MODE_MARK) in modes(target, default)
    assert behaviour(target) == behaviour(oracle)
    assert behaviour(target) == [
        (),
        (("id",),),  # the default mode: a string
        ((7,),),  # ANSI_QUOTES: the column
        (("az",),),  # PIPES_AS_CONCAT: concatenation
        (),
        (("qa\\\\b",),),  # NO_BACKSLASH_ESCAPES: both backslashes kept
        (),
        "ANSI_QUOTES",
    ]
    assert catalog(
        target, "SELECT EVENT_COMMENT FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s"
    ) == [("c\\\\d",)]  # NO_BACKSLASH_ESCAPES: both backslashes kept
    assert replan(target, dev, MODES_V1) == []

    # The procedure under the default mode now; the event's flags only reordered.
    assert apply(target, dev, MODES_V2) == [
        "DROP PROCEDURE `quoted`",
        'CREATE PROCEDURE `quoted`() select "id" from t',
    ]
    assert behaviour(target)[2] == (("id",),)
    assert replan(target, dev, MODES_V2) == []
    assert mode_wraps(apply(target, dev, MODES_V1)) == [
        ("ANSI_QUOTES", "CREATE PROCEDURE `quoted`")
    ]
    assert modes(target, default) == modes(oracle, default)


@DB
def test_a_target_whose_sessions_start_in_another_sql_mode_replans_nothing(
    pair: tuple[DatabaseURL, DatabaseURL], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions on the target start in another sql_mode than the dev's (as with another
    server default): objects written under the default are created under the target's
    without a SET and compare equal, the others get their own mode on both sides."""
    target, dev = pair
    other = "NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION"  # as the server prints it
    connect = pymysql.connect

    def connect_to_target(**kwargs: Any) -> Any:
        if kwargs.get("database") == target.schema:
            kwargs["init_command"] = f"SET SESSION sql_mode = '{other}'"
        return connect(**kwargs)

    monkeypatch.setattr(pymysql, "connect", connect_to_target)
    assert session_mode(target) == other != session_mode(dev)

    applied = apply(target, dev, MODES_V1)
    assert len(mode_wraps(applied)) == 4
    assert ("routine", "plain", DEFAULT_MODE_MARK) in modes(target, other)
    assert ("routine", "quoted", "ANSI_QUOTES") in modes(target, other)
    assert replan(target, dev, MODES_V1) == []


@DB
def test_a_migration_file_of_a_plan_resumes_under_the_mode_it_set(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    """A plan written out as a migration file that stops between an object's SET and
    its restore resumes with the SET replayed: the object gets its mode, the statements
    after the restore the session's."""
    target, dev = pair
    planned = replan(target, dev, MODES_V1)
    first = next(i for i, s in enumerate(planned) if s.startswith("SET @atlas_sql_mode"))
    texts = [*planned[: first + 1], "INSERT INTO gate VALUES (1)", *planned[first + 1 :]]
    texts.append('CREATE PROCEDURE after_all() select "id" from t')
    files = directory({"1.sql": "".join(f"{text};\n" for text in texts)})
    default = session_mode(target)

    assert migrate_apply(target, files).error is not None
    admin_run(target, f"CREATE TABLE `{target.schema}`.gate (id int)")
    assert migrate_apply(target, files).error is None
    assert modes(target, default) == [
        ("event", "tick", "PIPES_AS_CONCAT,ANSI_QUOTES,NO_BACKSLASH_ESCAPES"),
        ("routine", "after_all", DEFAULT_MODE_MARK),
        ("routine", "glue", "PIPES_AS_CONCAT"),
        ("routine", "plain", DEFAULT_MODE_MARK),
        ("routine", "quoted", "ANSI_QUOTES"),
        ("trigger", "slash", "NO_BACKSLASH_ESCAPES"),
    ]
    assert statement_traits("SET SESSION sql_mode = @atlas_sql_mode").session_setting
    assert statement_traits(planned[first]).session_setting


# --- policies: exclude, skip, destructive ---------------------------------------------

TABLE = "create table t (id int primary key);\n"
CREATE_T = "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n)"
ONE_OF_EACH = {
    "view": ("create view o as select id from t;", "create view o as select id + 1 as id from t;"),
    "trigger": (
        "create trigger o before insert on t for each row set new.id = new.id;",
        "create trigger o before insert on t for each row set new.id = new.id + 1;",
    ),
    "function": (
        "create function o() returns int deterministic return 1;",
        "create function o() returns int deterministic return 2;",
    ),
    "procedure": (
        "create procedure o() begin select 1; end;",
        "create procedure o() begin select 2; end;",
    ),
    "event": (
        "create event o on schedule every 1 day do delete from t;",
        "create event o on schedule every 1 day do delete from t where id > 0;",
    ),
}
COUNT_QUERIES = {
    "view": "SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s",
    "trigger": "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s",
    "function": "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s"
    " AND ROUTINE_TYPE = 'FUNCTION'",
    "procedure": "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s"
    " AND ROUTINE_TYPE = 'PROCEDURE'",
    "event": "SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s",
}


@DB
@pytest.mark.parametrize("kind", sorted(ONE_OF_EACH))
def test_each_kind_answers_to_exclude_skip_and_the_destructive_lint(
    pair: tuple[DatabaseURL, DatabaseURL], kind: str
) -> None:
    target, dev = pair
    sql, changed = (TABLE + text for text in ONE_OF_EACH[kind])

    def count() -> int:
        return int(catalog(target, COUNT_QUERIES[kind])[0][0])

    excluded = (f"*[type={kind}]",)
    assert apply(target, dev, sql, exclude=excluded) == [CREATE_T]
    assert count() == 0
    assert apply(target, dev, sql, skip=frozenset({f"add_{kind}"})) == []
    assert count() == 0
    assert apply(target, dev, sql) != []
    assert count() == 1
    assert replan(target, dev, sql) == []

    assert apply(target, dev, changed, skip=frozenset({f"modify_{kind}"})) == []
    assert replan(target, dev, changed) != []
    assert apply(target, dev, TABLE, exclude=excluded) == []
    assert apply(target, dev, TABLE, skip=frozenset({f"drop_{kind}"})) == []
    assert count() == 1
    with pytest.raises(DestructiveChangesError, match=f"DROP {kind.upper()} `o`"):
        schema_apply(target, TABLE, dev, ApplyPolicy(lint_destructive_error=True))
    assert count() == 1
    assert apply(target, dev, TABLE) == [f"DROP {kind.upper()} `o`"]
    assert count() == 0


# --- bad input ---------------------------------------------------------------------------

BAD_INPUT = [
    pytest.param(
        "create table t (id int primary key);\n\n"
        "create trigger tr before insert on t for each row set new.id = ;",
        "create trigger tr",
        "Error 1064",
        3,
        id="trigger-syntax",
    ),
    pytest.param(
        "create table t (id int primary key);\ncreate view v as select id from missing;",
        "create view v",
        "Error 1146",
        2,
        id="view-over-missing-table",
    ),
    pytest.param(
        "create table t (id int primary key);\n"
        "create function f() returns int\nbegin\n  select 1;\n  return 1;\nend;",
        "create function f()",
        "Error 1415",
        2,
        id="refused-routine",
    ),
]


@DB
@pytest.mark.parametrize(("sql", "statement", "error", "line"), BAD_INPUT)
def test_bad_objects_fail_on_the_dev_database_naming_statement_and_line(
    pair: tuple[DatabaseURL, DatabaseURL], sql: str, statement: str, error: str, line: int
) -> None:
    target, dev = pair
    with pytest.raises(EngineError) as failed:
        schema_apply(target, sql, dev, ApplyPolicy())
    message = str(failed.value)
    assert f'executing statement: "{statement}' in message
    assert error in message
    assert message.endswith(f"(schema.sql line {line})")
    # Nothing reached the target, and the dev database was cleaned.
    assert catalog(
        target, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s"
    ) == [(0,)]
    driver = driver_for(dev)
    with driver.open(dev) as session:
        assert driver.is_clean(session, driver.scope_of(dev))


@DB
def test_a_routine_or_event_left_in_a_dev_database_makes_it_unclean(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    _, dev = pair
    driver = driver_for(dev)
    with driver.open(dev) as session:
        assert driver.is_clean(session, driver.scope_of(dev))
        session.execute("CREATE FUNCTION f() RETURNS int DETERMINISTIC RETURN 1")
        assert not driver.is_clean(session, driver.scope_of(dev))
        driver.clean(session, driver.scope_of(dev))
        session.execute("CREATE EVENT e ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT 1")
        assert not driver.is_clean(session, driver.scope_of(dev))
        driver.clean(session, driver.scope_of(dev))
        assert driver.is_clean(session, driver.scope_of(dev))


# --- realm scope ---------------------------------------------------------------------


@DB
def test_realm_scope_qualifies_every_object(
    server: DatabaseURL, make_database: base.MakeDatabase
) -> None:
    """The desired realm is loaded under the target's own names (the dev realm is
    cleaned before the target gets them), so the definitions name the same database."""
    name = make_database("realm", create=False)
    sql = f"""
    create database `{name}`;
    create table `{name}`.t (id int primary key);
    create view `{name}`.v as select id from `{name}`.t;
    create function `{name}`.f() returns int deterministic return 1;
    create procedure `{name}`.p() begin select `{name}`.f(); end;
    create trigger `{name}`.tr before insert on `{name}`.t for each row set new.id = `{name}`.f();
    create event `{name}`.e on schedule every 1 day do delete from `{name}`.t;
    """
    policy = ApplyPolicy(schemas=(name,))
    desired = load_sql_on_dev(sql, server, Scope(schemas=policy.schemas), policy)
    driver = MySQLDriver()
    with driver.open(server) as session:
        plan = plan_apply(session, driver, desired, policy)
        created = [s.sql.split(" AS ")[0].split("(")[0] for s in plan.statements]
        assert created == [
            f"CREATE DATABASE `{name}`",
            f"CREATE TABLE `{name}`.`t` ",
            f"CREATE VIEW `{name}`.`v`",
            f"CREATE FUNCTION `{name}`.`f`",
            f"CREATE PROCEDURE `{name}`.`p`",
            f"CREATE trigger `{name}`.tr before insert on `{name}`.t for each row"
            f" set new.id = `{name}`.f",
            f"CREATE EVENT `{name}`.`e` ON SCHEDULE EVERY 1 DAY DO delete from `{name}`.t",
        ]
        assert execute_plan(session, driver, plan, "file").error is None
        assert plan_apply(session, driver, desired, policy).statements == []
    url = server.with_schema(name)
    assert "`t`.`id` AS `id`" in show_create(url, "VIEW", "v")
    assert catalog(url, "SELECT STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s") == [
        ("ENABLED",)
    ]


# --- a state naming its own schema; HCL ---------------------------------------------------


@DB
def test_a_schema_bound_state_may_name_its_own_schema(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    """The desired state of schema `app` may write `app.users` in a view's query or a
    trigger's body: on a dev database of another name it means that one, and the plan
    names nothing. What a statement defines is judged as written: `app.t` there is
    outside the dev database, refused by the sandbox."""
    target, dev = pair
    name = target.schema
    sql = f"""
    create table users (id int primary key, active tinyint);
    create view active as select u.id from {name}.users as u where u.active = 1;
    create trigger users_in before insert on users for each row
      set new.active = (select count(*) from `{name}`.`users`);
    """
    applied = apply(target, dev, sql)
    assert applied[1:] == [
        "CREATE VIEW `active` AS select `u`.`id` AS `id` from `users` `u` where `u`.`active` = 1",
        "CREATE trigger users_in before insert on users for each row\n"
        "      set new.active = (select count(*) from `users`)",
    ]
    assert all(str(name) not in statement for statement in applied)
    assert replan(target, dev, sql) == []
    with pytest.raises(SandboxError, match=f'the name "{name}"."t"'):
        schema_apply(target, f"create table {name}.t (id int);", dev, ApplyPolicy())


HCL_EVENT = """
event "prune" {
  schema = schema.shop
  on {
    every  = "1 DAY"
    starts = "2030-01-01 00:00:00"
  }
  on_completion = PRESERVE
  comment       = "prune orders"
  as            = "DELETE FROM ${table.orders.name} WHERE amount < 0"
}
event "once" {
  schema = schema.shop
  on { at = "2035-01-01 00:00:00" }
  status = DISABLE
  as     = <<-SQL
  BEGIN
    DELETE FROM orders;
  END
  SQL
}
"""


def test_hcl_event_blocks_render_create_event() -> None:
    from atlas_operator.engine.hcl import hcl_to_sql
    from tests.engine.test_hcl_objects import MY_ORDERS

    mysql = driver_for(parse_url("mysql://u@localhost/db"))
    assert hcl_to_sql(MY_ORDERS + HCL_EVENT, mysql, "shop", "shop").split(";\n")[1:] == [
        "CREATE EVENT `prune` ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00'"
        " ON COMPLETION PRESERVE COMMENT 'prune orders' DO DELETE FROM orders WHERE amount < 0",
        "CREATE EVENT `once` ON SCHEDULE AT '2035-01-01 00:00:00' DISABLE DO BEGIN\n"
        "  DELETE FROM orders",
        "END;",
    ]


@DB
def test_hcl_objects_apply_and_replan_nothing(pair: tuple[DatabaseURL, DatabaseURL]) -> None:
    """Atlas HCL's MySQL view, function, procedure, trigger and event blocks load on
    MariaDB, apply, and plan nothing the second time."""
    from atlas_operator.engine.declarative import load_hcl_on_dev
    from tests.engine.test_hcl_objects import MY_TEXT

    target, dev = pair
    name = str(target.schema)
    text = (
        (MY_TEXT + HCL_EVENT)
        .replace('"shop"', f'"{name}"')
        .replace("schema.shop", f"schema.{name}")
    )
    driver = driver_for(target)
    scope = driver.scope_of(target)
    desired = load_hcl_on_dev(text, dev, scope, ApplyPolicy())
    kinds = sorted((o.kind, o.name) for o in desired.schemas[0].objects)
    assert kinds == [
        ("event", "once"),
        ("event", "prune"),
        ("function", "add2"),
        ("procedure", "copy"),
        ("trigger", "first"),
        ("trigger", "second"),
        ("view", "big"),
    ]
    with driver.open(target) as session:
        plan = plan_apply(session, driver, desired, ApplyPolicy())
        assert execute_plan(session, driver, plan, "file").error is None
        again = load_hcl_on_dev(text, dev, scope, ApplyPolicy())
        assert plan_apply(session, driver, again, ApplyPolicy()).statements == []
    assert show_create(target, "EVENT", "once").startswith(
        f"CREATE {applier(target)} EVENT `once` ON SCHEDULE AT '2035-01-01 00:00:00'"
        " ON COMPLETION NOT PRESERVE DISABLE DO BEGIN"
    )
    assert catalog(target, ORDER_QUERY) == [
        ("first", "BEFORE", "INSERT", 1),
        ("second", "BEFORE", "INSERT", 2),
    ]


# --- units: text, rules and MySQL 8 rendering ---------------------------------------------


def test_normal_form_drops_layout_comments_and_case_but_keeps_quoted_text() -> None:
    written = "begin\n  -- note\n  SET @x = CONCAT('A  b', `Col`);  # more\n /* c */ end"
    assert normal_form(written) == "begin set @x=CONCAT('A  b',`Col`);end"
    assert normal_form("begin set @x = CONCAT( 'A  b' , `Col` ) ; end") == normal_form(written)
    # Only reserved words lose their case: table names and column aliases keep it.
    assert normal_form("SELECT id AS MyId FROM Log") == "select id as MyId from Log"
    assert normal_form("select id as myid from log") != normal_form("SELECT id AS MyId FROM Log")
    assert normal_form("select t.Select from t") == "select t.Select from t"
    assert normal_form("select 'a' 'b'") != normal_form("select 'a''b'")
    assert normal_form("select 1-- 1") == "select 1"
    assert normal_form("select 1--1") == "select 1--1"  # no space: not a comment
    assert normal_form("/*!50003 select 1 */") == "select 1"
    assert normal_form("select 'it\\'s'") == "select 'it\\'s'"


def test_strip_qualifier_removes_only_the_bound_database() -> None:
    text = "select `app`.`t`.`id` AS `id` from `app`.`t` join `other`.`u` where x = 'app.t'"
    assert strip_qualifier(text, "app") == (
        "select `t`.`id` AS `id` from `t` join `other`.`u` where x = 'app.t'"
    )
    assert strip_qualifier("on app.t for each row", "app") == "on t for each row"
    assert strip_qualifier("select `x`.`app`.`c`", "app") == "select `x`.`app`.`c`"
    # A table spelt like its schema keeps its own name.
    assert strip_qualifier("select `t`.`t`.`id` from `t`.`t`", "t") == "select `t`.`id` from `t`"


def test_name_uses_tell_calls_and_keywords() -> None:
    uses = name_uses("select `d`.`t`.`c`, f(1) from `d`.`t`; call p(); -- q(2)")
    assert NameUse(("d", "t", "c"), after="SELECT") in uses
    assert NameUse(("f",), call=True) in uses
    assert NameUse(("d", "t"), after="FROM") in uses
    assert NameUse(("p",), call=True, after="CALL") in uses
    assert all(u.parts != ("q",) for u in uses)


def test_rules_never_replace_and_only_dropped_columns_break_views() -> None:
    from atlas_operator.engine.changes import DropColumn, ModifyColumn
    from atlas_operator.engine.model import Column

    rules = ObjectRules()
    view = SchemaObject(kind="view", name="v", definition="select 1")
    assert not rules.replaces(view, SchemaObject(kind="view", name="v", definition="select 2"))
    assert rules.breaks_dependents(DropColumn(Column("a", "int")))
    assert not rules.breaks_dependents(
        ModifyColumn(Column("a", "int"), Column("a", "bigint"), frozenset({"type"}))
    )


MYSQL8 = ServerInfo("8.0.36", "InnoDB", "utf8mb4", "utf8mb4_0900_ai_ci")


def test_mysql8_view_heads_and_event_states_render() -> None:
    head = (
        "CREATE ALGORITHM=TEMPTABLE DEFINER=`u`@`%` SQL SECURITY DEFINER VIEW `v` (`a`,`b`)"
        " AS select `t`.`x` AS `x`,`t`.`y` AS `y` from `t`"
    )
    attrs = view_attrs("NONE", "DEFINER", None, head)
    assert attrs == (("algorithm", "TEMPTABLE"), ("columns", "`a`,`b`"))
    view = SchemaObject(kind="view", name="v", definition="select 1 AS `x`", attrs=attrs)
    planner = ObjectPlanner(Scope(bound="app"), MYSQL8)
    create = planner.change(AddObject("app", view))
    assert [s.sql for s in create] == [
        "CREATE ALGORITHM = TEMPTABLE VIEW `v` (`a`,`b`) AS select 1 AS `x`"
    ]
    event = SchemaObject(
        kind="event",
        name="e",
        definition="select 1",
        attrs=(("schedule", "EVERY 1 DAY"), ("status", "SLAVESIDE_DISABLED")),
        source=(("body", "SELECT 1"),),
    )
    assert [s.sql for s in planner.change(AddObject("app", event))] == [
        "CREATE EVENT `e` ON SCHEDULE EVERY 1 DAY DISABLE ON REPLICA DO SELECT 1"
    ]
    maria = ObjectPlanner(Scope(), ServerInfo("10.11.6-MariaDB", "InnoDB", "utf8mb4", "x"))
    assert [s.sql for s in maria.change(DropObject("app", event))] == ["DROP EVENT `app`.`e`"]
    enabled = SchemaObject(
        kind="event", name="e", definition="select 1", attrs=(("schedule", "EVERY 1 DAY"),)
    )
    assert [s.sql for s in maria.change(ModifyObject("app", event, enabled))] == [
        "ALTER EVENT `app`.`e` ENABLE"
    ]
    assert MYSQL8.flavor == MYSQL
    assert maria.server is not None
    assert maria.server.flavor == MARIADB


def test_event_schedules_and_routine_types_are_normal_text() -> None:
    from datetime import datetime

    assert event_schedule("ONE TIME", datetime(2035, 1, 1), None, None, None, None) == (
        "AT '2035-01-01 00:00:00'"
    )
    assert event_schedule("RECURRING", None, "1:30", "HOUR_MINUTE", None, datetime(2031, 1, 1)) == (
        "EVERY '1:30' HOUR_MINUTE ENDS '2031-01-01 00:00:00'"
    )
    assert typed("varchar(10)", "utf8mb4_general_ci", "utf8mb4_general_ci") == "varchar(10)"
    assert typed("varchar(10)", "latin1_bin", "utf8mb4_general_ci") == (
        "varchar(10) CHARSET latin1 COLLATE latin1_bin"
    )


def test_trigger_heads_lose_definer_order_and_the_bound_qualifier() -> None:
    shown = (
        "CREATE DEFINER=`root`@`%` TRIGGER `app`.`tr` BEFORE INSERT ON app.t FOR EACH ROW"
        " FOLLOWS `other`\n  SET NEW.a = 1"
    )
    assert trigger_head(shown, "SET NEW.a = 1", "app") == (
        "CREATE TRIGGER `tr` BEFORE INSERT ON t FOR EACH ROW\n  "
    )
    assert trigger_head(shown, "SET NEW.a = 1", None).startswith("CREATE TRIGGER `app`.`tr`")
    assert trigger_head(shown, "SET NEW.b = 2", "app") == ""  # not its body: rebuilt instead


def test_sql_modes_are_flag_sets_and_wrap_what_runs_under_them() -> None:
    assert normal_sql_mode(" pipes_as_concat,ANSI_QUOTES ,") == "ANSI_QUOTES,PIPES_AS_CONCAT"
    assert normal_sql_mode(None) == normal_sql_mode("") == ""
    assert quote_string("a\\b'c") == "'a\\\\b''c'"
    assert quote_string("a\\b'c", "ANSI_QUOTES,NO_BACKSLASH_ESCAPES") == "'a\\b''c'"

    planner = ObjectPlanner(Scope(bound="s"), MYSQL8)
    mode = ("sql_mode", "NO_BACKSLASH_ESCAPES")
    proc = SchemaObject(
        kind="procedure", name="p", definition="select 1", attrs=(mode,), comment="a\\b"
    )
    created = planner.change(AddObject("s", proc))
    assert [(s.sql, s.comment) for s in created] == [
        (
            "SET @atlas_sql_mode = @@SESSION.sql_mode, SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'",
            'Set the sql_mode of procedure "p"',
        ),
        ("CREATE PROCEDURE `p`() COMMENT 'a\\b' select 1", 'Create procedure "p"'),
        ("SET SESSION sql_mode = @atlas_sql_mode", 'Restore the sql_mode after procedure "p"'),
    ]
    assert all(statement_traits(s.sql).session_setting for s in (created[0], created[2]))

    # Without a mode: one statement, as before. A change of the mode alone: drop, create.
    plain = SchemaObject(kind="procedure", name="p", definition="select 1", comment="a\\b")
    assert [s.sql for s in planner.change(AddObject("s", plain))] == [
        "CREATE PROCEDURE `p`() COMMENT 'a\\\\b' select 1"
    ]
    assert [s.sql.split(" ")[0:2] for s in planner.change(ModifyObject("s", plain, proc))] == [
        ["DROP", "PROCEDURE"],
        ["SET", "@atlas_sql_mode"],
        ["CREATE", "PROCEDURE"],
        ["SET", "SESSION"],
    ]
    # ALTER (its COMMENT literal, an event's DO body) runs under the object's mode too.
    renamed = SchemaObject(
        kind="procedure", name="p", definition="select 1", attrs=(mode,), comment="c\\d"
    )
    assert [s.sql for s in planner.change(ModifyObject("s", proc, renamed))][1] == (
        "ALTER PROCEDURE `p` COMMENT 'c\\d'"
    )
    every = ("schedule", "EVERY 1 DAY")
    event = SchemaObject(kind="event", name="e", definition="do 1", attrs=(every, mode))
    changed = replace(event, definition="do 2")
    assert [s.sql for s in planner.change(ModifyObject("s", event, changed))][1] == (
        "ALTER EVENT `e` DO do 2"
    )
    unmoded = SchemaObject(kind="event", name="e", definition="do 1", attrs=(every,))
    assert [s.sql.split(" ")[0] for s in planner.change(ModifyObject("s", unmoded, event))] == [
        "DROP",
        "SET",
        "CREATE",
        "SET",
    ]
