"""`atlas-operator migrate …` as users run it, including an applier killed with SIGKILL."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atlas_operator.engine.urls import DatabaseURL
from tests.engine.migrate.test_dir import SEED_FILE, SEED_SUM
from tests.engine.migrate.test_executor import revisions, tables
from tests.rig.databases import KINDS, Databases
from tests.test_cli_schema import cli


def write_dir(path: Path, files: dict[str, str]) -> str:
    path.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (path / name).write_text(content)
    return f"file://{path}"


def test_hash_writes_the_seed_sum_byte_for_byte(tmp_path: Path) -> None:
    ref = write_dir(tmp_path / "migrations", {"20230316085611.sql": SEED_FILE})
    assert cli("migrate", "validate", "--dir", ref).returncode == 1
    assert cli("migrate", "hash", "--dir", ref).returncode == 0
    assert (tmp_path / "migrations" / "atlas.sum").read_text() == SEED_SUM
    assert cli("migrate", "validate", "--dir", ref).returncode == 0
    (tmp_path / "migrations" / "20230316085611.sql").write_text(SEED_FILE + "\n")
    done = cli("migrate", "validate", "--dir", ref)
    assert done.returncode == 1
    assert "L2: 20230316085611.sql was edited" in done.stderr


def test_apply_and_status_on_sqlite(tmp_path: Path) -> None:
    ref = write_dir(
        tmp_path / "m",
        {"1_a.sql": "create table a (id int);", "2_b.sql": "create table b (id int);"},
    )
    assert cli("migrate", "hash", "--dir", ref).returncode == 0
    url = f"sqlite://{tmp_path / 'x.db'}"
    status = cli("migrate", "status", "-u", url, "--dir", ref, "--format", "json")
    assert json.loads(status.stdout)["Status"] == "PENDING"
    one = cli("migrate", "apply", "1", "-u", url, "--dir", ref)
    assert one.returncode == 0, one.stderr
    assert "Migrating to version 1 (1 migrations in total)" in one.stdout
    rest = cli("migrate", "apply", "-u", url, "--dir", ref, "--format", "json")
    report = json.loads(rest.stdout)
    assert report["Message"] == "Migrated to version 2 from 1 (1 migrations in total)"
    text = cli("migrate", "status", "-u", url, "--dir", ref).stdout
    assert "Migration Status: OK" in text
    assert "Current Version: 2" in text


def test_failed_apply_exits_non_zero_and_status_shows_the_error(tmp_path: Path) -> None:
    ref = write_dir(tmp_path / "m", {"1.sql": "create table a (id int);\ncreate tabel b (id int);"})
    cli("migrate", "hash", "--dir", ref)
    url = f"sqlite://{tmp_path / 'x.db'}"
    failed = cli("migrate", "apply", "-u", url, "--dir", ref, "--tx-mode", "none")
    assert failed.returncode == 1
    assert 'executing statement "create tabel b (id int);"' in failed.stderr
    status = cli("migrate", "status", "-u", url, "--dir", ref).stdout
    assert "Current Version: 1 (1 statements applied)" in status
    assert "-- SQL:   create tabel b (id int);" in status


SLOW = {
    "postgres": "select pg_sleep(4);",
    "mariadb": "select sleep(4);",
    "sqlite": "",  # replaced by a long recursive query below
}
SQLITE_SLOW = (
    "with recursive n(i) as (select 1 union all select i + 1 from n where i < 60000000)"
    " select count(*) from n;"
)


def url_text(url: DatabaseURL) -> str:
    """The URL with its password, to pass on a command line."""
    return url.redacted().replace(":xxxxx@", f":{url.password}@")


@pytest.mark.parametrize("kind", KINDS)
def test_applier_killed_mid_file_then_rerun_applies_everything_once(
    dbs: Databases, tmp_path: Path, kind: str
) -> None:
    url = dbs.new(kind)
    slow = SLOW[kind] or SQLITE_SLOW
    ref = write_dir(
        tmp_path / "m",
        {
            "1.sql": f"create table a (id int);\n{slow}\ncreate table b (id int);",
            "2.sql": "create table c (id int);",
        },
    )
    cli("migrate", "hash", "--dir", ref)
    target = url_text(url)
    command = [
        sys.executable,
        "-m",
        "atlas_operator.cli",
        "migrate",
        "apply",
        "-u",
        target,
        "--dir",
        ref,
    ]
    victim = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.0)  # inside the slow statement
    assert victim.poll() is None, "the applier finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    again = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert tables(url) == {"a", "b", "c"}
    assert [row[:6] for row in revisions(url)] == [
        ("1", 2, 3, 3, None, None),
        ("2", 2, 1, 1, None, None),
    ]


def test_lint_prints_line_numbers_not_offsets(tmp_path: Path) -> None:
    ref = write_dir(
        tmp_path / "migrations",
        {
            "1.sql": "create table posts (id int);\ncreate table users (id int);\n",
            "2.sql": "-- drop the old tables\ncreate table keep (id int);\ndrop table posts;\n",
        },
    )
    assert cli("migrate", "hash", "--dir", ref).returncode == 0
    dev = f"sqlite://{tmp_path / 'dev.db'}"
    result = cli("migrate", "lint", "--dir", ref, "--dev-url", dev)
    assert result.returncode == 1
    assert "  -- L3: DS102: " in result.stdout, result.stdout


def test_allow_dirty_applies_every_file_on_a_non_clean_database(tmp_path: Path) -> None:
    ref = write_dir(
        tmp_path / "migrations",
        {"1_a.sql": "create table a (id int);\n", "2_b.sql": "create table b (id int);\n"},
    )
    assert cli("migrate", "hash", "--dir", ref).returncode == 0
    db = tmp_path / "app.db"
    sqlite3.connect(db).execute("create table legacy (id int)").connection.close()
    url = f"sqlite://{db}"
    refused = cli("migrate", "apply", "-u", url, "--dir", ref)
    assert refused.returncode == 1
    assert "baseline version or allow-dirty is required" in refused.stderr
    both = cli("migrate", "apply", "-u", url, "--dir", ref, "--baseline", "1", "--allow-dirty")
    assert both.returncode == 1
    assert both.stderr.strip().endswith(
        "sql/migrate: baseline and allow-dirty are mutually exclusive"
    )
    applied = cli("migrate", "apply", "-u", url, "--dir", ref, "--allow-dirty")
    assert applied.returncode == 0, applied.stderr
    assert "Migrating to version 2 (2 migrations in total)" in applied.stdout
    status = cli("migrate", "status", "-u", url, "--dir", ref, "--format", "json")
    assert json.loads(status.stdout)["Current"] == "2"
    # The revisions now exist: a later run needs neither flag.
    again = cli("migrate", "apply", "-u", url, "--dir", ref)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "No migration files to execute\n"
