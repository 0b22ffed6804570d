"""SQLite views and triggers on real database files: create, change, drop, views over
views, table rebuilds that keep their triggers and dependent views, exclude, skip,
HCL, bad input, and a re-plan that finds nothing.

The oracle is outside the engine: `sqlite_master` read with the sqlite3 module. A view
or trigger is created from the statement as written, so its row must equal the one of
a database where the desired SQL ran verbatim.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from atlas_operator.engine.declarative import (
    ApplyPolicy,
    DestructiveChangesError,
    DevDatabaseError,
    execute_plan,
    load_sql_on_dev,
    plan_apply,
    schema_apply,
)
from atlas_operator.engine.drivers.sqlite import SQLiteDriver
from atlas_operator.engine.drivers.sqlite.objects import normal_form
from atlas_operator.engine.model import Dependency, ObjectRef
from atlas_operator.engine.states import default_dev_url, load_state
from atlas_operator.engine.urls import DatabaseURL, parse_url

Row = tuple[str, str, str, str]


@pytest.fixture
def target(tmp_path: Path) -> DatabaseURL:
    return parse_url(f"sqlite://{tmp_path / 'target.db'}")


def apply(target: DatabaseURL, sql: str, **policy: object) -> list[str]:
    report = schema_apply(target, sql, default_dev_url(target), ApplyPolicy(**policy))  # type: ignore[arg-type]
    assert report.error is None, report.error
    return report.applied


def replan(target: DatabaseURL, sql: str, **policy: object) -> list[str]:
    report = schema_apply(
        target,
        sql,
        default_dev_url(target),
        ApplyPolicy(**policy),  # type: ignore[arg-type]
        dry_run=True,
    )
    return report.pending


def master(path: Path | str, kinds: tuple[str, ...] = ("view", "trigger")) -> list[Row]:
    """sqlite_master's rows of `kinds`, sorted: what the database itself holds."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master"
            f" WHERE type IN ({', '.join('?' for _ in kinds)})",
            kinds,
        ).fetchall()
    conn.close()
    return sorted(rows)


def verbatim(tmp_path: Path, sql: str) -> list[Row]:
    """The views and triggers of a fresh database on which `sql` ran as written."""
    path = tmp_path / f"verbatim-{uuid.uuid4().hex}.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(sql)
    conn.close()
    return master(path)


def converge(target: DatabaseURL, tmp_path: Path, sql: str, **policy: object) -> list[str]:
    """Applies `sql`, checks the views and triggers against a verbatim run and that a
    re-plan finds nothing; returns the statements that ran."""
    applied = apply(target, sql, **policy)
    assert master(path_of(target)) == verbatim(tmp_path, sql)
    assert replan(target, sql, **policy) == []
    return applied


def path_of(url: DatabaseURL) -> str:
    return url.sqlite_target()[0]


BASE = """
create table users (id integer primary key, name text, age int);
create table logs (msg text);
"""
VIEW = "CREATE VIEW adults as select id, name from users where age >= 18;\n"
TRIGGER = (
    "CREATE TRIGGER users_log after insert on users\n"
    "begin\n  insert into logs values ('new ' || new.name);\nend;\n"
)


def test_views_and_triggers_are_created_changed_and_dropped(
    target: DatabaseURL, tmp_path: Path
) -> None:
    converge(target, tmp_path, BASE)
    created = converge(target, tmp_path, BASE + VIEW + TRIGGER)
    assert created == [VIEW.strip().rstrip(";"), TRIGGER.strip().rstrip(";")]

    changed_view = VIEW.replace(">= 18", ">= 21")
    changed_trigger = TRIGGER.replace("'new '", "'added '")
    applied = converge(target, tmp_path, BASE + changed_view + changed_trigger)
    # No ALTER VIEW/TRIGGER in SQLite: each is dropped and created again.
    assert applied == [
        "DROP VIEW `adults`",
        changed_view.strip().rstrip(";"),
        "DROP TRIGGER `users_log`",
        changed_trigger.strip().rstrip(";"),
    ]
    with sqlite3.connect(path_of(target)) as conn:
        conn.execute("INSERT INTO users (name, age) VALUES ('ann', 30)")
        assert conn.execute("SELECT msg FROM logs").fetchall() == [("added ann",)]
        assert conn.execute("SELECT name FROM adults").fetchall() == [("ann",)]
    conn.close()

    dropped = converge(target, tmp_path, BASE)
    assert dropped == ["DROP TRIGGER `users_log`", "DROP VIEW `adults`"]


