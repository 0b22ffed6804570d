"""SQL text per dialect through the statement splitter, and SQLite desired states through
`schema apply --dry-run` in-process: errors are `SplitError` or one line, never a crash."""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path

import pytest

from atlas_operator.engine.statements import Dialect, SplitError, split_statements
from tests.fuzz.common import expect_only, iterations, mutate, pick, run_cli

SEEDS = [
    "CREATE TABLE users (id int PRIMARY KEY, name varchar(255) NOT NULL);",
    "CREATE TABLE ñandú (id int, ärger text DEFAULT 'ß;x');",
    "INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`); -- trailing; comment\n",
    "/* block; comment */ SELECT 1; # hash comment; \nSELECT 2;",
    "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;",
    "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 1; END;",
    "DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END//\nDELIMITER ;\n",
    "-- atlas:delimiter \\n\\n\nSELECT 1\n\nSELECT 2\n",
    "BEGIN; CREATE TABLE a (x int); COMMIT;",
    "CREATE TABLE t (a int CHECK (a > 0), CASE WHEN x THEN 1 END);",
    "SELECT E'a\\';b', 'it''s'; SELECT $tag$ ; $tag$;",
]
WORDS = [
    "CREATE",
    "TABLE",
    "BEGIN",
    "END",
    "CASE",
    "IF",
    "END IF",
    "LOOP",
    "DELIMITER",
    "ATOMIC",
    "TRANSACTION",
    "SELECT",
    "ñandú",
    "Ωmega",
    "_x",
    "$1",
    "$$",
    "$q$",
    "'",
    "''",
    '"',
    "`",
    "(",
    ")",
    ";",
    "--",
    "#",
    "/*",
    "*/",
    "\n",
    " ",
    "\\",
    "E'",
    "x",
    "1",
    "é",
    "\u0301",
    "\x00",
]
DIALECTS = [Dialect.POSTGRES, Dialect.MYSQL, Dialect.SQLITE, Dialect.GENERIC]


def random_sql(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return mutate(pick(rng, SEEDS), rng, rounds=6)
    return " ".join(pick(rng, WORDS) for _ in range(rng.randint(1, 40)))


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_splitter_never_crashes(dialect: Dialect) -> None:
    rng = random.Random(f"split-{dialect}")
    for _ in range(iterations(400)):
        sql = random_sql(rng)
        expect_only(partial(split_statements, sql, dialect), (SplitError,), repr(sql))


@pytest.mark.parametrize("dialect", DIALECTS, ids=str)
def test_non_ascii_identifiers_split(dialect: Dialect) -> None:
    statements = split_statements("CREATE TABLE ñandú (id int); CREATE TABLE é (x int)", dialect)
    assert [s.text for s in statements] == [
        "CREATE TABLE ñandú (id int);",
        "CREATE TABLE é (x int)",
    ]


@pytest.mark.parametrize("dialect", [Dialect.SQLITE, Dialect.POSTGRES], ids=str)
def test_hash_is_not_a_comment_outside_mysql(dialect: Dialect) -> None:
    texts = [s.text for s in split_statements("SELECT 1;\n# DROP TABLE t;", dialect)]
    assert texts == ["SELECT 1;", "# DROP TABLE t;"]


def test_schema_apply_dry_run_on_sqlite_never_crashes(tmp_path: Path) -> None:
    rng = random.Random("apply-sqlite")
    target = f"sqlite://{tmp_path / 'target.db'}"
    desired = tmp_path / "schema.sql"
    for _ in range(iterations(120)):
        sql = random_sql(rng)
        desired.write_text(sql, errors="surrogatepass")
        args = ["schema", "apply", "-u", target, "--to", f"file://{desired}", "--dry-run"]
        run_cli(args, repr(sql))


def test_schema_apply_refuses_hash_comments_on_sqlite(tmp_path: Path) -> None:
    desired = tmp_path / "schema.sql"
    desired.write_text("# a comment SQLite does not have\nCREATE TABLE t (id int);\n")
    args = ["schema", "apply", "-u", f"sqlite://{tmp_path / 'x.db'}", "--to", f"file://{desired}"]
    code, stderr = run_cli([*args, "--dry-run"], "hash comment")
    assert code == 1
    assert "#" in stderr
