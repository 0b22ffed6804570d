"""How each driver classifies migration statements (pure text, no database)."""

from __future__ import annotations

import pytest

from atlas_operator.engine.drivers.base import StatementTraits
from atlas_operator.engine.drivers.mysql import execution as mysql
from atlas_operator.engine.drivers.postgres import execution as postgres
from atlas_operator.engine.drivers.sqlite import execution as sqlite

T = StatementTraits()
SETTING = StatementTraits(session_setting=True, repeatable=True)
OUTSIDE = StatementTraits(transactional=False)
REPEAT_OUTSIDE = StatementTraits(transactional=False, repeatable=True)
BEGIN = StatementTraits(control="begin")
COMMIT = StatementTraits(control="commit", repeatable=True)
ROLLBACK = StatementTraits(control="rollback", repeatable=True)

POSTGRES = [
    ("CREATE TABLE t (id int)", T),
    ("insert into t values (1)", T),
    ("ALTER TYPE mood ADD VALUE 'x'", T),
    ("CREATE INDEX CONCURRENTLY i ON t (a)", OUTSIDE),
    ("create unique index concurrently if not exists i on only s.t (a)", OUTSIDE),
    ("DROP INDEX CONCURRENTLY i", OUTSIDE),
    ("DROP INDEX CONCURRENTLY IF EXISTS i", REPEAT_OUTSIDE),
    ("VACUUM ANALYZE t", REPEAT_OUTSIDE),
    ("REINDEX INDEX CONCURRENTLY i", REPEAT_OUTSIDE),
    ("ALTER SYSTEM SET work_mem = '8MB'", REPEAT_OUTSIDE),
    ("CREATE DATABASE x", OUTSIDE),
    ("DROP DATABASE IF EXISTS x", REPEAT_OUTSIDE),
    ("SET search_path = s", SETTING),
    ("SET LOCAL lock_timeout = '1s'", T),
    ("SELECT pg_catalog.set_config('search_path', '', false)", SETTING),
    ("-- a comment\nBEGIN", BEGIN),
    ("START TRANSACTION ISOLATION LEVEL SERIALIZABLE", BEGIN),
    ("COMMIT", COMMIT),
    ("END", COMMIT),
    ("ROLLBACK", ROLLBACK),
    ("ROLLBACK TO SAVEPOINT a", T),
    ("COMMIT PREPARED 'x'", T),
]
MYSQL = [
    ("INSERT INTO t VALUES (1)", T),
    ("UPDATE t SET a = 1", T),
    ("CREATE TABLE t (id int)", OUTSIDE),
    ("CREATE TABLE IF NOT EXISTS t (id int)", REPEAT_OUTSIDE),
    ("CREATE TABLE IF NOT EXISTS t SELECT * FROM u", OUTSIDE),
    ("CREATE TEMPORARY TABLE t (id int)", T),
    ("ALTER TABLE t ADD COLUMN c int", OUTSIDE),
    ("DROP TABLE IF EXISTS a, b", REPEAT_OUTSIDE),
    ("CREATE OR REPLACE VIEW v AS SELECT 1", REPEAT_OUTSIDE),
    ("TRUNCATE TABLE t", REPEAT_OUTSIDE),
    ("GRANT SELECT ON *.* TO u", OUTSIDE),
    ("CALL p()", OUTSIDE),
    ("SET FOREIGN_KEY_CHECKS = 0", SETTING),
    ("/*!40101 SET NAMES utf8mb4 */", SETTING),
    ("SET GLOBAL max_connections = 10", StatementTraits(repeatable=True)),
    ("SET PASSWORD = 'x'", OUTSIDE),
    ("USE db", SETTING),
    ("BEGIN", BEGIN),
    ("BEGIN NOT ATOMIC SELECT 1; END", OUTSIDE),
    ("START TRANSACTION", BEGIN),
    ("COMMIT", COMMIT),
    ("# comment\nROLLBACK", ROLLBACK),
]
SQLITE = [
    ("CREATE TABLE t (id int)", T),
    ("INSERT INTO t VALUES (1)", T),
    ("PRAGMA foreign_keys = off", StatementTraits(False, True, None, True)),
    ("VACUUM", REPEAT_OUTSIDE),
    ("VACUUM INTO 'x.db'", OUTSIDE),
    ("BEGIN IMMEDIATE", BEGIN),
    ("END TRANSACTION", COMMIT),
    ("ROLLBACK TO s", T),
]


@pytest.mark.parametrize(("sql", "traits"), POSTGRES)
def test_postgres_traits(sql: str, traits: StatementTraits) -> None:
    assert postgres.statement_traits(sql) == traits


@pytest.mark.parametrize(("sql", "traits"), MYSQL)
def test_mysql_traits(sql: str, traits: StatementTraits) -> None:
    assert mysql.statement_traits(sql) == traits


@pytest.mark.parametrize(("sql", "traits"), SQLITE)
def test_sqlite_traits(sql: str, traits: StatementTraits) -> None:
    assert sqlite.statement_traits(sql) == traits


@pytest.mark.parametrize(
    ("sql", "objects"),
    [
        ("CREATE TABLE `s`.`t` (id int)", [("table", "s", "t")]),
        ("create table if not exists t (id int)", [("table", None, "t")]),
        ("ALTER TABLE t ADD INDEX (a)", [("table", None, "t")]),
        ("DROP TABLE a, s.b", [("table", None, "a"), ("table", "s", "b")]),
        ("RENAME TABLE a TO b, c TO d", [("table", None, n) for n in "abcd"]),
        ("CREATE UNIQUE INDEX i ON t (a)", [("table", None, "t")]),
        ("DROP INDEX i ON s.t", [("table", "s", "t")]),
        (
            "CREATE DEFINER=`root`@`%` SQL SECURITY INVOKER VIEW v AS SELECT 1",
            [("table", None, "v")],
        ),
        (
            "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1",
            [("trigger", None, "tr")],
        ),
        ("DROP PROCEDURE IF EXISTS p", [("procedure", None, "p")]),
        ("CREATE DATABASE d", [("database", None, "d")]),
        ("CREATE USER u", None),
        ("CALL p()", None),
    ],
)
def test_mysql_affected_objects(
    sql: str, objects: list[tuple[str, str | None, str]] | None
) -> None:
    refs = mysql.affected_objects(sql)
    found = [(r.kind, r.schema, r.name) for r in refs] if refs is not None else None
    assert found == objects


def test_postgres_concurrent_index_names() -> None:
    tokens = postgres.tokens_of('CREATE INDEX CONCURRENTLY "I x" ON ONLY "S"."T" (a)')
    assert postgres.concurrent_index(tokens) == (("I x",), ("S", "T"))
    assert postgres.qualify_like(("I x",), ("S", "T")) == ("S", "I x")
    tokens = postgres.tokens_of("CREATE INDEX CONCURRENTLY ON t (a)")
    assert postgres.concurrent_index(tokens) == ((), ("t",))
