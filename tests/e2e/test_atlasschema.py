"""AtlasSchema end to end: the operator process reconciles resources created with
kubectl, against real PostgreSQL, MariaDB and SQLite (upstream §5.2 items 1–8)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.urls import DatabaseURL
from tests.rig.databases import Databases, run
from tests.rig.kubelet import FakeKubelet
from tests.rig.operator import Kube, OperatorProcess, condition, configmap, resource, secret
from tests.test_cli_migrate import url_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
USERS = """create table users (
  id int not null auto_increment,
  name varchar(255) not null,
  email varchar(255) unique not null,
  short_bio varchar(255) not null,
  primary key (id)
);
"""
SEED_DESCRIBE = [
    ("id", "int(11)", "NO", "PRI", None, "auto_increment"),
    ("name", "varchar(255)", "NO", "", None, ""),
    ("email", "varchar(255)", "NO", "UNI", None, ""),
    ("short_bio", "varchar(255)", "NO", "", None, ""),
]


def describe(url: DatabaseURL, table: str) -> list[tuple[Any, ...]]:
    """`describe <table>` on MariaDB (int shows as int(11) there, `int` on MySQL 8)."""
    return [tuple(row[:6]) for row in run(url, f"DESCRIBE `{table}`")]


def columns(url: DatabaseURL, table: str) -> list[str]:
    if url.driver == "postgres":
        query = (
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_name = '{table}' ORDER BY ordinal_position"
        )
    elif url.driver == "sqlite":
        query = f"SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
    else:
        query = (
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            f"'{url.schema}' AND table_name = '{table}' ORDER BY ordinal_position"
        )
    return [str(row[0]) for row in run(url, query)]


def transition_time(obj: dict[str, Any]) -> str:
    return str(condition(obj)["lastTransitionTime"])


def schema_resource(name: str, sql: str, **spec: Any) -> dict[str, Any]:
    return resource(
        "AtlasSchema",
        name,
        {"urlFrom": {"secretKeyRef": {"name": f"{name}-db", "key": "url"}}, "schema": {"sql": sql}}
        | spec,
    )


@pytest.mark.parametrize("scheme", ["mysql", "mariadb"])
def test_getting_started_mysql_schema(
    operator: OperatorProcess, kube: Kube, dbs: Databases, kubelet: FakeKubelet, scheme: str
) -> None:
    url = dbs.new("mariadb")
    target = url_text(url).replace("mariadb://", f"{scheme}://", 1)
    target = target.replace("mysql://", f"{scheme}://", 1)
    manifest = yaml.safe_load((EXAMPLES / "atlasschema-mysql.yaml").read_text())
    kube.apply(secret("mysql-credentials", url=target), manifest)
    done = kube.wait_ready("atlasschema", "atlasschema-mysql")
    assert condition(done)["reason"] == "Applied"
    assert condition(done)["message"].startswith(
        "The schema has been applied successfully. Apply response: "
    )
    assert "CREATE TABLE `users`" in condition(done)["message"]
    assert done["status"]["last_applied"] > 0
    assert done["status"]["failed"] == 0
    assert describe(url, "users") == SEED_DESCRIBE
    reasons = {(e["type"], e["reason"]) for e in kube.events("atlasschema-mysql")}
    assert ("Normal", "Applied") in reasons
    assert url.password is not None
    assert url.password not in operator.logs()


def test_hash_is_stable_for_comments_and_flips_on_change(
    operator: OperatorProcess, kube: Kube, dbs: Databases
) -> None:
    url, dev = dbs.new("postgres"), dbs.new("postgres")
    sql = "create table t1 (id int primary key);"
    kube.apply(
        secret("hash-db", url=url_text(url)), schema_resource("hash", sql, devURL=url_text(dev))
    )
    first = kube.wait_ready("atlasschema", "hash", timeout=90)
    first_hash = first["status"]["observed_hash"]
    assert len(first_hash) == 44
    assert first_hash.endswith("=")
    time.sleep(1.1)
    kube.patch("atlasschema", "hash", {"spec": {"schema": {"sql": "-- a comment\n" + sql}}})
    same = kube.wait_for(
        "atlasschema",
        "hash",
        lambda o: o["status"].get("observedGeneration") == 2 and condition(o)["status"] == "True",
    )
    assert same["status"]["observed_hash"] == first_hash
    sql2 = "create table t1 (id int primary key, c1 int);"
    kube.patch("atlasschema", "hash", {"spec": {"schema": {"sql": sql2}}})
    second = kube.wait_for(
        "atlasschema",
        "hash",
        lambda o: (
            o["status"].get("observed_hash") != first_hash and condition(o)["status"] == "True"
        ),
    )
    assert transition_time(second) != transition_time(first)  # it went False, then True
    assert columns(url, "t1") == ["id", "c1"]
    assert "c1" in condition(second)["message"]


def test_configmap_schema_with_exclude_lint_and_skip(
    operator: OperatorProcess, kube: Kube, dbs: Databases, kubelet: FakeKubelet
) -> None:
    url = dbs.new("mariadb")
    run(url, "CREATE TABLE ignore_me (c int)")
    spec = {
        "urlFrom": {"secretKeyRef": {"name": "cm-db", "key": "url"}},
        "schema": {"configMapKeyRef": {"name": "cm-schema", "key": "schema.sql"}},
        "exclude": ["ignore_me"],
        "policy": {
            "lint": {"destructive": {"error": True}},
            "diff": {"skip": {"drop_column": True}},
        },
    }
    kube.apply(
        secret("cm-db", url=url_text(url)),
        configmap("cm-schema", **{"schema.sql": USERS}),
        resource("AtlasSchema", "cm", spec),
    )
    first = kube.wait_ready("atlasschema", "cm")
    assert describe(url, "users") == SEED_DESCRIBE
    assert columns(url, "ignore_me") == ["c"]
    time.sleep(1.1)
    with_phone = USERS.replace(
        "short_bio varchar(255) not null,",
        "short_bio varchar(255) not null,\n  phone varchar(255) not null,",
    )
    kube.apply(configmap("cm-schema", **{"schema.sql": with_phone}))
    second = kube.wait_for(
        "atlasschema",
        "cm",
        lambda o: "phone" in columns(url, "users") and condition(o)["status"] == "True",
    )
    assert transition_time(second) != transition_time(first)
    assert second["status"]["observed_hash"] != first["status"]["observed_hash"]


def test_skip_drop_column_keeps_the_column(
    operator: OperatorProcess, kube: Kube, dbs: Databases, kubelet: FakeKubelet
) -> None:
    url = dbs.new("mariadb")
    policy = {"diff": {"skip": {"drop_column": True}}}
    kube.apply(secret("skip-db", url=url_text(url)), schema_resource("skip", USERS, policy=policy))
    first = kube.wait_ready("atlasschema", "skip")
    without_bio = USERS.replace("  short_bio varchar(255) not null,\n", "")
    kube.patch("atlasschema", "skip", {"spec": {"schema": {"sql": without_bio}}})
    second = kube.wait_for(
        "atlasschema",
        "skip",
        lambda o: (
            o["status"].get("observed_hash") != first["status"]["observed_hash"]
            and condition(o)["status"] == "True"
        ),
    )
    assert condition(second)["reason"] == "Applied"
    assert "short_bio" in columns(url, "users")


def test_destructive_lint_policy_error(
    operator: OperatorProcess, kube: Kube, dbs: Databases, kubelet: FakeKubelet
) -> None:
    url = dbs.new("mariadb")
    policy = {"lint": {"destructive": {"error": True}}}
    kube.apply(secret("lint-db", url=url_text(url)), schema_resource("lint", USERS, policy=policy))
    kube.wait_ready("atlasschema", "lint")
    without_bio = USERS.replace("  short_bio varchar(255) not null,\n", "")
    kube.patch("atlasschema", "lint", {"spec": {"schema": {"sql": without_bio}}})
    failed = kube.wait_reason("atlasschema", "lint", "LintPolicyError")
    message = condition(failed)["message"]
    assert message.startswith("destructive changes detected:")
    assert "- ALTER TABLE `users` DROP COLUMN `short_bio`" in message
    assert condition(failed, "Stalled")["status"] == "True"
    assert "short_bio" in columns(url, "users")


def test_concurrent_index_in_the_ready_message(
    operator: OperatorProcess, kube: Kube, dbs: Databases
) -> None:
    url = dbs.new("postgres")
    table = "create table users (id int primary key, name text);"
    policy = {"diff": {"concurrent_index": {"create": True, "drop": True}}}
    dev = dbs.new("postgres")
    kube.apply(
        secret("ci-db", url=url_text(url)),
        schema_resource("ci", table, policy=policy, devURL=url_text(dev)),
    )
    kube.wait_ready("atlasschema", "ci")
    kube.patch(
        "atlasschema",
        "ci",
        {"spec": {"schema": {"sql": table + "\ncreate index users_name on users (name);"}}},
    )
    added = kube.wait_for(
        "atlasschema", "ci", lambda o: "CREATE INDEX CONCURRENTLY" in condition(o)["message"]
    )
    assert condition(added)["status"] == "True"
    kube.patch("atlasschema", "ci", {"spec": {"schema": {"sql": table}}})
    kube.wait_for(
        "atlasschema", "ci", lambda o: "DROP INDEX CONCURRENTLY" in condition(o)["message"]
    )


def test_backoff_limit_counts_failures_then_recovers(
    operator: OperatorProcess, kube: Kube, tmp_path: Path
) -> None:
    spec = {"schema": {"sql": "create table t (id int);"}, "backoffLimit": 5}
    kube.apply(resource("AtlasSchema", "backoff", spec))
    failing = kube.wait_for(
        "atlasschema", "backoff", lambda o: o["status"].get("failed", 0) >= 3, timeout=40
    )
    assert condition(failing)["reason"] == "ReadSchema"
    assert "no target database defined" in condition(failing)["message"]
    assert failing["status"]["failed"] == 3  # 0 s, 5 s, 15 s: linear failed × 5 s
    sqlite = tmp_path / "backoff.db"
    kube.patch("atlasschema", "backoff", {"spec": {"url": f"sqlite://{sqlite}"}})
    done = kube.wait_ready("atlasschema", "backoff")
    assert done["status"]["failed"] == 0


def test_first_run_destructive_is_refused_unless_excluded(
    operator: OperatorProcess, kube: Kube, tmp_path: Path
) -> None:
    db = tmp_path / "first.db"
    run_sqlite(db, "CREATE TABLE legacy (id int)")
    spec = {"url": f"sqlite://{db}", "schema": {"sql": "create table t (id int);"}}
    kube.apply(resource("AtlasSchema", "first", spec))
    refused = kube.wait_reason("atlasschema", "first", "FirstRunDestructive")
    message = condition(refused)["message"]
    assert "destructive changes detected:\n- DROP TABLE `legacy`" in message
    assert "first run of a schema must not contain destructive changes" in message
    assert sqlite_tables(db) == ["legacy"]
    warnings = [e for e in kube.events("first") if e["reason"] == "FirstRunDestructive"]
    assert warnings
    assert warnings[0]["type"] == "Warning"
    kube.patch("atlasschema", "first", {"spec": {"exclude": ["legacy"]}})
    kube.wait_ready("atlasschema", "first")
    assert sqlite_tables(db) == ["legacy", "t"]


def run_sqlite(path: Path, sql: str) -> None:
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute(sql)


def sqlite_tables(path: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        return [str(r[0]) for r in rows]


def test_two_databases_of_one_mariadb_server_apply_concurrently(
    operator: OperatorProcess, kube: Kube, dbs: Databases
) -> None:
    """Issue 12, item 4: the declarative apply lock is per target database. Atlas's
    server-wide `atlas_schema_apply` is held by someone else for the whole test, and both
    resources (sharing one dev database too) still apply, with no lock failure."""
    one, two, dev = dbs.new("mariadb"), dbs.new("mariadb"), dbs.new("mariadb")
    driver = driver_for(dev)
    with driver.open(dev) as holder, driver.lock(holder, "atlas_schema_apply"):
        kube.apply(
            secret("one-db", url=url_text(one)),
            secret("two-db", url=url_text(two)),
            schema_resource("one", USERS, devURL=url_text(dev)),
            schema_resource("two", USERS.replace("users", "members"), devURL=url_text(dev)),
        )
        done = [kube.wait_ready("atlasschema", name, timeout=90) for name in ("one", "two")]
    for obj in done:
        assert condition(obj)["reason"] == "Applied"
        assert obj["status"]["failed"] == 0
    assert describe(one, "users") == SEED_DESCRIBE
    assert describe(two, "members") == SEED_DESCRIBE
    for name in ("one", "two"):
        reasons = {e["reason"] for e in kube.events(name)}
        assert not reasons & {"ApplyingSchema", "Error", "TransientErr"}, reasons
    assert run(dev, "SHOW TABLES") == []  # the shared dev database is left empty


OBJECTS = """
create type status as enum ('active', 'inactive');
create sequence order_numbers start 1000;
create table orders (
  id bigint primary key default nextval('order_numbers'),
  status status not null default 'active',
  updated_at timestamptz not null default now()
);
create function set_updated_at() returns trigger language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end $$;
create trigger orders_updated_at before update on orders
  for each row execute function set_updated_at();
