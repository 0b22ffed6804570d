"""Statement splitting: table-driven cases of Atlas's lexer rules."""

from __future__ import annotations

import pytest

from atlas_operator.engine.statements import Dialect, SplitError, split_statements

PG, MY, LITE = Dialect.POSTGRES, Dialect.MYSQL, Dialect.SQLITE


def texts(sql: str, dialect: Dialect) -> list[str]:
    return [s.text for s in split_statements(sql, dialect)]


@pytest.mark.parametrize(
    ("dialect", "sql", "expected"),
    [
        (
            PG,
            "create table a (x int);\ncreate table b (y int);",
            ["create table a (x int);", "create table b (y int);"],
        ),
        (PG, "select 1", ["select 1"]),
        (PG, "insert into t values ('a;b', \"c;d\");", ["insert into t values ('a;b', \"c;d\");"]),
        (PG, "select 'it''s;'; select 2;", ["select 'it''s;';", "select 2;"]),
        (PG, "select E'a\\';b'; select 2;", ["select E'a\\';b';", "select 2;"]),
        (MY, "select 'a\\';b'; select 2;", ["select 'a\\';b';", "select 2;"]),
        (PG, "-- c;\nselect 1; /* x; */ select 2;", ["select 1;", "select 2;"]),
        (MY, "# c;\nselect 1;", ["select 1;"]),
        # A comment never terminated is not a comment but text (Atlas): a statement.
        (PG, "select 1;\n-- no newline at the end", ["select 1;", "-- no newline at the end"]),
        (
            PG,
            "create function f() returns int as $$ begin return 1; end; $$ language plpgsql;\n"
            "create function g() returns int as $body$ select 1; $body$ language sql;",
            [
                "create function f() returns int as $$ begin return 1; end; $$ language plpgsql;",
                "create function g() returns int as $body$ select 1; $body$ language sql;",
            ],
        ),
        (PG, "prepare p as select $1; select 2;", ["prepare p as select $1;", "select 2;"]),
        (
            PG,
            "create procedure p() language sql begin atomic select 1; select 2; end; select 3;",
            [
                "create procedure p() language sql begin atomic select 1; select 2; end;",
                "select 3;",
            ],
        ),
        (
            PG,
            "begin; create table t (begin_at int); commit;",
            ["begin;", "create table t (begin_at int);", "commit;"],
        ),
        (
            LITE,
            "create trigger t after insert on a begin insert into b values (1); "
            "update c set x = 1; end; select 1;",
            [
                "create trigger t after insert on a begin insert into b values (1); "
                "update c set x = 1; end;",
                "select 1;",
            ],
        ),
        (
            MY,
            "create trigger t before insert on a for each row begin\n"
            "  if new.x > 0 then set new.y = case when new.x > 1 then 2 else 1 end; end if;\n"
            "end;\nselect 1;",
            [
                "create trigger t before insert on a for each row begin\n"
                "  if new.x > 0 then set new.y = case when new.x > 1 then 2 else 1 end; end if;\n"
                "end;",
                "select 1;",
            ],
        ),
        (
            MY,
            "DELIMITER //\ncreate procedure p() begin select 1; end//\nDELIMITER ;\nselect 2;",
            ["create procedure p() begin select 1; end", "select 2;"],
        ),
        (
            PG,
            "-- atlas:delimiter \\n\\n\nselect 1;\nselect 2;\n\nselect 3",
            ["select 1;\nselect 2;", "select 3"],
        ),
        (PG, "select 1;\n-- trailing comment only\n", ["select 1;"]),
    ],
)
def test_split(dialect: Dialect, sql: str, expected: list[str]) -> None:
    assert texts(sql, dialect) == expected


def test_positions_point_at_each_statement() -> None:
    sql = "select 1;\n  select 2;"
    assert [sql[s.position :].startswith(s.text) for s in split_statements(sql, PG)] == [
        True,
        True,
    ]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("select 1;\nselect (1;", r"unclosed '\(' opened at line 2"),
        ("select 1);", "unexpected"),
        ("-- atlas:delimiter //", "no input found after delimiter"),
        ("select 'unclosed;", "unclosed quote"),
        ("-- atlas:delimiter \nselect 1", "empty delimiter"),
    ],
)
def test_errors(sql: str, message: str) -> None:
    with pytest.raises(SplitError, match=message):
        split_statements(sql, PG)


