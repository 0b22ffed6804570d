"""`atlas-operator schema inspect|diff|apply` as users run them (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.urls import parse_url
from tests.rig.databases import Databases, run, url_text
from tests.rig.services import ServiceURLs

SCHEMA = "create table users (id int primary key, name text not null);\n"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atlas_operator.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def schema_file(tmp_path: Path) -> Path:
    path = tmp_path / "schema.sql"
    path.write_text(SCHEMA)
    return path


def test_apply_dry_run_then_apply_then_synced(tmp_path: Path, schema_file: Path) -> None:
    url = f"sqlite://{tmp_path / 'app.db'}"
    dry = cli("schema", "apply", "-u", url, "--to", f"file://{schema_file}", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith('-- Planned Changes:\n-- Create "users" table\nCREATE TABLE')
    assert not (tmp_path / "app.db").stat().st_size  # nothing ran
    applied = cli("schema", "apply", "-u", url, "--to", f"file://{schema_file}", "--auto-approve")
    assert applied.returncode == 0, applied.stderr
    again = cli("schema", "apply", "-u", url, "--to", f"file://{schema_file}", "--auto-approve")
    assert again.stdout.strip() == "Schema is synced, no changes to be made"
    inspected = cli("schema", "inspect", "-u", url, "--format", "json")
    tables = json.loads(inspected.stdout)["schemas"][0]["tables"]
    assert [t["name"] for t in tables] == ["users"]


def test_apply_without_terminal_or_flag_is_refused(tmp_path: Path, schema_file: Path) -> None:
    result = cli(
        "schema", "apply", "-u", f"sqlite://{tmp_path / 'a.db'}", "--to", f"file://{schema_file}"
    )
    assert result.returncode == 1
    assert "--auto-approve" in result.stderr


def test_diff_prints_only_statements(tmp_path: Path, schema_file: Path) -> None:
    url = f"sqlite://{tmp_path / 'app.db'}"
    result = cli("schema", "diff", "--from", url, "--to", f"file://{schema_file}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("CREATE TABLE `users`")
    assert result.stdout.rstrip().endswith(";")


def test_lint_destructive_error_lists_the_drop(tmp_path: Path, schema_file: Path) -> None:
    url = f"sqlite://{tmp_path / 'app.db'}"
    cli("schema", "apply", "-u", url, "--to", f"file://{schema_file}", "--auto-approve")
    schema_file.write_text("create table users (id int primary key);\n")
    result = cli(
        "schema",
        "apply",
        "-u",
        url,
        "--to",
        f"file://{schema_file}",
        "--auto-approve",
        "--lint-destructive-error",
    )
    assert result.returncode == 1
    assert "destructive changes detected" in result.stderr
    skipped = cli(
        "schema",
        "apply",
        "-u",
        url,
        "--to",
        f"file://{schema_file}",
        "--auto-approve",
        "--skip",
        "drop_column",
    )
    assert skipped.stdout.strip() == "Schema is synced, no changes to be made"


def database_url(server: str, name: str) -> str:
    """The server URL pointed at database `name`, bound to schema public."""
    parts = urlsplit(server)
    return urlunsplit(parts._replace(path=f"/{name}", query=parts.query + "&search_path=public"))


@pytest.fixture
def postgres_db(databases: ServiceURLs) -> Iterator[str]:
    admin = parse_url(databases.postgres)
    name = f"cli_{uuid.uuid4().hex[:8]}"
    driver = driver_for(admin)
    with driver.open(admin) as session:
        session.execute(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        with driver.open(admin) as session:
            session.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_postgres_apply_needs_a_dev_url_and_works_with_one(
    databases: ServiceURLs, postgres_db: str, schema_file: Path
) -> None:
    admin = parse_url(databases.postgres)
    target = database_url(databases.postgres, postgres_db)
    without = cli(
        "schema", "apply", "-u", target, "--to", f"file://{schema_file}", "--auto-approve"
    )
    assert without.returncode == 1
    assert "--dev-url" in without.stderr
    assert admin.password is not None
    assert admin.password not in without.stderr
    dev_name = f"{postgres_db}_dev"
    driver = driver_for(admin)
    with driver.open(admin) as session:
        session.execute(f"CREATE DATABASE {dev_name}")
    try:
        dev = database_url(databases.postgres, dev_name)
        applied = cli(
            "schema",
            "apply",
            "-u",
            target,
            "--to",
            f"file://{schema_file}",
            "--dev-url",
            dev,
            "--auto-approve",
            "--format",
            "json",
        )
        assert applied.returncode == 0, applied.stderr
        report = json.loads(applied.stdout)
        assert report["Changes"]["Applied"][0].startswith('CREATE TABLE "users"')
        assert admin.password not in applied.stdout
    finally:
        with driver.open(admin) as session:
            session.execute(f"DROP DATABASE IF EXISTS {dev_name} WITH (FORCE)")


@pytest.mark.parametrize("kind", ["postgres", "mariadb", "sqlite"])
def test_inspect_output_loads_back_as_the_desired_state(
    dbs: Databases, tmp_path: Path, kind: str
) -> None:
    """`schema inspect` of a realm (PostgreSQL without search_path, which includes the
    "public" every database has) diffs to nothing against the database it came from."""
    target, dev = dbs.new(kind), dbs.new(kind)
    run(target, "CREATE TABLE t (id int PRIMARY KEY, name varchar(20))")
    inspected = cli("schema", "inspect", "-u", url_text(target))
    assert inspected.returncode == 0, inspected.stderr
    state = tmp_path / "state.sql"
    state.write_text(inspected.stdout)
    diff = cli(
        "schema", "diff", "--from", url_text(target), "--to", f"file://{state}",
        "--dev-url", url_text(dev),
    )  # fmt: skip
    assert diff.returncode == 0, diff.stderr
    assert diff.stdout.strip() in ("", "Schemas are synced, no changes to be made.")


def test_hcl_errors_name_the_file(tmp_path: Path) -> None:
    state = tmp_path / "tables.hcl"
    state.write_text(
        'schema "main" {}\ntable "t" {\n  schema = schema.main\n'
        '  column "id" {\n    type = int\n    null = "yes"\n  }\n}\n'
    )
    result = cli(
        "schema", "apply", "-u", f"sqlite://{tmp_path / 'x.db'}", "--to", f"file://{state}",
        "--dry-run",
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'atlas-operator: tables.hcl: table "t": column "id": attribute "null" must be a bool,'
        ' got string "yes"'
    )