create view active_orders as select id, updated_at from orders where status = 'active';
"""


def test_postgres_objects_reach_ready_and_replan_nothing(
    operator: OperatorProcess, kube: Kube, dbs: Databases
) -> None:
    from atlas_operator.engine.declarative import ApplyPolicy, schema_apply

    url, dev = dbs.new("postgres"), dbs.new("postgres")
    kube.apply(
        secret("objects-db", url=url_text(url)),
        schema_resource("objects", OBJECTS, devURL=url_text(dev)),
    )
    done = kube.wait_ready("atlasschema", "objects", timeout=90)
    message = condition(done)["message"]
    assert condition(done)["reason"] == "Applied"
    assert "not managed" not in message
    assert "CREATE TRIGGER orders_updated_at" in message
    run(url, "insert into orders default values")
    run(url, "update orders set status = 'inactive'")
    assert run(url, "select id, updated_at > now() - interval '1 minute' from orders") == [
        (1000, True)
    ]
    assert run(url, "select count(*) from active_orders") == [(0,)]
    again = schema_apply(url, OBJECTS, dev, ApplyPolicy(), dry_run=True)
    assert again.pending == []


MARIADB_OBJECTS = """
create table orders (
  id int not null auto_increment primary key,
  amount decimal(10,2) not null,
  updated_at datetime null
);
create function with_tax(amount decimal(10,2)) returns decimal(10,2) deterministic
  return amount * 1.2;