def test_layout_case_quoting_and_comments_change_nothing(target: DatabaseURL) -> None:
    apply(target, BASE + VIEW + TRIGGER)
    restyled = BASE + (
        'CREATE VIEW IF NOT EXISTS main."adults" AS\n'
        "  SELECT  `id`, [NAME]   -- who\n  FROM Users WHERE AGE>=18;\n"
        'CREATE TRIGGER users_log AFTER INSERT ON "USERS" FOR EACH ROW BEGIN\n'
        "  /* keep a trace */ INSERT INTO logs VALUES ('new '||NEW.name);\nEND;\n"
    )
    assert replan(target, restyled) == []
    # The case of a string literal is data: a change.
    assert replan(target, BASE + VIEW + TRIGGER.replace("'new '", "'NEW '")) == [
        "DROP TRIGGER `users_log`",
        TRIGGER.replace("'new '", "'NEW '").strip().rstrip(";"),
    ]


def test_normal_form() -> None:
    assert normal_form('CREATE TEMP VIEW IF NOT EXISTS main."V" AS SELECT "a b", x.y FROM t;') == (
        'create view v as select "a b", x.y from t'
    )
    assert normal_form("create view v as select count( * ) , 'A  b' from t where a<=1") == (
        "create view v as select count (*), 'A  b' from t where a <= 1"
    )
    assert normal_form("CREATE TRIGGER t AFTER INSERT ON x FOR EACH ROW BEGIN SELECT 1; END") == (
        normal_form("create trigger t after insert on x begin select 1; end;")
    )


def test_dependencies_are_read_from_the_sql(target: DatabaseURL) -> None:
    sql = BASE + (
        "create view adults as select u.id, u.name from users u where u.age >= 18;\n"
        'create view "Names" as select name from adults join logs on logs.msg = adults.name;\n'
        "create trigger names_insert instead of insert on names begin\n"
        "  insert into users (name) values (new.name);\nend;\n"
        "create trigger logs_guard before insert on logs begin select 1; end;\n"
    )
    scope = SQLiteDriver().scope_of(target)
    realm = load_sql_on_dev(sql, default_dev_url(target), scope, ApplyPolicy())

    def view(name: str) -> ObjectRef:
        return ObjectRef("view", "main", name)

    def table(name: str) -> ObjectRef:
        return ObjectRef("table", "main", name)

    def trigger(name: str, on: str) -> ObjectRef:
        return ObjectRef("trigger", "main", name, on)

    assert set(realm.dependencies) == {
        Dependency(view("adults"), table("users")),
        Dependency(view("Names"), view("adults")),
        Dependency(view("Names"), table("logs")),
        Dependency(trigger("names_insert", "Names"), view("Names")),
        Dependency(trigger("names_insert", "Names"), table("users")),
        Dependency(trigger("logs_guard", "logs"), table("logs")),
    }
    assert [(o.kind, o.name, o.table) for o in realm.schemas[0].objects] == [
        # The trigger's table is named as the view is, whatever case its SQL used.
        ("trigger", "names_insert", "Names"),
        ("trigger", "logs_guard", "logs"),
        ("view", "Names", None),
        ("view", "adults", None),
    ]


VIEWS_OVER_VIEWS = BASE + (
    "CREATE VIEW v1 as select id, name from users;\n"
    "CREATE VIEW v2 as select id, name from v1 where name is not null;\n"
    "CREATE VIEW v3 as select id from v2;\n"
    "CREATE TRIGGER v3_insert instead of insert on v3 begin select 1; end;\n"
)


