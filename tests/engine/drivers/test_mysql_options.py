"""MySQL/MariaDB table and index options the conformance oracle found missing: ROW_FORMAT,
KEY_BLOCK_SIZE (table and index), an explicit `USING BTREE`, and check constraint names
that differ only in case.

Each server test migrates a database to a desired state, then compares SHOW CREATE TABLE
of the migrated tables with a database where the desired SQL ran verbatim, and checks
that planning the desired state again finds nothing to do.
"""

from __future__ import annotations

from typing import Any

import pymysql
import pytest

from atlas_operator.engine.changes import ModifyTable, ModifyTableAttr
from atlas_operator.engine.drivers.base import Scope
from atlas_operator.engine.drivers.mysql import (
    MARIADB,
    MySQLDriver,
    MySQLSession,
    Planner,
    ServerInfo,
)
from atlas_operator.engine.drivers.mysql.inspect import declared_options, with_clauses
from atlas_operator.engine.drivers.mysql.showcreate import IndexClauses, index_clauses, index_line
from atlas_operator.engine.model import Column, Index, IndexPart, Table
from atlas_operator.engine.urls import DatabaseURL
from tests.engine.drivers import test_mysql as base

DB = pytest.mark.databases
MARIA = ServerInfo("10.11.6-MariaDB", "InnoDB", "utf8mb4", "utf8mb4_general_ci")

# The shared fixtures of test_mysql: random databases on the MariaDB server, dropped after.
server = base.server
make_database = base.make_database
pair = base.pair


def run(url: DatabaseURL, sql: str) -> None:
    """Runs `;`-separated statements (no `;` inside them) in the URL's database."""
    conn = pymysql.connect(**url.pymysql_kwargs(), autocommit=True)
    try:
        with conn.cursor() as cursor:
            for statement in filter(str.strip, sql.split(";")):
                cursor.execute(statement)
    finally:
        conn.close()


def show_create(url: DatabaseURL) -> dict[str, list[str]]:
    """SHOW CREATE TABLE of every table of the URL's database, by table name: its lines
    without trailing commas, the columns in order, keys and constraints sorted (an index
    created again moves to the end, an order that means nothing; bench/oracle.py)."""
    names = base.admin_run(
        url,
        "SELECT TABLE_NAME FROM information_schema.TABLES"
        f" WHERE TABLE_SCHEMA = '{url.schema}' ORDER BY TABLE_NAME",
    )
    shown = {}
    for (name,) in names:
        rows = base.admin_run(url, f"SHOW CREATE TABLE `{url.schema}`.`{name}`")
        lines = [line.rstrip(",") for line in str(rows[0][1]).splitlines()]
        columns = [line for line in lines if line.startswith("  `")]
        shown[name] = columns + sorted(line for line in lines if line not in columns)
    return shown


def converge(
    pair: tuple[DatabaseURL, DatabaseURL],
    make_database: base.MakeDatabase,
    desired: str,
    **policy: Any,
) -> list[str]:
    """Applies `desired` to the target; checks the target's SHOW CREATE TABLE against a
    fresh database where `desired` ran verbatim, and that a re-plan is empty."""
    target, dev = pair
    applied = base.apply(target, dev, desired, **policy)
    oracle = target.with_schema(make_database("oracle"))
    run(oracle, desired)
    assert show_create(target) == show_create(oracle)
    assert base.replan(target, dev, desired) == []
    return applied


# --- ROW_FORMAT and KEY_BLOCK_SIZE ------------------------------------------------------


BOOKS = """CREATE TABLE `books` (
  `id` int(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  `type` VARCHAR(255) NOT NULL COMMENT 'manga, novel',
  `created_at` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `deleted_at` datetime DEFAULT null
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin {row_format}"""


