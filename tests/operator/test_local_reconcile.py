"""Local mode (`atlas-operator reconcile -f`) on SQLite: the README's first command."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def reconcile(
    *files: Path, cwd: Path, extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "atlas_operator.cli", "reconcile"]
    return subprocess.run(
        [*command, *[f"-f={f}" for f in files], *extra],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
    )


def ready(output: str) -> dict[str, str]:
    (document,) = list(yaml.safe_load_all(output))
    condition = next(c for c in document["status"]["conditions"] if c["type"] == "Ready")
    return {
        "status": condition["status"],
        "reason": condition["reason"],
        "message": condition["message"],
    }


def test_quickstart_creates_the_users_table_and_is_idempotent(tmp_path: Path) -> None:
    first = reconcile(EXAMPLES / "quickstart-sqlite.yaml", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert ready(first.stdout)["reason"] == "Applied"
    assert "CREATE TABLE `users`" in ready(first.stdout)["message"]
    # The apply report names the driver as the Atlas CLI we are compared with: sqlite3.
    assert '"Driver":"sqlite3","URL":{"Scheme":"sqlite"}' in ready(first.stdout)["message"]
    conn = sqlite3.connect(tmp_path / "quickstart.db")
    columns = conn.execute("SELECT name, type, \"notnull\", pk FROM pragma_table_info('users')")
    assert [tuple(c) for c in columns] == [
        ("id", "INTEGER", 1, 1),  # SQLite reports a rowid alias this way
        ("name", "varchar(255)", 1, 0),
        ("email", "varchar(255)", 1, 0),
        ("short_bio", "varchar(255)", 1, 0),
    ]
    second = reconcile(EXAMPLES / "quickstart-sqlite.yaml", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert '"Changes":{}' in ready(second.stdout)["message"]


def write(path: Path, documents: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump_all(documents))
    return path


def schema_doc(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "db.atlasgo.io/v1alpha1",
        "kind": "AtlasSchema",
        "metadata": {"name": "s"},
        "spec": spec,
    }


def test_missing_secret_key_is_read_schema_and_names_it(tmp_path: Path) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds"},
        "stringData": {"other": "sqlite://x.db"},
    }
    manifest = write(
        tmp_path / "m.yaml",
        [
            secret,
            schema_doc(
                {
                    "urlFrom": {"secretKeyRef": {"name": "creds", "key": "url"}},
                    "schema": {"sql": "create table t (id int);"},
                }
            ),
        ],
    )
    result = reconcile(manifest, cwd=tmp_path)
    assert result.returncode == 1
    condition = ready(result.stdout)
    assert condition["reason"] == "ReadSchema"
    assert 'secret default/creds does not contain key "url"' in condition["message"]
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        (
            {
                "urlFrom": {"secretKeyRef": {"name": "nope", "key": "url"}},
                "schema": {"sql": "create table t (id int);"},
            },
            'secrets "nope" not found',
        ),
        (
            {
                "url": "sqlite://x.db",
                "schema": {"configMapKeyRef": {"name": "schema-configmap", "key": "schema.sql"}},
            },
            'configmaps "schema-configmap" not found',
        ),
        ({"schema": {"sql": "create table t (id int);"}}, "no target database defined"),
    ],
)
def test_missing_inputs_give_upstream_text_first(
    tmp_path: Path, spec: dict[str, Any], text: str
) -> None:
    result = reconcile(write(tmp_path / "m.yaml", [schema_doc(spec)]), cwd=tmp_path)
    assert result.returncode == 1
    condition = ready(result.stdout)
    assert condition["reason"] == "ReadSchema"
    assert condition["message"].startswith(text)  # our field path may only follow it


def test_bad_desired_sql_changes_nothing_and_hides_the_password(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    sqlite3.connect(db).execute("create table keep (id int)")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds"},
        "stringData": {"url": f"sqlite://{db}?_pw=hunter2secret"},
    }
    manifest = write(
        tmp_path / "m.yaml",
        [
            secret,
            schema_doc(
                {
                    "urlFrom": {"secretKeyRef": {"name": "creds", "key": "url"}},
                    "schema": {"sql": "create table keep (id int);\ncreate tabel oops (id int);"},
                }
            ),
        ],
    )
    result = reconcile(manifest, cwd=tmp_path)
    assert result.returncode == 1
    condition = ready(result.stdout)
    assert condition["reason"] == "CalculatingHash"
    assert "create tabel oops" in condition["message"]
    tables = sqlite3.connect(db).execute("select name from sqlite_master").fetchall()
    assert tables == [("keep",)]


def test_first_run_with_drops_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    sqlite3.connect(db).execute("create table old_table (id int)")
    manifest = write(
        tmp_path / "m.yaml",
        [
            schema_doc(
                {
                    "url": f"sqlite://{db}",
                    "schema": {"sql": "create table t (id int);"},
                }
            )
        ],
    )
    result = reconcile(manifest, cwd=tmp_path)
    assert result.returncode == 1
    condition = ready(result.stdout)
    assert condition["reason"] == "FirstRunDestructive"
    assert condition["message"] == (
        "destructive changes detected:\n- DROP TABLE `old_table`\n\n"
        "To prevent accidental drop of resources, first run of a schema must not contain "
        "destructive changes.\n"
        "Read more: https://atlasgo.io/integrations/kubernetes/#destructive-changes"
    )
    tables = sqlite3.connect(db).execute("select name from sqlite_master").fetchall()
    assert tables == [("old_table",)]


def test_hcl_desired_state_from_a_configmap(tmp_path: Path) -> None:
    hcl = (
        'schema "main" {}\n'
        'table "users" {\n  schema = schema.main\n'
        '  column "id" {\n    type = integer\n  }\n'
        "  primary_key {\n    columns = [column.id]\n  }\n}\n"
    )
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "schema"},
        "data": {"schema.hcl": hcl},
    }
    manifest = write(
        tmp_path / "m.yaml",
        [
            configmap,
            schema_doc(
                {
                    "url": f"sqlite://{tmp_path / 'app.db'}",
                    "schema": {"configMapKeyRef": {"name": "schema", "key": "schema.hcl"}},
                }
            ),
        ],
    )
    result = reconcile(manifest, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ready(result.stdout)["reason"] == "Applied"
    tables = (
        sqlite3.connect(tmp_path / "app.db")
        .execute("select name from sqlite_master where type = 'table'")
        .fetchall()
    )
    assert tables == [("users",)]


def test_configmap_key_must_be_sql_or_hcl(tmp_path: Path) -> None:
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "schema"},
        "data": {"schema.txt": "x"},
    }
    manifest = write(
        tmp_path / "m.yaml",
        [
            configmap,
            schema_doc(
                {
                    "url": f"sqlite://{tmp_path / 'app.db'}",
                    "schema": {"configMapKeyRef": {"name": "schema", "key": "schema.txt"}},
                }
            ),
        ],
    )
    result = reconcile(manifest, cwd=tmp_path)
    condition = ready(result.stdout)
    assert condition["reason"] == "ReadSchema"
    assert 'must be ending with .sql or .hcl, received ".txt"' in condition["message"]


def test_sqlite_views_and_triggers_are_applied_without_a_warning(tmp_path: Path) -> None:
    sql = (
        "create table t (id int);\ncreate view v as select id from t;\n"
        "create trigger tr after insert on t begin select 1; end;\n"
    )
    manifest = write(
        tmp_path / "schema.yaml",
        [schema_doc({"url": f"sqlite://{tmp_path / 'x.db'}", "schema": {"sql": sql}})],
    )
    result = reconcile(manifest, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    condition = ready(result.stdout)
    assert condition["reason"] == "Applied"
    assert "not managed" not in condition["message"]
    rows = sqlite3.connect(tmp_path / "x.db").execute(
        "select type, name from sqlite_master where type in ('view', 'trigger') order by 1"
    )
    assert rows.fetchall() == [("trigger", "tr"), ("view", "v")]


def test_objects_the_engine_cannot_manage_are_named_in_the_ready_message() -> None:
    from atlas_operator.engine.model import Realm, Unmanaged
    from atlas_operator.operator.atlasschema import unmanaged_warning

    desired = Realm(unmanaged=(Unmanaged("event", "app", "nightly"),))
    assert unmanaged_warning(desired, bound=True) == (
        " Warning: not managed by this engine yet, so not applied: event nightly."
    )
    assert unmanaged_warning(Realm(), bound=True) == ""


def test_state_dir_keeps_the_status_so_a_second_run_is_not_a_first_run(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    spec = {"url": f"sqlite://{db}", "schema": {"sql": "create table t (id int, b int);"}}
    manifest = write(tmp_path / "m.yaml", [schema_doc(spec)])
    state = ("--state-dir", str(tmp_path / "state"))
    assert reconcile(manifest, cwd=tmp_path, extra=state).returncode == 0
    # Dropping a column is destructive: refused on a first run, applied on a later one.
    spec["schema"] = {"sql": "create table t (id int);"}
    manifest = write(tmp_path / "m.yaml", [schema_doc(spec)])
    without = reconcile(manifest, cwd=tmp_path)
    assert ready(without.stdout)["reason"] == "FirstRunDestructive"
    assert "--state-dir" in without.stderr
    with_state = reconcile(manifest, cwd=tmp_path, extra=state)
    assert with_state.returncode == 0, with_state.stdout
    columns = sqlite3.connect(db).execute("select name from pragma_table_info('t')").fetchall()
    assert columns == [("id",)]