def test_views_over_views_are_created_and_dropped_in_dependency_order(
    target: DatabaseURL, tmp_path: Path
) -> None:
    applied = converge(target, tmp_path, VIEWS_OVER_VIEWS)
    heads = [s.split(" as ")[0] for s in applied]
    assert heads[2:] == [
        "CREATE VIEW v1",
        "CREATE VIEW v2",
        "CREATE VIEW v3",
        "CREATE TRIGGER v3_insert instead of insert on v3 begin select 1; end",
    ]
    # A changed view is dropped and created at once: SQLite keeps no link from the
    # views reading it, which stay.
    changed = VIEWS_OVER_VIEWS.replace("from users;", "from users where id > 0;")
    assert converge(target, tmp_path, changed) == [
        "DROP VIEW `v1`",
        "CREATE VIEW v1 as select id, name from users where id > 0",
    ]
    dropped = converge(target, tmp_path, BASE)
    assert dropped == [
        "DROP TRIGGER `v3_insert`",
        "DROP VIEW `v3`",
        "DROP VIEW `v2`",
        "DROP VIEW `v1`",
    ]


REBUILD = """
create table users (id integer primary key, name text, age int);
create table logs (msg text);
create table other (id int);
CREATE VIEW adults as select id, name from users where age >= 18;
CREATE VIEW adult_names as select name from adults;
CREATE VIEW others as select id from other;
CREATE TRIGGER users_log after insert on users begin insert into logs values (new.name); end;
CREATE TRIGGER logs_count after insert on logs begin select count(*) from users; end;
CREATE TRIGGER other_log after insert on other begin select 1; end;
"""


def test_a_rebuilt_table_keeps_its_triggers_and_dependent_views(
    target: DatabaseURL, tmp_path: Path
) -> None:
    apply(target, REBUILD)
    before = master(path_of(target))
    with sqlite3.connect(path_of(target)) as conn:
        conn.execute("INSERT INTO users (name, age) VALUES ('ann', 30)")
    conn.close()
    changed = REBUILD.replace("age int", "age int not null default 0")
    pending = replan(target, changed)
    rebuild = pending.index("CREATE TABLE `new_users` (\n  `id` integer,\n  `name` text,\n"
                            "  `age` int NOT NULL DEFAULT 0,\n  PRIMARY KEY (`id`)\n)")  # fmt: skip
    # Everything naming `users` goes before the rebuild and comes back after it; the
    # objects of the other tables stay.
    assert set(pending[1:rebuild]) == {
        "DROP TRIGGER `users_log`",
        "DROP TRIGGER `logs_count`",
        "DROP VIEW `adults`",
        "DROP VIEW `adult_names`",
    }
    assert pending.index("DROP VIEW `adult_names`") < pending.index("DROP VIEW `adults`")
    created = [s.split(" as ")[0].split(" after")[0] for s in pending[rebuild + 4 : -1]]
    assert created == [
        "CREATE VIEW adults",
        "CREATE VIEW adult_names",
        "CREATE TRIGGER logs_count",
        "CREATE TRIGGER users_log",
    ]
    assert not any("other" in s for s in pending)
    # Applied: the database holds the very same views and triggers (read from
    # sqlite_master, not through the engine), and they work on the kept rows.
    apply(target, changed)
    assert master(path_of(target)) == before
    assert replan(target, changed) == []
    with sqlite3.connect(path_of(target)) as conn:
        assert conn.execute("SELECT name FROM adult_names").fetchall() == [("ann",)]
        conn.execute("INSERT INTO users (name) VALUES ('bob')")
        assert conn.execute("SELECT msg FROM logs ORDER BY 1").fetchall() == [("ann",), ("bob",)]
    conn.close()