@DB
def test_row_format_is_created_changed_and_reset(
    pair: tuple[DatabaseURL, DatabaseURL], make_database: base.MakeDatabase
) -> None:
    # sqldef's TableWithCommentAndDefaults.
    applied = converge(pair, make_database, BOOKS.format(row_format="ROW_FORMAT=DYNAMIC"))
    assert applied[0].endswith(") CHARSET utf8mb4 COLLATE utf8mb4_bin ROW_FORMAT=DYNAMIC")
    assert base.table_of(pair[0], "books").option("row_format") == "DYNAMIC"

    applied = converge(pair, make_database, BOOKS.format(row_format="row_format=compact"))
    assert applied == ["ALTER TABLE `books` ROW_FORMAT=COMPACT"]

    # Not declared any more: InnoDB's default format, which SHOW CREATE TABLE leaves out.
    applied = converge(pair, make_database, BOOKS.format(row_format=""))
    assert applied == ["ALTER TABLE `books` ROW_FORMAT=DEFAULT"]
    assert base.table_of(pair[0], "books").option("row_format") is None


@DB
def test_table_key_block_size_is_created_and_changed(
    pair: tuple[DatabaseURL, DatabaseURL], make_database: base.MakeDatabase
) -> None:
    # sqldef's CreateTableWithKeyBlockSize.
    applied = converge(pair, make_database, "CREATE TABLE users (id BIGINT) KEY_BLOCK_SIZE=8")
    assert applied == ["CREATE TABLE `users` (\n  `id` bigint(20) NULL\n) KEY_BLOCK_SIZE=8"]
    assert base.table_of(pair[0], "users").options == (("key_block_size", "8"),)

    applied = converge(pair, make_database, "CREATE TABLE users (id BIGINT) KEY_BLOCK_SIZE=4")
    assert applied == ["ALTER TABLE `users` KEY_BLOCK_SIZE=4"]
    applied = converge(pair, make_database, "CREATE TABLE users (id BIGINT)")
    assert applied == ["ALTER TABLE `users` KEY_BLOCK_SIZE=0"]
    assert base.table_of(pair[0], "users").options == ()


@DB
def test_index_key_block_size_and_indexes_that_follow_the_tables(
    pair: tuple[DatabaseURL, DatabaseURL], make_database: base.MakeDatabase
) -> None:
    table = "create table t (id int, k int, key ka (k), key kb (id) key_block_size={kb}){opt}"
    converge(pair, make_database, table.format(kb=4, opt=" key_block_size=8"))
    kb = base.table_of(pair[0], "t").index("kb")
    assert kb is not None
    assert kb.params == (("key_block_size", "4"),)

    # `ka` took the table's 8 as its own when it was created: it is created again to
    # follow the table (SHOW CREATE TABLE would print KEY_BLOCK_SIZE=8 on it otherwise);
    # `kb` equals the table's size now, which SHOW CREATE TABLE no longer prints.
    applied = converge(pair, make_database, table.format(kb=4, opt=" key_block_size=4"))
    assert applied == [
        "ALTER TABLE `t` DROP INDEX `kb`, DROP INDEX `ka`, ADD INDEX `kb` (`id`), "
        "ADD INDEX `ka` (`k`), KEY_BLOCK_SIZE=4"
    ]
    applied = converge(pair, make_database, table.format(kb=4, opt=""))
    assert applied == [
        "ALTER TABLE `t` DROP INDEX `kb`, DROP INDEX `ka`, "
        "ADD INDEX `kb` (`id`) KEY_BLOCK_SIZE=4, ADD INDEX `ka` (`k`), KEY_BLOCK_SIZE=0"
    ]


# --- explicit USING ------------------------------------------------------------------


