"""AtlasMigration end to end (upstream §5.2 items 30–32, the seed's Getting Started)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from atlas_operator.engine.migrate.dir import MigrationDir
from atlas_operator.operator.dirstate import unarchive
from tests.rig.databases import Databases, run
from tests.rig.operator import Kube, OperatorProcess, condition, configmap, resource, secret
from tests.test_cli_migrate import url_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEED_D_PLUS = [
    ("id", "integer", "NO", "nextval('users_seq'::regclass)"),
    ("name", "character varying", "NO", None),
    ("email", "character varying", "NO", None),
    ("short_bio", "character varying", "NO", None),
]
V1 = "create table t1 (id int primary key);\n"
V2 = "create table t2 (id int primary key);\n"


def pg_columns(url: Any, table: str) -> list[tuple[Any, ...]]:
    return run(
        url,
        "SELECT column_name, data_type, is_nullable, column_default FROM "
        f"information_schema.columns WHERE table_name = '{table}' ORDER BY ordinal_position",
    )


def directory(files: dict[str, str]) -> dict[str, str]:
    """The files plus a correct atlas.sum."""
    built = MigrationDir.from_mapping(dict(files))
    return {**files, "atlas.sum": built.computed_sum().marshal().decode()}


@pytest.mark.parametrize("example", ["atlasmigration.yaml", "atlasmigration-inline.yaml"])
def test_getting_started_postgres_migration(
    operator: OperatorProcess, kube: Kube, dbs: Databases, example: str
) -> None:
    url = dbs.new("postgres")
    kube.apply(
        secret("postgres-credentials", url=url_text(url)),
        (EXAMPLES / "migrationdir.yaml").read_text(),
        (EXAMPLES / example).read_text(),
    )
    done = kube.wait_ready("atlasmigration", "atlasmigration-sample")
    assert done["status"]["lastAppliedVersion"] == "20230316085611"
    assert condition(done)["reason"] == "Applied"
    assert len(done["status"]["observed_hash"]) == 64
    assert [c[:4] for c in pg_columns(url, "users")] == SEED_D_PLUS
    state = kube.get("secret", "io.atlasgo.db.v1.atlasmigration-sample.latest")
    assert state is not None
    assert state["type"] == "atlasgo.io/db.v1"
    assert state["metadata"]["labels"] == {
        "name": "atlasmigration-sample",
        "owner": "atlasgo.io",
    }
    assert state["metadata"]["ownerReferences"][0]["kind"] == "AtlasMigration"
    stored = unarchive(base64.b64decode(state["data"]["migrations.tar.gz"]))
    assert [f.name for f in stored.files] == ["20230316085611.sql"]
    events = [(e["reason"], e["message"]) for e in kube.events("atlasmigration-sample")]
    assert ("Applied", "Version 20230316085611 applied") in events
    # Nothing pending: no dev database is ever created.
    assert kube.items("deployments") == []


def migration_resource(name: str, **spec: Any) -> dict[str, Any]:
    base = {
        "urlFrom": {"secretKeyRef": {"name": f"{name}-db", "key": "url"}},
        "dir": {"configMapRef": {"name": f"{name}-dir"}},
    }
    return resource("AtlasMigration", name, base | spec)


def test_configmap_change_applies_then_downgrade_is_refused_then_allowed(
    operator: OperatorProcess, kube: Kube, dbs: Databases
) -> None:
    url, dev = dbs.new("mariadb"), dbs.new("mariadb")
    v1 = directory({"1_v1.sql": V1})
    v2 = directory({"1_v1.sql": V1, "2_v2.sql": V2})
    kube.apply(
        secret("mig-db", url=url_text(url)),
        configmap("mig-dir", **v1),
        migration_resource("mig", devURL=url_text(dev)),
    )
    first = kube.wait_ready("atlasmigration", "mig")
    assert first["status"]["lastAppliedVersion"] == "1"
    kube.apply(configmap("mig-dir", **v2))
    second = kube.wait_for(
        "atlasmigration",
        "mig",
        lambda o: o["status"].get("lastAppliedVersion") == "2" and condition(o)["status"] == "True",
    )
    assert (
        condition(second, "Ready")["lastTransitionTime"] >= condition(first)["lastTransitionTime"]
    )
    assert run(url, "SELECT count(*) FROM information_schema.tables WHERE table_name = 't2'") == [
        (1,)
    ]
    kube.apply(configmap("mig-dir", **v1))
    refused = kube.wait_reason("atlasmigration", "mig", "ProtectedFlowError")
    assert condition(refused)["message"] == (
        "migrate down is not allowed, set `migrateDown.allow` to true to allow downgrade"
    )
    kube.patch(
        "atlasmigration", "mig", {"spec": {"protectedFlows": {"migrateDown": {"allow": True}}}}
    )
    kube.wait_for(
        "atlasmigration",
        "mig",
        lambda o: "allow cannot be true without autoApprove" in condition(o)["message"],
    )
    kube.patch(
        "atlasmigration",
        "mig",
        {"spec": {"protectedFlows": {"migrateDown": {"allow": True, "autoApprove": True}}}},
    )
    down = kube.wait_for(
        "atlasmigration",
        "mig",
        lambda o: condition(o)["status"] == "True" and o["status"]["lastAppliedVersion"] == "1",
    )
    assert condition(down)["reason"] == "Applied"
    assert run(url, "SELECT count(*) FROM information_schema.tables WHERE table_name = 't2'") == [
        (0,)
    ]


def test_backoff_limit_then_fixed_inputs(
    operator: OperatorProcess, kube: Kube, dbs: Databases
) -> None:
    spec = {"dir": {"configMapRef": {"name": "later-dir"}}, "backoffLimit": 2}
    kube.apply(resource("AtlasMigration", "later", spec))
    stopped = kube.wait_for(
        "atlasmigration", "later", lambda o: o["status"].get("failed", 0) >= 3, timeout=40
    )
    assert condition(stopped)["reason"] == "ReadingMigrationData"
    exceeded = [e for e in kube.events("later") if e["reason"] == "BackoffLimitExceeded"]
    assert exceeded
    assert exceeded[0]["type"] == "Warning"
    url = dbs.new("postgres")
    kube.apply(configmap("later-dir", **directory({"1_a.sql": V1})))
    kube.patch("atlasmigration", "later", {"spec": {"url": url_text(url)}})
    done = kube.wait_ready("atlasmigration", "later")
    assert done["status"]["failed"] == 0
    assert done["status"]["lastAppliedVersion"] == "1"


def test_bad_migration_is_migrating_and_fix_resumes(
    operator: OperatorProcess, kube: Kube, dbs: Databases
) -> None:
    url = dbs.new("postgres")
    broken = "create table a (id int);\ncreate tabel b (id int);\n"
    kube.apply(
        secret("bad-db", url=url_text(url)),
        configmap("bad-dir", **directory({"1_a.sql": broken})),
        migration_resource("bad"),
    )
    failed = kube.wait_reason("atlasmigration", "bad", "Migrating")
    assert "tabel" in condition(failed)["message"]
    assert run(url, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'a'") == [
        (0,)
    ]
    fixed = "create table a (id int);\ncreate table b (id int);\n"
    kube.apply(configmap("bad-dir", **directory({"1_a.sql": fixed})))
    kube.wait_ready("atlasmigration", "bad")