def test_a_rebuild_and_a_changed_dependent_view_in_one_plan(
    target: DatabaseURL, tmp_path: Path
) -> None:
    apply(target, REBUILD)
    changed = REBUILD.replace("age int", "age text").replace(">= 18", ">= '18'")
    applied = converge(target, tmp_path, changed)
    assert applied.count("DROP VIEW `adults`") == 1
    assert sum(s.startswith("CREATE VIEW adults") for s in applied) == 1
    assert applied.index("DROP VIEW `adults`") < applied.index("DROP TABLE `users`")


def test_exclude_leaves_views_and_triggers_alone(target: DatabaseURL) -> None:
    apply(target, BASE + VIEW + TRIGGER)
    assert replan(target, BASE, exclude=("*[type=view]",)) == ["DROP TRIGGER `users_log`"]
    assert replan(target, BASE, exclude=("*[type=trigger]",)) == ["DROP VIEW `adults`"]
    assert replan(target, BASE, exclude=("*[type=view|trigger]",)) == []
    assert replan(target, BASE, exclude=("adults", "users.users_log[type=trigger]")) == []
    # Excluded on the desired side too: nothing is created.
    fresh = parse_url(f"sqlite://{Path(path_of(target)).with_name('fresh.db')}")
    apply(fresh, BASE)
    assert replan(fresh, BASE + VIEW + TRIGGER, exclude=("*[type=view|trigger]",)) == []


def test_skip_keys_leave_views_and_triggers_alone(target: DatabaseURL) -> None:
    apply(target, BASE + VIEW + TRIGGER)
    assert replan(target, BASE, skip=frozenset({"drop_view", "drop_trigger"})) == []
    changed = BASE + VIEW.replace("18", "21") + TRIGGER.replace("'new '", "'n '")
    assert replan(target, changed, skip=frozenset({"modify_view", "modify_trigger"})) == []
    added = BASE + VIEW + TRIGGER + "create view names as select name from users;"
    assert replan(target, added, skip=frozenset({"add_view"})) == []
    # A rebuild's drops and creates belong to it: skipping drops does not skip them.
    rebuilt = (BASE + VIEW + TRIGGER).replace("age int", "age int not null default 0")
    pending = replan(target, rebuilt, skip=frozenset({"drop_view", "drop_trigger"}))
    assert "DROP VIEW `adults`" in pending
    assert "DROP TRIGGER `users_log`" in pending
    # Skipping the table change skips what it would re-create.
    assert replan(target, rebuilt, skip=frozenset({"modify_table"})) == []


def test_drops_are_destructive_but_re_creations_are_not(target: DatabaseURL) -> None:
    apply(target, BASE + VIEW + TRIGGER)
    with pytest.raises(DestructiveChangesError, match="DROP VIEW `adults`"):
        apply(target, BASE + TRIGGER, lint_destructive_error=True)
    rebuilt = (BASE + VIEW + TRIGGER).replace("age int", "age int not null default 0")
    assert "DROP VIEW `adults`" in apply(target, rebuilt, lint_destructive_error=True)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "create trigger broken after insert on users begin\n"
            "  inser into logs values (1);\nend;",
            r'executing statement: "create trigger broken after insert on users begin\n'
            r'  inser into logs values \(1\);\nend;": near "inser": syntax error',
        ),
        (
            "create view broken as select id from missing;",
            'executing statement: "create view broken as select id from missing;":'
            " error in view broken: no such table: main.missing",
        ),
        (
            "create trigger broken after insert on users begin\n"
            "  insert into missing values (1);\nend;",
            "error in trigger broken: no such table: main.missing",
        ),
        (
            "create view broken as select nope from users;",
            "error in view broken: no such column: nope",
        ),
    ],
)
def test_bad_views_and_triggers_fail_on_the_dev_database(
    target: DatabaseURL, sql: str, message: str
) -> None:
    apply(target, BASE + VIEW)
    before = master(path_of(target), ("table", "index", "view", "trigger"))
    desired = BASE.strip() + "\n" + sql + "\n" + VIEW
    with pytest.raises(DevDatabaseError, match=message) as raised:
        apply(target, desired)
    assert str(raised.value).endswith("(schema.sql line 3)")
    assert master(path_of(target), ("table", "index", "view", "trigger")) == before


