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
        (PG, "select 1;\n-- no newline at the end", ["select 1;"]),
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
        ("-- atlas:delimiter //\n", "no input found after delimiter"),
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
    assert texts("SELECT 1;\n# DROP TABLE t;", MY) == ["SELECT 1;"]
    assert texts("SELECT 1;\n# DROP TABLE t;", LITE) == ["SELECT 1;", "# DROP TABLE t;"]
