"""Local mode for AtlasMigration: the seed's resources on real PostgreSQL, downgrades
through the protected flow on SQLite, and bad input."""

from __future__ import annotations

import base64
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from atlas_operator.engine.migrate.dir import MigrationDir
from tests.operator.test_local_reconcile import EXAMPLES, reconcile
from tests.rig.databases import Databases, run
from tests.test_cli_migrate import url_text


def secret(url: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "postgres-credentials"},
        "data": {"url": base64.b64encode(url.encode()).decode()},
    }


def statuses(output: str) -> list[dict[str, Any]]:
    return [doc["status"] for doc in yaml.safe_load_all(output)]


def ready(status: dict[str, Any]) -> dict[str, str]:
    return next(c for c in status["conditions"] if c["type"] == "Ready")


@pytest.mark.parametrize("example", ["atlasmigration.yaml", "atlasmigration-inline.yaml"])
def test_seed_migration_applies_to_postgres(dbs: Databases, tmp_path: Path, example: str) -> None:
    url = dbs.new("postgres")
    manifests = tmp_path / "all.yaml"
    manifests.write_text(
        (EXAMPLES / example).read_text()
        + "\n---\n"
        + (EXAMPLES / "migrationdir.yaml").read_text()
        + "\n---\n"
        + yaml.safe_dump(secret(url_text(url)))
    )
    first = reconcile(manifests, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    [status] = statuses(first.stdout)
    assert status["lastAppliedVersion"] == "20230316085611"
    assert ready(status)["reason"] == "Applied"
    assert len(status["observed_hash"]) == 64
    assert run(
        url, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users'"
    ) == [(4,)]
    again = reconcile(manifests, cwd=tmp_path)
    assert again.returncode == 0
    assert statuses(again.stdout)[0]["lastAppliedVersion"] == "20230316085611"
    assert url.password is not None
    assert url.password not in first.stdout + first.stderr + again.stdout + again.stderr


def migration(
    db: Path, files: dict[str, str], down: dict[str, bool] | None = None
) -> dict[str, Any]:
    local = {
        **files,
        "atlas.sum": MigrationDir.from_mapping(files).computed_sum().marshal().decode(),
    }
    spec: dict[str, Any] = {"url": f"sqlite://{db}", "dir": {"local": local}}
    if down is not None:
        spec["protectedFlows"] = {"migrateDown": down}
    return {
        "apiVersion": "db.atlasgo.io/v1alpha1",
        "kind": "AtlasMigration",
        "metadata": {"name": "app"},
        "spec": spec,
    }


def run_local(tmp_path: Path, doc: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "migration.yaml"
    path.write_text(yaml.safe_dump(doc))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "atlas_operator.cli",
            "reconcile",
            "-f",
            str(path),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=tmp_path,
    )
    return done.returncode, statuses(done.stdout)[0]


TWO = {"1_a.sql": "create table a (id int);", "2_b.sql": "create table b (id int);"}


def test_downgrade_is_refused_then_allowed(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    code, status = run_local(tmp_path, migration(db, TWO))
    assert (code, status["lastAppliedVersion"]) == (0, "2")
    one = {"1_a.sql": TWO["1_a.sql"]}
    code, status = run_local(tmp_path, migration(db, one))
    assert code == 1
    assert ready(status)["reason"] == "ProtectedFlowError"
    assert "migrate down is not allowed" in ready(status)["message"]
    code, status = run_local(tmp_path, migration(db, one, {"allow": True}))
    assert ready(status)["reason"] == "ProtectedFlowError"
    assert "allow cannot be true without autoApprove" in ready(status)["message"]
    code, status = run_local(tmp_path, migration(db, one, {"allow": True, "autoApprove": True}))
    assert (code, status["lastAppliedVersion"]) == (0, "1"), status
    names = {
        r[0]
        for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    assert names == {"a", "atlas_schema_revisions"}


@pytest.mark.parametrize(
    ("spec_dir", "fragment"),
    [
        ({"configMapRef": {"name": "missing"}}, 'configmaps "missing" not found'),
        (
            {"local": {}, "configMapRef": {"name": "x"}},
            "cannot use both configmaps and local directory",
        ),
        ({}, "no directory specified"),
    ],
)
def test_bad_directory_input_is_reading_migration_data(
    tmp_path: Path, spec_dir: dict[str, Any], fragment: str
) -> None:
    doc = migration(tmp_path / "app.db", TWO)
    doc["spec"]["dir"] = spec_dir
    code, status = run_local(tmp_path, doc)
    assert code == 1
    assert ready(status)["reason"] == "ReadingMigrationData"
    assert ready(status)["message"].startswith(fragment)  # upstream's text, then the field
    assert not (tmp_path / "app.db").exists()


def test_checksum_error_is_migrating_and_changes_nothing(tmp_path: Path) -> None:
    doc = migration(tmp_path / "app.db", TWO)
    doc["spec"]["dir"]["local"]["2_b.sql"] = "create table c (id int);"
    code, status = run_local(tmp_path, doc)
    assert code == 1
    assert ready(status)["reason"] == "Migrating"
    assert "L3: 2_b.sql was edited" in ready(status)["message"]
    assert (
        not (tmp_path / "app.db").exists()
        or not sqlite3.connect(tmp_path / "app.db")
        .execute("SELECT name FROM sqlite_master WHERE name = 'a'")
        .fetchall()
    )