def test_statements_naming_what_comes_later_in_the_file_are_retried(
    target: DatabaseURL, tmp_path: Path
) -> None:
    statements = [
        "CREATE VIEW v2 as select id from v1;\n",
        "CREATE TRIGGER t_log after insert on t begin insert into log values (new.id); end;\n",
        "CREATE VIEW v1 as select id from t;\n",
        "create table t (id int);\n",
        "create table log (id int);\n",
    ]
    apply(target, "".join(statements))
    assert master(path_of(target)) == verbatim(tmp_path, "".join(reversed(statements)))
    assert replan(target, "".join(statements)) == []


def test_a_dev_database_holding_a_view_is_not_clean(tmp_path: Path) -> None:
    dev_path = tmp_path / "dev.db"
    with sqlite3.connect(dev_path) as conn:
        conn.execute("CREATE VIEW leftover AS SELECT 1 AS one")
    conn.close()
    dev = parse_url(f"sqlite://{dev_path}")
    target = parse_url(f"sqlite://{tmp_path / 'target.db'}")
    with pytest.raises(DevDatabaseError, match="is not clean"):
        schema_apply(target, BASE, dev, ApplyPolicy())


LITE_HCL = """
schema "main" {}
table "orders" {
  schema = schema.main
  column "id" { type = integer }
  column "amount" {
    type = integer
    null = true
  }
}
view "big" {
  schema = schema.main
  as     = "SELECT id FROM orders WHERE amount > 10"
}
trigger "orders_amount" {
  on = table.orders
  after { update_of = [table.orders.column.amount] }
  for  = ROW
  when = "NEW.amount > 10"
  as   = "BEGIN SELECT 1; END"
}
trigger "big_insert" {
  on = view.big
  instead_of { insert = true }
  as = "BEGIN INSERT INTO orders(id) VALUES (NEW.id); END"
}
"""
LITE_SQL = """
create table orders (id integer not null, amount integer);
create view big as select id from orders where amount > 10;
create trigger orders_amount after update of amount on orders for each row
  when new.amount > 10 begin select 1; end;
create trigger big_insert instead of insert on big
  begin insert into orders(id) values (new.id); end;
"""


def test_hcl_views_and_triggers_apply_and_match_the_same_sql(
    target: DatabaseURL, tmp_path: Path
) -> None:
    hcl_file = tmp_path / "schema.lite.hcl"
    hcl_file.write_text(LITE_HCL)
    driver = SQLiteDriver()

    def plan_or_apply(apply: bool) -> list[str]:
        desired = load_state(
            f"file://{hcl_file}", dev_url=None, target=target, policy=ApplyPolicy()
        )
        with driver.open(target) as session:
            plan = plan_apply(session, driver, desired, ApplyPolicy())
            if not apply:
                return plan.sql
            report = execute_plan(session, driver, plan, "file")
            assert report.error is None, report.error
            return report.applied

    applied = plan_or_apply(apply=True)
    assert "CREATE VIEW `big` AS SELECT id FROM orders WHERE amount > 10" in applied
    assert plan_or_apply(apply=False) == []
    assert [(kind, name, table) for kind, name, table, _ in master(path_of(target))] == [
        ("trigger", "big_insert", "big"),
        ("trigger", "orders_amount", "orders"),
        ("view", "big", "big"),
    ]
    # The same objects written as SQL (other quoting, case and layout) plan nothing.
    assert replan(target, LITE_SQL) == []


def test_a_rebuild_never_loses_an_excluded_trigger(target: DatabaseURL) -> None:
    """An excluded trigger is not the plan's to re-create: the rebuild that would take
    it with the old table fails, naming it, and the database is left as it was."""
    apply(target, REBUILD)
    before = master(path_of(target))
    changed = REBUILD.replace("age int", "age int not null default 0")
    report = schema_apply(
        target,
        changed,
        default_dev_url(target),
        ApplyPolicy(exclude=("users.users_log[type=trigger]",)),
    )
    assert report.error is not None
    assert "trigger users_log" in report.error
    assert "does not manage" in report.error
    assert master(path_of(target)) == before