@pytest.mark.parametrize(
    ("sql", "comments"),
    [
        ("-- a\n-- b\nselect 1;", ("-- a\n", "-- b\n")),
        ("-- header\n\nselect 1;", ()),
        ("-- header\n\n-- a\nselect 1;", ("-- a\n",)),
        ("/* a */\nselect 1;", ("/* a */",)),
        ("/* a */\n\nselect 1;", ()),
        ("select 1; -- not above\nselect 2;", ("-- not above\n",)),
        ("select /* inside */ 1;", ()),
    ],
)
def test_leading_comments_are_attached_not_part_of_the_text(
    sql: str, comments: tuple[str, ...]
) -> None:
    last = split_statements(sql, Dialect.POSTGRES)[-1]
    assert last.comments == comments
    assert not last.text.startswith(("--", "/*"))


@pytest.mark.parametrize(
    ("comment", "args"),
    [
        ("-- atlas:nolint\n", [""]),
        ("-- atlas:nolint DS103 destructive\n", ["DS103 destructive"]),
        ("--atlas:nolint DS103\n", ["DS103"]),
        ("# atlas:nolint\n", []),  # not a comment on PostgreSQL: never attached
        ("/*atlas:nolint MF101 */", ["MF101 "]),
        ("/* atlas:nolint MF101 */", []),  # Atlas wants the prefix "/*" exactly
        ("-- see atlas:nolint\n", []),
        ("-- atlas:txmode none\n", []),
    ],
)
def test_statement_directives(comment: str, args: list[str]) -> None:
    statement = split_statements(comment + "drop table t;", Dialect.POSTGRES)[-1]
    assert statement.directives("nolint") == args


@pytest.mark.parametrize("dialect", [PG, MY, LITE])
def test_non_ascii_first_letter_of_an_identifier(dialect: Dialect) -> None:
    assert texts("CREATE TABLE ñandú (id int); SELECT 1;", dialect) == [
        "CREATE TABLE ñandú (id int);",
        "SELECT 1;",
    ]


def test_hash_is_a_comment_on_mysql_only() -> None:
    assert texts("SELECT 1;\n# DROP TABLE t;\n", MY) == ["SELECT 1;"]
    assert texts("SELECT 1;\n# DROP TABLE t;\n", LITE) == ["SELECT 1;", "# DROP TABLE t;"]
    # Unterminated (no newline after it), `#` is not a comment but text, as in Atlas.
    assert texts("SELECT 1;\n# DROP TABLE t;", MY) == ["SELECT 1;", "# DROP TABLE t;"]


def test_delimiter_directive_alone_is_an_empty_file() -> None:
    assert texts("-- atlas:delimiter //\n", PG) == []


@pytest.mark.parametrize("dialect", [PG, MY, LITE, Dialect.GENERIC])
def test_a_column_named_begin_does_not_open_a_block(dialect: Dialect) -> None:
    sql = "CREATE TABLE t2 (begin int); CREATE TABLE t3 (id int);"
    assert texts(sql, dialect) == ["CREATE TABLE t2 (begin int);", "CREATE TABLE t3 (id int);"]
    sql = "CREATE TABLE t4 (id int,\n  begin int);\nCREATE TABLE t5 (id int);"
    assert texts(sql, dialect) == [
        "CREATE TABLE t4 (id int,\n  begin int);",
        "CREATE TABLE t5 (id int);",
    ]


def test_begin_without_end_is_a_transaction_and_begin_end_a_block() -> None:
    assert texts("BEGIN TRANSACTION;\nINSERT INTO t VALUES (1);\nCOMMIT;", PG) == [
        "BEGIN TRANSACTION;",
        "INSERT INTO t VALUES (1);",
        "COMMIT;",
    ]
    # PostgreSQL's END is COMMIT; Atlas groups such a transaction into one statement.
    assert texts("BEGIN ISOLATION LEVEL SERIALIZABLE;\nSELECT 1;\nEND;\nSELECT 2;", PG) == [
        "BEGIN ISOLATION LEVEL SERIALIZABLE;\nSELECT 1;\nEND;",
        "SELECT 2;",
    ]


