"""SQLite driver on real SQLite databases: inspection round trips, plans, rebuilds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from atlas_operator.engine.declarative import ApplyPolicy, load_sql_on_dev, schema_apply
from atlas_operator.engine.drivers.base import EngineError
from atlas_operator.engine.drivers.sqlite import SQLiteDriver
from atlas_operator.engine.model import Column, Index, IndexPart
from atlas_operator.engine.states import default_dev_url
from atlas_operator.engine.urls import DatabaseURL, parse_url

SEED = """
create table users (
  id integer not null primary key autoincrement,
  name varchar(255) not null,
  email varchar(255) unique not null,
  short_bio varchar(255) not null
);
"""


@pytest.fixture
def target(tmp_path: Path) -> DatabaseURL:
    return parse_url(f"sqlite://{tmp_path / 'target.db'}")


def apply(target: DatabaseURL, sql: str, **policy: object) -> list[str]:
    report = schema_apply(target, sql, default_dev_url(target), ApplyPolicy(**policy))  # type: ignore[arg-type]
    assert report.error is None, report.error
    return report.applied


def replan(target: DatabaseURL, sql: str) -> list[str]:
    report = schema_apply(target, sql, default_dev_url(target), ApplyPolicy(), dry_run=True)
    return report.pending


def test_seed_table_applies_and_replans_empty(target: DatabaseURL) -> None:
    applied = apply(target, SEED)
    assert len(applied) == 1
    assert applied[0].startswith("CREATE TABLE `users`")
    assert replan(target, SEED) == []
    conn = sqlite3.connect(target.sqlite_target()[0])
    rows = conn.execute(
        "SELECT name, type, \"notnull\", pk FROM pragma_table_info('users')"
    ).fetchall()
    assert rows == [
        ("id", "INTEGER", 1, 1),
        ("name", "varchar(255)", 1, 0),
        ("email", "varchar(255)", 1, 0),
        ("short_bio", "varchar(255)", 1, 0),
    ]


def test_inspection_reads_every_table_feature(target: DatabaseURL) -> None:
    sql = """
    create table teams (id integer primary key, name text not null collate nocase);
    create table users (
      id integer not null primary key autoincrement,
      team_id integer constraint users_team references teams (id) on delete cascade,
      email text not null default 'x' check (length(email) > 0),
      total int generated always as (id * 2) stored,
      constraint positive check (id > 0)
    );
    create unique index users_email on users (lower(email)) where team_id is not null;
    create index users_team_desc on users (team_id desc);
    """
    realm = load_sql_on_dev(
        sql, default_dev_url(target), SQLiteDriver().scope_of(target), ApplyPolicy()
    )
    users = realm.schemas[0].table("users")
    assert users is not None
    assert users.column("id") == Column("id", "integer", nullable=False, auto_increment=True)
    assert users.column("email") == Column("email", "text", nullable=False, default="'x'")
    total = users.column("total")
    assert total is not None
    assert total.generated is not None
    assert total.generated.expr == "id * 2"
    assert total.generated.stored
    assert users.foreign_keys[0].name == "users_team"
    assert users.foreign_keys[0].on_delete == "CASCADE"
    assert {c.name for c in users.checks} == {None, "positive"}
    assert users.index("users_email") == Index(
        "users_email",
        (IndexPart(expr="lower(email)"),),
        unique=True,
        where="team_id is not null",
    )
    assert users.index("users_team_desc") == Index(
        "users_team_desc", (IndexPart(column="team_id", desc=True),)
    )
    teams = realm.schemas[0].table("teams")
    assert teams is not None
    assert teams.column("name") == Column("name", "text", nullable=False, collation="nocase")


def test_changes_that_need_a_rebuild_keep_the_rows(target: DatabaseURL) -> None:
    apply(target, SEED)
    conn = sqlite3.connect(target.sqlite_target()[0])
    conn.execute("insert into users (name, email, short_bio) values ('a', 'a@x', 'bio')")
    conn.commit()
    changed = SEED.replace("short_bio varchar(255) not null", "short_bio text")
    applied = apply(target, changed)
    assert any(s.startswith("CREATE TABLE `new_users`") for s in applied)
    assert replan(target, changed) == []
    assert conn.execute("select name, email, short_bio from users").fetchall() == [
        ("a", "a@x", "bio")
    ]


def test_simple_changes_use_alter_table(target: DatabaseURL) -> None:
    apply(target, SEED)
    added = SEED.replace(");", ");\ncreate index users_name on users (name);").replace(
        "short_bio varchar(255) not null", "short_bio varchar(255) not null,\n  age int"
    )
    applied = apply(target, added)
    assert applied == [
        "ALTER TABLE `users` ADD COLUMN `age` int",
        "CREATE INDEX `users_name` ON `users` (`name`)",
    ]
    assert replan(target, added) == []


def test_failing_desired_sql_names_the_statement_and_changes_nothing(
    target: DatabaseURL,
) -> None:
    apply(target, SEED)
    from atlas_operator.engine.declarative import DevDatabaseError

    with pytest.raises(DevDatabaseError, match=r'executing statement: "create tabel'):
        apply(target, SEED + "\ncreate tabel broken (id int);")
    assert replan(target, SEED) == []


def test_drop_table_is_destructive(target: DatabaseURL) -> None:
    apply(target, SEED + "\ncreate table extra (id int);")
    from atlas_operator.engine.declarative import DestructiveChangesError

    with pytest.raises(DestructiveChangesError, match="DROP TABLE `extra`"):
        apply(target, SEED, lint_destructive_error=True)
    assert apply(target, SEED, skip=frozenset({"drop_table"})) == []
    assert apply(target, SEED) == ["DROP TABLE `extra`"]


def test_rebuild_that_breaks_a_foreign_key_rolls_back(tmp_path: Path) -> None:
    # Foreign keys are enforced only on connections that ask for it (_fk=1, as in Atlas).
    target = parse_url(f"sqlite://{tmp_path / 'target.db'}?_fk=1")
    before = """
    create table parents (id integer primary key);
    create table children (id integer primary key, parent_id integer);
    """
    apply(target, before)
    conn = sqlite3.connect(target.sqlite_target()[0])
    conn.execute("INSERT INTO children VALUES (1, 99)")
    conn.commit()
    after = """
    create table parents (id integer primary key);
    create table children (id integer primary key, parent_id integer references parents (id));
    """
    report = schema_apply(target, after, default_dev_url(target), ApplyPolicy())
    assert report.error is not None
    assert "foreign key violation" in report.error
    assert "children" in report.error
    assert report.applied == []
    fks = conn.execute("SELECT * FROM pragma_foreign_key_list('children')").fetchall()
    assert fks == []
    assert conn.execute("SELECT parent_id FROM children").fetchall() == [(99,)]


def test_unsplittable_desired_sql_is_an_engine_error(target: DatabaseURL) -> None:
    with pytest.raises(EngineError, match=r"schema.sql: unclosed '\(' opened at line 2"):
        load_sql_on_dev(
            "create table a (id int);\ncreate table b (id int",
            default_dev_url(target),
            SQLiteDriver().scope_of(target),
            ApplyPolicy(),
        )


def test_views_and_triggers_are_modelled_not_unmanaged(target: DatabaseURL) -> None:
    sql = (
        "create table t (id int);\ncreate view v as select id from t;\n"
        "create trigger tr after insert on t begin select 1; end;"
    )
    scope = SQLiteDriver().scope_of(target)
    desired = load_sql_on_dev(sql, default_dev_url(target), scope, ApplyPolicy())
    assert desired.unmanaged == ()
    assert [o.describe() for o in desired.schemas[0].objects] == ["trigger tr on t", "view v"]
    assert (
        desired.sha256()
        != load_sql_on_dev(
            "create table t (id int);", default_dev_url(target), scope, ApplyPolicy()
        ).sha256()
    )


REBUILD_BEFORE = """
create table parents (id integer primary key, name varchar(10));
create table children (
  id integer primary key,
  parent_id integer references parents (id) on delete cascade
);
"""
REBUILD_AFTER = REBUILD_BEFORE.replace("name varchar(10)", "name text not null default ''")


def test_a_rebuild_plan_carries_the_foreign_keys_pragmas(target: DatabaseURL) -> None:
    """As Atlas plans it (sql/sqlite/migrate.go): the printed plan runs as a migration."""
    apply(target, REBUILD_BEFORE)
    pending = replan(target, REBUILD_AFTER)
    assert pending[0] == "PRAGMA foreign_keys = off"
    assert pending[-1] == "PRAGMA foreign_keys = on"
    assert pending.count("PRAGMA foreign_keys = off") == 1
    assert any(s.startswith("CREATE TABLE `new_parents`") for s in pending)
    # No rebuild, no pragmas.
    added = REBUILD_BEFORE + "create table other (id int);"
    assert not any("PRAGMA" in s for s in replan(target, added))


@pytest.mark.parametrize("tx_mode", ["file", "none"])
def test_applying_a_rebuild_keeps_referencing_rows_and_foreign_keys_on(
    tmp_path: Path, tx_mode: str
) -> None:
    from atlas_operator.engine.declarative import execute_plan, plan_apply

    target = parse_url(f"sqlite://{tmp_path / 'target.db'}?_fk=1")
    apply(target, REBUILD_BEFORE)
    conn = sqlite3.connect(target.sqlite_target()[0])
    conn.execute("INSERT INTO parents VALUES (1, 'p')")
    conn.execute("INSERT INTO children VALUES (1, 1)")
    conn.commit()
    driver = SQLiteDriver()
    policy = ApplyPolicy(tx_mode=tx_mode)  # type: ignore[arg-type]
    scope = driver.scope_of(target)
    desired = load_sql_on_dev(REBUILD_AFTER, default_dev_url(target), scope, policy)
    with driver.open(target) as session:
        assert session.query("PRAGMA foreign_keys") == [(1,)]
        plan = plan_apply(session, driver, desired, policy)
        assert plan.sql[0] == "PRAGMA foreign_keys = off"
        report = execute_plan(session, driver, plan, policy.tx_mode)
        assert report.error is None, report.error
        assert report.applied == plan.sql
        # Switched back on once the plan is done: neither left off nor the DROP's cascade.
        assert session.query("PRAGMA foreign_keys") == [(1,)]
    assert conn.execute("SELECT id, parent_id FROM children").fetchall() == [(1, 1)]
    assert replan(target, REBUILD_AFTER) == []