@DB
@pytest.mark.parametrize(
    ("current", "desired", "statement"),
    [
        pytest.param(
            "KEY index_id (id) USING BTREE",
            "KEY index_id (id)",
            "ALTER TABLE `users` DROP INDEX `index_id`, ADD INDEX `index_id` (`id`)",
            id="IndexOptionNoUsing",
        ),
        pytest.param(
            "KEY index_id (id)",
            "KEY index_id (id) USING BTREE",
            "ALTER TABLE `users` DROP INDEX `index_id`, ADD INDEX `index_id` (`id`) USING BTREE",
            id="IndexOptionAddWithoutUsingThenWith",
        ),
        pytest.param(
            "INDEX index_id (registered_at, role_type)",
            "INDEX index_id (registered_at, role_type) using btree",
            "ALTER TABLE `users` DROP INDEX `index_id`, "
            "ADD INDEX `index_id` (`registered_at`, `role_type`) USING BTREE",
            id="MultipleColumnIndexesOptionAddWithoutUsingThenCaseInsensitive",
        ),
        pytest.param(
            "KEY index_id (id)",
            "KEY index_id (id) USING HASH",  # InnoDB builds a B-tree, but keeps the clause
            "ALTER TABLE `users` DROP INDEX `index_id`, ADD INDEX `index_id` (`id`) USING HASH",
            id="hash-on-innodb",
        ),
    ],
)
def test_an_explicit_using_is_read_added_and_removed(
    pair: tuple[DatabaseURL, DatabaseURL],
    make_database: base.MakeDatabase,
    current: str,
    desired: str,
    statement: str,
) -> None:
    table = """CREATE TABLE users (
      id int(11) NOT NULL, registered_at datetime(6) NOT NULL, role_type int(1) NOT NULL,
      {index})"""
    run(pair[0], table.format(index=current))
    assert base.replan(*pair, table.format(index=current)) == []

    applied = converge(pair, make_database, table.format(index=desired))

    assert applied == [statement]


@DB
def test_memory_tables_keep_their_default_hash_and_explicit_btree(
    pair: tuple[DatabaseURL, DatabaseURL], make_database: base.MakeDatabase
) -> None:
    desired = (
        "create table m (id int, k int, key ka (k), key kb (id) using btree,"
        " key kc (k, id) using hash) engine=memory"
    )
    applied = converge(pair, make_database, desired)
    assert "  INDEX `ka` (`k`),\n  INDEX `kb` (`id`) USING BTREE,\n" in applied[0]
    methods = {i.name: i.method for i in base.table_of(pair[0], "m").indexes}
    assert methods == {"ka": None, "kb": "BTREE", "kc": "HASH"}


@DB
def test_a_desired_state_hiding_key_options_is_still_read_in_full(
    pair: tuple[DatabaseURL, DatabaseURL], make_database: base.MakeDatabase
) -> None:
    # NO_KEY_OPTIONS (part of ORACLE, MSSQL, … modes) hides USING from SHOW CREATE TABLE
    # on the dev session the desired state ran on; inspection reads it regardless.
    table = "create table t (id int, key k (id) using btree)"
    converge(pair, make_database, table)
    hiding = f"SET sql_mode = 'ANSI_QUOTES,NO_KEY_OPTIONS,NO_TABLE_OPTIONS';\n{table};"
    assert base.replan(*pair, hiding) == []


# --- check constraint names ------------------------------------------------------------


@DB
def test_check_names_differing_only_in_case_are_dropped_and_added(
    pair: tuple[DatabaseURL, DatabaseURL], make_database: base.MakeDatabase
) -> None:
    # sqldef's CheckConstraintNameCaseInsensitive (legacy_ignore_quotes: false).
    table = """CREATE TABLE orders (id int PRIMARY KEY, quantity int,
      CONSTRAINT {name} CHECK (quantity > 0))"""
    run(pair[0], table.format(name="CHK_QUANTITY"))

    applied = converge(pair, make_database, table.format(name="chk_quantity"))

    assert applied == [
        "ALTER TABLE `orders` DROP CONSTRAINT `CHK_QUANTITY`, "
        "ADD CONSTRAINT `chk_quantity` CHECK (`quantity` > 0)"
    ]
    assert [c.name for c in base.table_of(pair[0], "orders").checks] == ["chk_quantity"]


# --- inspection --------------------------------------------------------------------------