@pytest.mark.parametrize("dialect", [PG, MY, LITE])
def test_delimiter_directive_that_looks_like_a_comment(dialect: Dialect) -> None:
    sql = (
        "-- atlas:delimiter -- end\n\n"
        "CREATE PROCEDURE p()\nBEGIN\n  SET @x = 0; -- not the end\nEND;\n-- end\n"
        "CALL p();\n"
    )
    assert texts(sql, dialect) == [
        "CREATE PROCEDURE p()\nBEGIN\n  SET @x = 0; -- not the end\nEND;",
        "CALL p();",
    ]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("DELIMITER //\nSELECT 1//\nDELIMITER ;\nSELECT 2;", ["SELECT 1", "SELECT 2;"]),
        ("delimiter $$\nSELECT 1$$\ndelimiter ;\nSELECT 2;", ["SELECT 1", "SELECT 2;"]),
        ("DELIMITER '$$'\nSELECT 1$$", ["SELECT 1"]),
        ("DELIMITER 'a''b'\nSELECT 1a'b", ["SELECT 1"]),
        ("DELIMITER //   \nSELECT 1//", ["SELECT 1"]),
        ("DELIMITER \\n\\n\nSELECT 1\nSELECT 2\n\nSELECT 3", ["SELECT 1\nSELECT 2", "SELECT 3"]),
        ("DELIMITER --\nSELECT 1 --\nSELECT 2 --", ["SELECT 1", "SELECT 2"]),
        ("-- c\nDELIMITER //\nSELECT 1//", ["SELECT 1"]),
        ("DELIMITER //\nDELIMITER ;;\nSELECT 1;;", ["SELECT 1"]),
        # Not the command: no space after the word, or not at the start of a statement.
        ("DELIMITERS;\nSELECT 1;", ["DELIMITERS;", "SELECT 1;"]),
        ("DELIMITER\t//\nSELECT 1;", ["DELIMITER\t//\nSELECT 1;"]),
        ("SELECT 1, DELIMITER //\nSELECT 2;", ["SELECT 1, DELIMITER //\nSELECT 2;"]),
    ],
)
@pytest.mark.parametrize("dialect", [MY, PG, LITE])
def test_delimiter_command_variants(dialect: Dialect, sql: str, expected: list[str]) -> None:
    assert texts(sql, dialect) == expected


def test_empty_delimiter_command_is_an_error() -> None:
    with pytest.raises(SplitError, match="empty delimiter"):
        split_statements("DELIMITER   \nSELECT 1;", MY)


def test_carriage_return_ends_a_dash_comment_on_postgres() -> None:
    sql = "SELECT 1; -- one\rSELECT 2;\rSELECT 3; -- three\r\nSELECT 4;\n"
    statements = split_statements(sql, PG)
    assert [s.text for s in statements] == ["SELECT 1;", "SELECT 2;", "SELECT 3;", "SELECT 4;"]
    assert [s.comments for s in statements] == [(), ("-- one\r",), (), ("-- three\r\n",)]
    assert texts("SELECT 1 -- one\r, 2;\nSELECT 3;", PG) == [
        "SELECT 1 -- one\r, 2;",
        "SELECT 3;",
    ]


@pytest.mark.parametrize("dialect", [MY, LITE])
def test_carriage_return_does_not_end_a_comment_elsewhere(dialect: Dialect) -> None:
    # MySQL's and SQLite's lexers end `--` comments at `\n` only, as Atlas does.
    assert texts("SELECT 1; -- one\rSELECT 2;\nSELECT 3;", dialect) == ["SELECT 1;", "SELECT 3;"]


def test_delimiter_only_statements_are_dropped_on_mysql_only() -> None:
    sql = "/*!40101 SET NAMES utf8mb4 */;\nDROP TABLE t;"
    assert texts(sql, MY) == ["DROP TABLE t;"]
    assert texts(sql, PG) == [";", "DROP TABLE t;"]  # as Atlas: PostgreSQL runs `;` fine
