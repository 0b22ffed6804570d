"""`atlas-operator schema inspect|diff|apply` as users run them (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.urls import DatabaseURL, parse_url
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
    # And by the database's own account: applied to a fresh database, the output gives
    # the same table as the original, as the catalog describes it.
    fresh = dbs.new(kind)
    applied = cli(
        "schema", "apply", "-u", url_text(fresh), "--to", f"file://{state}",
        "--dev-url", url_text(dev), "--auto-approve",
    )  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    assert catalog_table(fresh) == catalog_table(target)


def catalog_table(url: DatabaseURL) -> list[tuple[Any, ...]]:
    """Table `t` as the database itself describes it (no engine inspection)."""
    if url.driver == "sqlite":
        # sqlite_master keeps the text as written; the pragmas describe the result.
        columns = 'name, type, "notnull", dflt_value, pk'
        return run(url, f"SELECT {columns} FROM pragma_table_info('t')")
    if url.driver == "mysql":
        return run(url, "SHOW CREATE TABLE t")
    return run(
        url,
        "SELECT column_name, data_type, character_maximum_length, is_nullable,"
        " pg_get_constraintdef(c.oid) FROM information_schema.columns"
        " LEFT JOIN pg_constraint c ON c.conrelid = 'public.t'::regclass"
        " WHERE table_schema = 'public' AND table_name = 't' ORDER BY column_name",
    )


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


# --- issue 13: command-line semantics that must match Atlas ------------------------------


def table_names(inspected: subprocess.CompletedProcess[str]) -> list[str]:
    assert inspected.returncode == 0, inspected.stderr
    return [
        f"{s['name']}.{t['name']}"
        for s in json.loads(inspected.stdout)["schemas"]
        for t in s.get("tables", [])
    ]


def test_exclude_takes_a_comma_list(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'app.db'}"
    state = tmp_path / "schema.sql"
    state.write_text(
        "create table a (id int);\ncreate table b (id int);\ncreate table c (id int);\n"
    )
    applied = cli("schema", "apply", "-u", url, "--to", f"file://{state}", "--auto-approve")
    assert applied.returncode == 0, applied.stderr
    inspected = cli("schema", "inspect", "-u", url, "--exclude", "a,b", "--format", "json")
    assert table_names(inspected) == ["main.c"]
    # Excluded from the diff too: only c is compared, and it is in sync.
    state.write_text("create table c (id int);\n")
    diff = cli("schema", "diff", "--from", url, "--to", f"file://{state}", "--exclude", "a,b")
    assert diff.returncode == 0, diff.stderr
    assert diff.stdout.strip() == ""


def test_schema_takes_a_comma_list_and_a_short_flag(dbs: Databases) -> None:
    target = dbs.new("postgres")
    run(
        target,
        "CREATE SCHEMA other",
        "CREATE SCHEMA third",
        "CREATE TABLE public.p (id int)",
        "CREATE TABLE other.o (id int)",
        "CREATE TABLE third.t (id int)",
    )
    for flags in (
        ["--schema", "public,other"],
        ["-s", "public,other"],
        ["-s", "public", "-s", "other"],
    ):
        inspected = cli("schema", "inspect", "-u", url_text(target), *flags, "--format", "json")
        assert sorted(table_names(inspected)) == ["other.o", "public.p"], flags


def test_repeated_to_reads_every_file_together(tmp_path: Path, schema_file: Path) -> None:
    url = f"sqlite://{tmp_path / 'app.db'}"
    views = tmp_path / "more.sql"
    views.write_text("create table posts (id int primary key, user_id int references users(id));\n")
    to = ["--to", f"file://{schema_file}", "--to", f"file://{views}"]
    diff = cli("schema", "diff", "--from", url, *to)
    assert diff.returncode == 0, diff.stderr
    assert "CREATE TABLE `users`" in diff.stdout
    assert "CREATE TABLE `posts`" in diff.stdout
    applied = cli("schema", "apply", "-u", url, *to, "--auto-approve")
    assert applied.returncode == 0, applied.stderr
    inspected = cli("schema", "inspect", "-u", url, "--format", "json")
    assert sorted(table_names(inspected)) == ["main.posts", "main.users"]
    # A comma list is the same thing (Atlas's string slice), and so is --from.
    comma = f"file://{schema_file},file://{views}"
    synced = cli("schema", "apply", "-u", url, "--to", comma, "--auto-approve")
    assert synced.stdout.strip() == "Schema is synced, no changes to be made"
    both = cli("schema", "diff", "-f", comma, "--to", url)
    assert both.returncode == 0, both.stderr
    assert both.stdout.strip() == ""


def test_repeated_to_of_different_kinds_is_refused(tmp_path: Path, schema_file: Path) -> None:
    url = f"sqlite://{tmp_path / 'app.db'}"
    hcl = tmp_path / "tables.hcl"
    hcl.write_text('schema "main" {}\n')
    cases = {
        ("--to", f"file://{schema_file}", "--to", url): (
            "got mixed --to url schemes: 'file' and 'sqlite'"
        ),
        ("--to", url, "--to", url): "only multiple 'file://' urls are supported",
        ("--to", f"file://{schema_file}", "--to", f"file://{hcl}"): (
            "ambiguous schema: both SQL and HCL files found"
        ),
    }
    for flags, message in cases.items():
        result = cli("schema", "apply", "-u", url, *flags, "--dry-run")
        assert result.returncode == 1, flags
        assert message in result.stderr, (flags, result.stderr)


def test_sqlite_diff_of_a_rebuild_runs_as_a_migration(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    before = (
        "create table parents (id integer primary key, name varchar(10));\n"
        "create table children (id integer primary key,"
        " parent_id integer references parents (id) on delete cascade);\n"
    )
    state = tmp_path / "schema.sql"
    state.write_text(before)
    url = f"sqlite://{db}"
    assert (
        cli("schema", "apply", "-u", url, "--to", f"file://{state}", "--auto-approve").returncode
        == 0
    )
    conn = sqlite3.connect(db)
    conn.executescript("INSERT INTO parents VALUES (1, 'p'); INSERT INTO children VALUES (1, 1);")
    state.write_text(before.replace("name varchar(10)", "name text"))
    diff = cli("schema", "diff", "--from", url, "--to", f"file://{state}")
    assert diff.returncode == 0, diff.stderr
    lines = diff.stdout.splitlines()
    assert lines[0] == "PRAGMA foreign_keys = off;"
    assert lines[-1] == "PRAGMA foreign_keys = on;"
    # Run as a migration on a connection that enforces foreign keys: the rebuild's DROP
    # must not cascade to the children.
    conn.execute("PRAGMA foreign_keys = on")
    conn.executescript(diff.stdout)
    assert conn.execute("PRAGMA foreign_keys").fetchall() == [(1,)]
    assert conn.execute("SELECT * FROM children").fetchall() == [(1, 1)]
    again = cli("schema", "diff", "--from", url, "--to", f"file://{state}")
    assert again.stdout.strip() == ""


def cli_on_terminal(*args: str, answer: str) -> tuple[int, str]:
    """The CLI with a pseudo-terminal as stdin and stdout; `answer` is typed at the prompt."""
    import os
    import pty
    import select
    import time

    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "atlas_operator.cli", *args],
        stdin=terminal,
        stdout=terminal,
        stderr=subprocess.STDOUT,
    )
    os.close(terminal)
    output, answered, deadline = b"", False, time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        if not answered and b"Are you sure?" in output:
            os.write(controller, answer.encode() + b"\n")
            answered = True
        if process.poll() is not None and not ready:
            break
    os.close(controller)
    code = process.wait(timeout=10)
    return code, output.decode().replace("\r\n", "\n")


def test_interactive_apply_prints_the_plan_once_then_what_ran(
    tmp_path: Path, schema_file: Path
) -> None:
    url = f"sqlite://{tmp_path / 'app.db'}"
    code, out = cli_on_terminal(
        "schema", "apply", "-u", url, "--to", f"file://{schema_file}", answer="Apply"
    )
    assert code == 0, out
    assert out.count("-- Planned Changes:") == 1
    assert out.count("CREATE TABLE `users`") == 2  # once planned, once applied
    planned, applied = out.split("Are you sure? [Apply/Abort]")
    assert planned.startswith('-- Planned Changes:\n-- Create "users" table\nCREATE TABLE `users`')
    assert "Applying approved migration (1 statement in total):" in applied
    assert '  -- Create "users" table\n    -> CREATE TABLE `users`' in applied
    assert applied.rstrip().endswith("-- 1 sql statement")
    inspected = cli("schema", "inspect", "-u", url, "--format", "json")
    assert table_names(inspected) == ["main.users"]
    # Anything but Apply aborts, and nothing runs.
    schema_file.write_text(SCHEMA + "create table more (id int);\n")
    code, out = cli_on_terminal(
        "schema", "apply", "-u", url, "--to", f"file://{schema_file}", answer="Abort"
    )
    assert code == 0
    assert "Applying" not in out
    assert table_names(cli("schema", "inspect", "-u", url, "--format", "json")) == ["main.users"]


def test_a_failed_apply_lists_what_ran_and_the_failing_statement(
    tmp_path: Path, schema_file: Path
) -> None:
    db = tmp_path / "app.db"
    url = f"sqlite://{db}"
    assert (
        cli(
            "schema", "apply", "-u", url, "--to", f"file://{schema_file}", "--auto-approve"
        ).returncode
        == 0
    )
    conn = sqlite3.connect(db)
    conn.executescript("INSERT INTO users VALUES (1, 'a'); INSERT INTO users VALUES (2, 'a');")
    conn.close()
    schema_file.write_text(
        "create table aaa (id int);\n"
        + SCHEMA
        + "create unique index users_name on users (name);\n"
    )
    result = cli("schema", "apply", "-u", url, "--to", f"file://{schema_file}", "--auto-approve")
    assert result.returncode == 1
    assert result.stdout.count("-- Planned Changes:") == 1
    applied = result.stdout.split("Applying approved migration (2 statements in total):")[1]
    assert '  -- Create "aaa" table\n    -> CREATE TABLE `aaa`' in applied
    assert "    -> CREATE UNIQUE INDEX `users_name`" in applied
    assert "UNIQUE constraint failed" in applied
    assert "-- 1 sql statement ok, 1 with errors" in applied
    assert "rolled back" in applied
    assert "not run" not in applied  # the failing statement was the last one
    assert "CREATE UNIQUE INDEX" in result.stderr
    assert "(after 1 statement that ran, rolled back)" in result.stderr
    assert table_names(cli("schema", "inspect", "-u", url, "--format", "json")) == ["main.users"]


def cache_entries(root: Path) -> list[Path]:
    directory = root / "atlas-operator" / "desired"
    return sorted(directory.glob("*.json")) if directory.exists() else []


def cli_with_env(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "atlas_operator.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_second_dry_run_reuses_the_cached_desired_state(
    dbs: Databases, tmp_path: Path, schema_file: Path, kind: str
) -> None:
    """The second one-shot run needs the dev server's identity only: a dev database that
    is no longer clean (which loading refuses) does not stop it. `--no-cache` and
    ATLAS_OPERATOR_NO_CACHE load on the dev database again."""
    schema_file.write_text(SCHEMA + "create view names as select name from users;\n")
    target, dev = dbs.new(kind), dbs.new(kind)
    cache = tmp_path / "cache-home"
    env = {"XDG_CACHE_HOME": str(cache)}
    args = ["schema", "apply", "-u", url_text(target), "--to", f"file://{schema_file}"]
    args += ["--dev-url", url_text(dev), "--dry-run"]
    first = cli_with_env(env, *args)
    assert first.returncode == 0, first.stderr
    assert "CREATE VIEW" in first.stdout
    [entry] = cache_entries(cache)
    assert entry.stat().st_mode & 0o777 == 0o600
    assert entry.parent.stat().st_mode & 0o777 == 0o700
    run(dev, "CREATE TABLE leftover (id int)")
    second = cli_with_env(env, *args)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    assert cache_entries(cache) == [entry]
    for refused in (
        cli_with_env(env, *args, "--no-cache"),
        cli_with_env({**env, "ATLAS_OPERATOR_NO_CACHE": "1"}, *args),
    ):
        assert refused.returncode == 1
        assert "leftover" in refused.stderr or "clean" in refused.stderr, refused.stderr
    # A changed desired state is a miss: it loads (and is refused by the dirty dev).
    schema_file.write_text(SCHEMA)
    assert cli_with_env(env, *args).returncode == 1


def test_no_cache_writes_nothing(tmp_path: Path, schema_file: Path) -> None:
    cache = tmp_path / "cache-home"
    args = ["schema", "apply", "-u", f"sqlite://{tmp_path / 'app.db'}"]
    args += ["--to", f"file://{schema_file}", "--dry-run"]
    plain = cli_with_env({"XDG_CACHE_HOME": str(cache)}, *args, "--no-cache")
    assert plain.returncode == 0, plain.stderr
    by_env = cli_with_env({"XDG_CACHE_HOME": str(cache), "ATLAS_OPERATOR_NO_CACHE": "1"}, *args)
    assert by_env.stdout == plain.stdout
    assert cache_entries(cache) == []
    cached = cli_with_env({"XDG_CACHE_HOME": str(cache)}, *args)
    assert cached.stdout == plain.stdout
    assert len(cache_entries(cache)) == 1


def test_hcl_desired_states_are_cached_too(tmp_path: Path) -> None:
    state = tmp_path / "tables.hcl"
    state.write_text(
        'schema "main" {}\ntable "t" {\n  schema = schema.main\n'
        '  column "id" {\n    type = int\n  }\n}\n'
    )
    cache = tmp_path / "cache-home"
    args = ["schema", "apply", "-u", f"sqlite://{tmp_path / 'x.db'}"]
    args += ["--to", f"file://{state}", "--dry-run"]
    first = cli_with_env({"XDG_CACHE_HOME": str(cache)}, *args)
    assert first.returncode == 0, first.stderr
    assert "CREATE TABLE `t`" in first.stdout
    [entry] = cache_entries(cache)
    second = cli_with_env({"XDG_CACHE_HOME": str(cache)}, *args)
    assert second.stdout == first.stdout
    assert cache_entries(cache) == [entry]
    # The next run plans from the entry: an entry renamed behind its back shows it.
    data = json.loads(entry.read_text())
    data["realm"]["schemas"][0]["tables"][0]["name"] = "renamed"
    entry.write_text(json.dumps(data))
    third = cli_with_env({"XDG_CACHE_HOME": str(cache)}, *args)
    assert "CREATE TABLE `renamed`" in third.stdout, third.stderr
