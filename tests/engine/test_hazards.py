"""Hazards on planned statements: change kinds × expected hazard kinds per driver (pure
planning on hand-built models), and how `schema apply --dry-run`/`schema diff` print
them (SQLite files, no server)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from atlas_operator.engine.changes import ModifyObject
from atlas_operator.engine.diff import diff_realms
from atlas_operator.engine.drivers.base import Driver, PlannedStatement, Scope
from atlas_operator.engine.drivers.mysql import MySQLDriver
from atlas_operator.engine.drivers.postgres import PostgresDriver
from atlas_operator.engine.drivers.sqlite import SQLiteDriver
from atlas_operator.engine.hazards import KINDS, LINT_CODES, PG_SCHEMA_DIFF, Hazard
from atlas_operator.engine.model import (
    Check,
    Column,
    ForeignKey,
    Generated,
    Index,
    IndexPart,
    PrimaryKey,
    Realm,
    Schema,
    SchemaObject,
    Table,
)
from tests.test_cli_schema import cli

DRIVERS: dict[str, Driver] = {
    "postgres": PostgresDriver(),
    "mysql": MySQLDriver(),
    "sqlite": SQLiteDriver(),
}
ID = Column("id", "integer", nullable=False)
NAME = Column("name", "varchar(50)")
COUNT = Column("n", "integer")
BY_N = Index("users_n", (IndexPart(column="n"),))
BASE = Table("users", columns=(ID, NAME, COUNT), primary_key=PrimaryKey(("id",)), indexes=(BY_N,))
POSTS = Table("posts", columns=(ID, Column("user_id", "integer")), primary_key=PrimaryKey(("id",)))
TO_USERS = ForeignKey("posts_user", ("user_id",), "users", ("id",))


def realm(*tables: Table) -> Realm:
    return Realm(schemas=(Schema("public", tables=tables),))


def planned(driver: str, before: Realm, after: Realm) -> list[PlannedStatement]:
    return DRIVERS[driver].plan(diff_realms(before, after), Scope(bound="public"))


def kinds(statements: list[PlannedStatement]) -> set[str]:
    return {h.kind for s in statements for h in s.hazards}


def users(**changes: object) -> Table:
    return replace(BASE, **changes)  # type: ignore[arg-type]


def with_column(column: Column) -> Table:
    return users(columns=(*BASE.columns, column))


def retyped(name: str, type_: str, **attrs: object) -> Table:
    columns = tuple(replace(c, type=type_, **attrs) if c.name == name else c for c in BASE.columns)  # type: ignore[arg-type]
    return users(columns=columns)


NEW_INDEX = Index("users_name", (IndexPart(column="name"),))
UNIQUE = Index("users_name_key", (IndexPart(column="name"),), unique=True, constraint=True)

# (case, before tables, after tables, {driver: expected kinds over the whole plan})
CASES: list[tuple[str, tuple[Table, ...], tuple[Table, ...], dict[str, set[str]]]] = [
    (
        "add table",
        (),
        (BASE,),
        {"postgres": set(), "mysql": set(), "sqlite": set()},
    ),
    (
        "drop table",
        (BASE,),
        (),
        {"postgres": {"DeletesData"}, "mysql": {"DeletesData"}, "sqlite": {"DeletesData"}},
    ),
    (
        "drop column",
        (BASE,),
        (users(columns=(ID, NAME), indexes=()),),
        {
            "postgres": {"DeletesData", "AcquiresAccessExclusiveLock", "IndexDropped"},
            "mysql": {"DeletesData", "IndexDropped"},  # INSTANT drop on MySQL ≥ 8.0.29
            "sqlite": {"DeletesData", "TableRewrite"},
        },
    ),
    (
        "add nullable column, constant default",
        (BASE,),
        (with_column(Column("note", "text", default="'x'")),),
        {"postgres": set(), "mysql": set(), "sqlite": set()},
    ),
    (
        "add column with a volatile default",
        (BASE,),
        (with_column(Column("r", "double precision", default="random()")),),
        {
            "postgres": {"AcquiresAccessExclusiveLock", "TableRewrite"},
            "mysql": {"TableRewrite", "ImpactsDatabasePerformance"},
            "sqlite": {"TableRewrite"},
        },
    ),
    (
        "add stored generated column",
        (BASE,),
        (with_column(Column("m", "integer", generated=Generated("n * 2"))),),
        {
            "postgres": {"AcquiresAccessExclusiveLock", "TableRewrite"},
            "mysql": {"TableRewrite", "ImpactsDatabasePerformance"},
            "sqlite": {"TableRewrite"},
        },
    ),
    (
        "int to bigint",
        (BASE,),
        (retyped("n", "bigint"),),
        {
            "postgres": {"AcquiresAccessExclusiveLock", "TableRewrite"},
            "mysql": {"TableRewrite", "ImpactsDatabasePerformance"},
            "sqlite": {"TableRewrite"},
        },
    ),
    (
        "varchar(50) to varchar(60): widening in place",
        (BASE,),
        (retyped("name", "varchar(60)"),),
        {"postgres": set(), "mysql": set(), "sqlite": {"TableRewrite"}},
    ),
    (
        "varchar to text",
        (BASE,),
        (retyped("name", "text"),),
        {
            "postgres": set(),
            "mysql": {"TableRewrite", "ImpactsDatabasePerformance"},
            "sqlite": {"TableRewrite"},
        },
    ),
    (
        "narrowing varchar(50) to varchar(10)",
        (BASE,),
        (retyped("name", "varchar(10)"),),
        {
            "postgres": {"Correctness", "AcquiresAccessExclusiveLock", "TableRewrite"},
            "mysql": {"DeletesData", "TableRewrite", "ImpactsDatabasePerformance"},
            "sqlite": {"TableRewrite"},  # SQLite ignores declared lengths
        },
    ),
    (
        "narrowing bigint to int",
        (retyped("n", "bigint"),),
        (BASE,),
        {
            "postgres": {"Correctness", "AcquiresAccessExclusiveLock", "TableRewrite"},
            "mysql": {"DeletesData", "TableRewrite", "ImpactsDatabasePerformance"},
            "sqlite": {"TableRewrite"},
        },
    ),
    (
        "set not null",
        (BASE,),
        (retyped("n", "integer", nullable=False),),
        {
            "postgres": {"AcquiresAccessExclusiveLock"},
            "mysql": {"TableRewrite", "ImpactsDatabasePerformance"},
            "sqlite": {"TableRewrite"},
        },
    ),
    (
        "create index",
        (BASE,),
        (users(indexes=(BY_N, NEW_INDEX)),),
        {
            "postgres": {"AcquiresShareLock", "IndexBuild"},
            "mysql": {"IndexBuild"},
            "sqlite": {"IndexBuild"},
        },
    ),
    (
        "drop index",
        (BASE,),
        (users(indexes=()),),
        {
            "postgres": {"AcquiresAccessExclusiveLock", "IndexDropped"},
            "mysql": {"IndexDropped"},
            "sqlite": {"IndexDropped"},
        },
    ),
    (
        "add unique constraint",
        (BASE,),
        (users(indexes=(BY_N, UNIQUE)),),
        {
            "postgres": {"AcquiresAccessExclusiveLock", "IndexBuild"},
            "mysql": {"IndexBuild"},
            "sqlite": {"TableRewrite"},
        },
    ),
    (
        "add foreign key",
        (BASE, POSTS),
        (BASE, replace(POSTS, foreign_keys=(TO_USERS,))),
        {
            "postgres": {"AcquiresShareRowExclusiveLock"},
            "mysql": {"TableRewrite", "ImpactsDatabasePerformance"},
            "sqlite": {"TableRewrite"},
        },
    ),
    (
        "add foreign key NOT VALID",
        (BASE, POSTS),
        (BASE, replace(POSTS, foreign_keys=(replace(TO_USERS, not_valid=True),))),
        {"postgres": {"AcquiresShareRowExclusiveLock"}},
    ),
    (
        "add check",
        (BASE,),
        (users(checks=(Check("n_positive", "n > 0"),)),),
        {
            "postgres": {"AcquiresAccessExclusiveLock"},
            "mysql": {"TableRewrite", "ImpactsDatabasePerformance"},
            "sqlite": {"TableRewrite"},
        },
    ),
    (
        "add check NOT VALID",
        (BASE,),
        (users(checks=(Check("n_positive", "n > 0", not_valid=True),)),),
        {"postgres": set()},
    ),
]


@pytest.mark.parametrize(
    ("case", "before", "after", "expected"), CASES, ids=[case[0] for case in CASES]
)
@pytest.mark.parametrize("driver", ["postgres", "mysql", "sqlite"])
def test_hazards_per_change_kind(
    driver: str,
    case: str,
    before: tuple[Table, ...],
    after: tuple[Table, ...],
    expected: dict[str, set[str]],
) -> None:
    if driver not in expected:
        pytest.skip(f"{case}: {driver} has no such form")
    assert kinds(planned(driver, realm(*before), realm(*after))) == expected[driver]


def test_hazards_sit_on_the_statement_that_has_them() -> None:
    after = users(indexes=(NEW_INDEX,), columns=(ID, NAME, replace(COUNT, type="bigint")))
    statements = planned("postgres", realm(BASE), realm(after))
    by_head = {s.sql.split(" (")[0]: {h.kind for h in s.hazards} for s in statements}
    assert by_head == {
        'DROP INDEX "users_n"': {"AcquiresAccessExclusiveLock", "IndexDropped"},
        'ALTER TABLE "users" ALTER COLUMN "n" TYPE bigint USING "n"::bigint': {
            "AcquiresAccessExclusiveLock",
            "TableRewrite",
        },
        'CREATE INDEX "users_name" ON "users"': {"AcquiresShareLock", "IndexBuild"},
    }


def test_concurrent_index_builds_take_no_share_lock() -> None:
    statements = PostgresDriver().plan(
        diff_realms(realm(BASE), realm(users(indexes=(NEW_INDEX,)))),
        Scope(bound="public"),
        concurrent_index=(True, True),
    )
    assert [(s.sql.split(" ON ")[0], [h.kind for h in s.hazards]) for s in statements] == [
        ('DROP INDEX CONCURRENTLY "users_n"', ["IndexDropped"]),
        ('CREATE INDEX CONCURRENTLY "users_name"', ["IndexBuild", "ImpactsDatabasePerformance"]),
    ]


def test_mysql_adds_columns_instantly_only_where_the_version_allows() -> None:
    from atlas_operator.engine.drivers.mysql.session import MARIADB, ServerInfo

    middle = users(columns=(ID, Column("note", "text"), NAME, COUNT))
    old = MySQLDriver(MARIADB)
    old.server = ServerInfo("10.3.39-MariaDB", "InnoDB", "utf8mb4", "utf8mb4_general_ci")
    new = MySQLDriver(MARIADB)
    new.server = ServerInfo("10.11.6-MariaDB", "InnoDB", "utf8mb4", "utf8mb4_general_ci")
    changes = diff_realms(realm(BASE), realm(middle))
    assert kinds(old.plan(changes, Scope(bound="public"))) == {
        "TableRewrite",
        "ImpactsDatabasePerformance",
    }
    assert kinds(new.plan(changes, Scope(bound="public"))) == set()
    last = diff_realms(realm(BASE), realm(with_column(Column("note", "text"))))
    assert kinds(old.plan(last, Scope(bound="public"))) == set()


def test_enum_label_removal_and_function_bodies() -> None:
    enum = SchemaObject("enum", "mood", attrs=(("labels", "a,b"),))
    smaller = SchemaObject("enum", "mood", attrs=(("labels", "a"),))
    from atlas_operator.engine.changes import ColumnUse

    change = ModifyObject("public", enum, smaller, columns=(ColumnUse("public", "t", "m", "mood"),))
    driver = DRIVERS["postgres"]
    statement = PlannedStatement('ALTER TABLE "t" ALTER COLUMN "m" TYPE mood USING "m"::text::mood')
    found = {h.kind for h in driver.hazards(change, statement)}
    assert found == {"Correctness", "AcquiresAccessExclusiveLock", "TableRewrite"}
    plpgsql = SchemaObject(
        "function", "f()", definition="CREATE FUNCTION f() ... LANGUAGE plpgsql AS $$...$$"
    )
    sql = SchemaObject("function", "g()", definition="CREATE FUNCTION g() LANGUAGE sql RETURN 1")
    from atlas_operator.engine.changes import AddObject

    create = PlannedStatement("CREATE FUNCTION ...")
    assert [h.kind for h in driver.hazards(AddObject("public", plpgsql), create)] == [
        "HasUntrackableDependencies"
    ]
    assert driver.hazards(AddObject("public", sql), create) == ()


def test_statements_compare_by_sql_whatever_their_hazards() -> None:
    hazard = Hazard("DeletesData", "x")
    assert PlannedStatement("DROP TABLE t", hazards=(hazard,)) == PlannedStatement("DROP TABLE t")
    with pytest.raises(ValueError, match="unknown hazard kind"):
        Hazard("Nope", "x")


def test_every_kind_has_a_lint_code_and_a_pg_schema_diff_mapping() -> None:
    assert list(LINT_CODES.values()) == [f"HZ{n}" for n in range(101, 111)]
    assert set(PG_SCHEMA_DIFF) == set(KINDS)


# --- CLI ----------------------------------------------------------------------------------


def test_dry_run_and_diff_print_hazards_above_their_statements(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table users (id int primary key, name text, nick text)")
        conn.execute("create table old (id int)")
    desired = tmp_path / "schema.sql"
    desired.write_text("create table users (id int primary key, name text);\n")
    url, to = f"sqlite://{db}", f"file://{desired}"
    dev = f"sqlite://{tmp_path / 'dev.db'}"

    dry = cli("schema", "apply", "-u", url, "--to", to, "--dev-url", dev, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    drop = lines.index("DROP TABLE `old`;")
    assert lines[drop - 2 : drop] == [
        '-- Drop "old" table',
        '-- Hazard DeletesData: drops table "old" with its rows',
    ]
    copy = next(i for i, line in enumerate(lines) if line.startswith("INSERT INTO `new_users`"))
    assert lines[copy - 2 : copy] == [
        '-- Hazard DeletesData: the copy of "users" leaves out dropped column(s) "nick"',
        '-- Hazard TableRewrite: "users" is rebuilt: every row is copied into a new table,'
        " which replaces it",
    ]

    report = json.loads(
        cli(
            "schema", "apply", "-u", url, "--to", to, "--dev-url", dev, "--dry-run",
            "--format", "json",
        ).stdout
    )  # fmt: skip
    assert {"Stmt": "DROP TABLE `old`", "Hazards": [
        {"Type": "DeletesData", "Message": 'drops table "old" with its rows'}
    ]} in report["Hazards"]  # fmt: skip
    assert "DROP TABLE `old`" in report["Changes"]["Pending"]

    diff = cli("schema", "diff", "--from", url, "--to", to, "--dev-url", dev)
    assert diff.returncode == 0, diff.stderr
    assert (
        '-- Hazard DeletesData: drops table "old" with its rows\nDROP TABLE `old`;' in diff.stdout
    )
    out = json.loads(
        cli(
            "schema", "diff", "--from", url, "--to", to, "--dev-url", dev, "--format", "json"
        ).stdout
    )
    assert len(out["hazards"]) == len(out["statements"])
    dropped = out["statements"].index("DROP TABLE `old`")
    assert [h["Type"] for h in out["hazards"][dropped]] == ["DeletesData"]


def test_a_plan_without_hazards_prints_as_before(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    desired = tmp_path / "schema.sql"
    desired.write_text("create table users (id int primary key);\n")
    url, to = f"sqlite://{db}", f"file://{desired}"
    dev = f"sqlite://{tmp_path / 'dev.db'}"
    out = cli("schema", "apply", "-u", url, "--to", to, "--dev-url", dev, "--dry-run")
    assert "Hazard" not in out.stdout
    report = json.loads(
        cli(
            "schema", "apply", "-u", url, "--to", to, "--dev-url", dev, "--dry-run",
            "--format", "json",
        ).stdout
    )  # fmt: skip
    assert "Hazards" not in report


@pytest.mark.parametrize("driver", ["postgres", "mysql", "sqlite"])
def test_tables_the_plan_creates_carry_none(driver: str) -> None:
    """Even the foreign keys of a cycle, added after both new tables exist."""
    a = Table("a", (ID, Column("b_id", "integer")), PrimaryKey(("id",)))
    b = Table("b", (ID, Column("a_id", "integer")), PrimaryKey(("id",)))
    a = replace(a, foreign_keys=(ForeignKey("a_b", ("b_id",), "b", ("id",)),))
    b = replace(b, foreign_keys=(ForeignKey("b_a", ("a_id",), "a", ("id",)),))
    statements = planned(driver, realm(), realm(a, b))
    assert any("FOREIGN KEY" in s.sql for s in statements)
    assert kinds(statements) == set()