ON_VIEW = """
create table t (id int, v text);
create view v as select id, v from t;
create trigger vi instead of insert on v begin insert into t values (new.id, new.v); end;
create trigger vu instead of update of v on v begin update t set v = new.v where id = old.id; end;
"""


def test_a_changed_view_keeps_the_triggers_on_it(target: DatabaseURL, tmp_path: Path) -> None:
    """DROP VIEW deletes the INSTEAD OF triggers on the view: they are dropped first and
    created again after it, also when they change in the same plan."""
    converge(target, tmp_path, ON_VIEW)
    changed = ON_VIEW.replace("from t;", "from t where id > 0;")
    applied = converge(target, tmp_path, changed)
    assert applied.index("DROP TRIGGER `vi`") < applied.index("DROP VIEW `v`")
    with sqlite3.connect(path_of(target)) as conn:
        conn.execute("INSERT INTO v VALUES (1, 'a')")
        assert conn.execute("SELECT id, v FROM t").fetchall() == [(1, "a")]
    conn.close()
    renamed = (
        changed.replace("create view v as", "create view v(a, b) as")
        .replace("new.id, new.v", "new.a, new.b")
        .replace("update of v on v", "update of b on v")
        .replace("set v = new.v where id = old.id", "set v = new.b where id = old.a")
    )
    converge(target, tmp_path, renamed)
    converge(target, tmp_path, ON_VIEW)


def test_a_changed_view_never_loses_an_excluded_trigger(target: DatabaseURL) -> None:
    apply(target, ON_VIEW)
    before = master(path_of(target))
    report = schema_apply(
        target,
        ON_VIEW.replace("from t;", "from t where id > 0;"),
        default_dev_url(target),
        ApplyPolicy(exclude=("v.vi[type=trigger]",)),
    )
    assert report.error is not None
    assert "trigger vi" in report.error
    assert master(path_of(target)) == before


def test_a_trigger_goes_with_its_dropped_table_next_to_a_rebuild(target: DatabaseURL) -> None:
    """The check for triggers a rebuild would lose leaves those whose table the plan
    drops for good: they go as the desired state says."""
    apply(target, REBUILD)
    changed = REBUILD.replace("age int", "age int not null default 0").replace(
        "CREATE TRIGGER other_log after insert on other begin select 1; end;", ""
    )
    changed = changed.replace("create table other (id int);", "").replace(
        "CREATE VIEW others as select id from other;", ""
    )
    apply(target, changed, exclude=("other.other_log[type=trigger]",))
    assert [r[1] for r in master(path_of(target), ("table", "trigger"))] == [
        "logs",
        "users",
        "logs_count",
        "users_log",
    ]


def test_the_case_of_a_views_column_names_is_a_change(target: DatabaseURL, tmp_path: Path) -> None:
    """Names fold their case in the normal form, but the names of a view's columns are
    what clients read: an alias's or a column list's case is compared."""
    base_sql = "create table t (id int);\n"
    converge(target, tmp_path, base_sql + 'create view v as select id as "MyId" from t;')
    converge(target, tmp_path, base_sql + "create view v as select id as myid from t;")
    converge(target, tmp_path, base_sql + "create view v(A) as select id from t;")
    converge(target, tmp_path, base_sql + "create view v(a) as select id from t;")
    # The case of a name elsewhere still changes nothing.
    assert replan(target, base_sql + "CREATE VIEW v(a) AS SELECT ID FROM T") == []


def test_quoted_value_words_and_blobs_keep_their_meaning() -> None:
    assert normal_form("create view v as select current_date") != normal_form(
        'create view v as select "current_date"'
    )
    assert normal_form('create view v as select "Current_Date"') == normal_form(
        "create view v as select [current_date]"
    )
    # A blob literal is one token; an identifier followed by a string is an alias.
    assert normal_form("create view v as select x'ab'") != normal_form(
        "create view v as select x 'ab'"
    )