@DB
def test_explicit_clauses_cost_one_statement_per_batch_of_indexed_tables(
    server: DatabaseURL, make_database: base.MakeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.with_schema(make_database("many"))
    tables = [f"create table t{i} (id int primary key, v int, key (v))" for i in range(30)]
    run(url, ";".join([*tables, "create table plain (id int primary key, t text, fulltext (t))"]))
    driver = MySQLDriver()
    with driver.open(url) as session:
        assert isinstance(session, MySQLSession)
        batches: list[str] = []
        original = session.query_sets

        def counting(sql: str) -> list[list[tuple[Any, ...]]]:
            batches.append(sql)
            return original(sql)

        monkeypatch.setattr(session, "query_sets", counting)
        monkeypatch.setattr("atlas_operator.engine.drivers.mysql.inspect.SHOW_CREATE_BATCH", 8)
        realm = driver.inspect(session, driver.scope_of(url))
    # 30 tables with a B-tree key in batches of 8; not the FULLTEXT-only table.
    assert len(batches) == 4
    assert "`plain`" not in " ".join(batches)
    indexed = [t for t in realm.schemas[0].tables if t.name != "plain"]
    assert [t.indexes[0].method for t in indexed] == [None] * 30


# --- units ----------------------------------------------------------------------------------


def test_index_lines_are_parsed_for_their_written_clauses() -> None:
    create = "\n".join(
        [
            "CREATE TABLE `t` (",
            "  `a` int(11) DEFAULT NULL COMMENT 'KEY `x` (`a`) USING HASH',",
            "  PRIMARY KEY (`a`) USING BTREE,",
            "  UNIQUE KEY `we``ird (` (`a`,`b`(10)) USING BTREE COMMENT 'USING HASH',",
            "  KEY `expr` ((lower(`c`) = ')'),`a` DESC) KEY_BLOCK_SIZE=4 USING HASH,",
            "  KEY `plain` (`a`) COMMENT 'x' IGNORED,",
            "  FULLTEXT KEY `ft` (`c`) WITH PARSER `ngram`",
            ") ENGINE=InnoDB ROW_FORMAT=DYNAMIC",
        ]
    )
    assert index_clauses(create) == {
        "we`ird (": IndexClauses(using="BTREE"),
        "expr": IndexClauses(using="HASH", key_block_size=4),
        "plain": IndexClauses(),
        "ft": IndexClauses(),
    }
    # ANSI_QUOTES and sql_quote_show_create=0 (MySQL, where a desired state may set them).
    assert index_line('  KEY "a""b" ("x") USING BTREE') == ('a"b', IndexClauses("BTREE"))
    assert index_line("  KEY k (x) using btree") == ("k", IndexClauses("BTREE"))
    assert index_line("  KEY `broken` (`a`") is None


def test_declared_options_come_from_create_options() -> None:
    assert declared_options("row_format=DYNAMIC key_block_size=8 partitioned") == [
        ("row_format", "DYNAMIC"),
        ("key_block_size", "8"),
    ]
    assert declared_options("stats_persistent=1 key_block_size=0") == []
    assert declared_options(None) == []


def test_written_clauses_replace_what_the_catalog_guessed() -> None:
    btree = Index("k", (IndexPart(column="a"),))
    assert with_clauses(btree, IndexClauses("BTREE", 4)) == Index(
        "k", btree.parts, method="BTREE", params=(("key_block_size", "4"),)
    )
    # A MEMORY key's HASH is its engine's default unless written; unparsed lines keep it.
    memory = Index("k", (IndexPart(column="a"),), method="HASH")
    assert with_clauses(memory, IndexClauses()).method is None
    assert with_clauses(memory, None) == memory
    fulltext = Index("k", (IndexPart(column="a"),), method="FULLTEXT")
    assert with_clauses(fulltext, IndexClauses("BTREE")) == fulltext


def test_options_render_in_create_and_alter_table() -> None:
    planner = Planner(Scope(bound="app"), MARIADB, MARIA)
    table = Table(
        "t",
        columns=(Column("a", "int"),),
        indexes=(
            Index("k", (IndexPart(column="a"),), method="BTREE", params=(("key_block_size", "2"),)),
        ),
        options=(("engine", "InnoDB"), ("key_block_size", "8"), ("row_format", "COMPRESSED")),
    )
    assert planner.create_table("app", table).sql == (
        "CREATE TABLE `t` (\n  `a` int NULL,\n  INDEX `k` (`a`) USING BTREE KEY_BLOCK_SIZE=2\n)"
        " ENGINE InnoDB ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8"
    )
    change = ModifyTable(
        "app",
        table,
        table,
        (
            ModifyTableAttr("key_block_size", "8", None),
            ModifyTableAttr("row_format", "COMPRESSED", None),
        ),
    )
    assert [s.sql for s in planner.change(change)] == [
        "ALTER TABLE `t` KEY_BLOCK_SIZE=0, ROW_FORMAT=DEFAULT"
    ]