create view taxed_orders as select id, with_tax(amount) as gross from orders;
DELIMITER //
create trigger orders_touch before update on orders for each row
begin
  set new.updated_at = now();
end//
DELIMITER ;
"""


def test_mariadb_objects_reach_ready_and_replan_nothing(
    operator: OperatorProcess, kube: Kube, dbs: Databases
) -> None:
    from atlas_operator.engine.declarative import ApplyPolicy, schema_apply

    url, dev = dbs.new("mariadb"), dbs.new("mariadb")
    kube.apply(
        secret("mariadb-objects-db", url=url_text(url)),
        schema_resource("mariadb-objects", MARIADB_OBJECTS, devURL=url_text(dev)),
    )
    done = kube.wait_ready("atlasschema", "mariadb-objects", timeout=90)
    assert condition(done)["reason"] == "Applied"
    assert "not managed" not in condition(done)["message"]
    run(url, "insert into orders (amount) values (10)")
    run(url, "update orders set amount = 20")
    assert run(
        url,
        "select v.gross, o.updated_at is not null from taxed_orders v join orders o using (id)",
    ) == [(24, 1)]
    names = run(
        url,
        "select routine_name from information_schema.routines where routine_schema = database()"
        " union all select trigger_name from information_schema.triggers"
        " where trigger_schema = database() union all select table_name"
        " from information_schema.views where table_schema = database() order by 1",
    )
    assert [n for (n,) in names] == ["orders_touch", "taxed_orders", "with_tax"]
    again = schema_apply(url, MARIADB_OBJECTS, dev, ApplyPolicy(), dry_run=True)
    assert again.pending == []


SQLITE_OBJECTS = """
create table orders (id integer primary key, amount real not null, touched integer);
create view big_orders as select id, amount from orders where amount > 100;
create trigger orders_touch after update of amount on orders
begin
  update orders set touched = 1 where id = new.id;
end;
"""


def test_sqlite_objects_reach_ready_and_replan_nothing(
    operator: OperatorProcess, kube: Kube, dbs: Databases
) -> None:
    from atlas_operator.engine.declarative import ApplyPolicy, schema_apply
    from atlas_operator.engine.urls import parse_url

    url = dbs.new("sqlite")
    kube.apply(
        secret("sqlite-objects-db", url=url_text(url)),
        schema_resource("sqlite-objects", SQLITE_OBJECTS),
    )
    done = kube.wait_ready("atlasschema", "sqlite-objects", timeout=90)
    assert condition(done)["reason"] == "Applied"
    assert "not managed" not in condition(done)["message"]
    run(url, "insert into orders (id, amount) values (1, 50)")
    run(url, "update orders set amount = 500")
    assert run(url, "select id, touched from orders") == [(1, 1)]
    assert run(url, "select count(*) from big_orders") == [(1,)]
    kinds = run(url, "select type, name from sqlite_master where type in ('view', 'trigger')")
    assert sorted(kinds) == [("trigger", "orders_touch"), ("view", "big_orders")]
    dev = parse_url("sqlite://dev?mode=memory")
    again = schema_apply(url, SQLITE_OBJECTS, dev, ApplyPolicy(), dry_run=True)
    assert again.pending == []
