"""The desired-state sandbox on real databases: a desired state that reaches beyond the
dev database (ATTACH of the target's file, cross-database and cross-schema writes, DROP
DATABASE, role and user creation) fails with the sandbox error, through `schema apply
--dry-run`, the engine and the operator's local reconcile, and afterwards every canary
row, database and role is as it was (checked outside the engine). Desired states that
are plain schema definitions (pg_dump and mysqldump output among them) still load."""

from __future__ import annotations

import re
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from atlas_operator.cli import main
from atlas_operator.engine.declarative import ApplyPolicy, load_sql_on_dev, schema_apply
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.drivers.base import DatabaseError, EngineError, Scope
from atlas_operator.engine.drivers.sqlite import SQLiteDriver
from atlas_operator.engine.sandbox import SandboxError
from atlas_operator.engine.states import default_dev_url
from atlas_operator.engine.urls import DatabaseURL, parse_url
from tests.operator.test_local_reconcile import ready, reconcile, schema_doc, write
from tests.rig.databases import Databases, run

pytestmark = pytest.mark.timeout(300)

CANARY = [(1, "a"), (2, "b"), (3, "c")]


def apply_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`atlas-operator schema apply …` in this process: (exit code, stderr)."""
    code = main(["schema", "apply", *args])
    return code, capsys.readouterr().err


# --- SQLite --------------------------------------------------------------------------------


def sqlite_target(tmp_path: Path) -> Path:
    path = tmp_path / "target.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE canary (id int, v text)")
    conn.executemany("INSERT INTO canary VALUES (?, ?)", CANARY)
    conn.commit()
    conn.close()
    return path


def sqlite_rows(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT * FROM canary ORDER BY id").fetchall()
    finally:
        conn.close()


def test_sqlite_attach_of_the_target_is_refused_and_touches_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = sqlite_target(tmp_path)
    copy = tmp_path / "copy.db"
    attacks = [
        f"ATTACH '{target}' AS t;\nDELETE FROM t.canary;",
        f"ATTACH DATABASE 'file:{target}' AS t;\nDROP TABLE t.canary;",
        f"VACUUM INTO '{copy}';",
        "PRAGMA writable_schema = 1;",
        "DELETE FROM canary;",
        "CREATE TABLE t AS SELECT 1 AS id;",
    ]
    for attack in attacks:
        schema = tmp_path / "schema.sql"
        schema.write_text(f"create table users (id int);\n{attack}\n")
        code, err = apply_cli(
            capsys, "-u", f"sqlite://{target}", "--to", f"file://{schema}", "--dry-run"
        )
        assert code == 1, attack
        assert "desired state: statement 2 (line 2): " in err, err
        assert "is not allowed in a desired schema" in err
    assert sqlite_rows(target) == CANARY
    assert not copy.exists()
    with pytest.raises(SandboxError, match=r"statement 1 \(line 1\): ATTACH is not allowed"):
        schema_apply(
            parse_url(f"sqlite://{target}"),
            f"ATTACH '{target}' AS t; DELETE FROM t.canary;",
            default_dev_url(parse_url(f"sqlite://{target}")),
            ApplyPolicy(),
            dry_run=True,
        )
    assert sqlite_rows(target) == CANARY


def test_sqlite_authorizer_denies_what_the_static_check_refuses(tmp_path: Path) -> None:
    target = sqlite_target(tmp_path)
    driver = SQLiteDriver()
    dev_url = default_dev_url(parse_url(f"sqlite://{target}"))
    with driver.open(dev_url) as dev:
        dev.execute(f"ATTACH '{target}' AS t")  # as if the static check had missed it
        with driver.sandboxed(dev, Scope(bound="main")):
            for sql in (
                f"ATTACH '{target}' AS t2",
                "DETACH t",
                "DELETE FROM t.canary",
                "UPDATE t.canary SET v = 'x'",
                "DROP TABLE t.canary",
                "ALTER TABLE t.canary DROP COLUMN v",
                "CREATE TABLE t.intruder (id int)",
                "PRAGMA journal_mode = delete",
                "PRAGMA writable_schema = 1",
            ):
                with pytest.raises(DatabaseError, match="not authorized"):
                    dev.execute(sql)
            # Schema definitions on main run as usual under the authorizer.
            for sql in (
                "PRAGMA foreign_keys = on",
                "CREATE TABLE p (id integer primary key, note text)",
                "CREATE TABLE c (id int references p (id), x int)",
                "CREATE INDEX c_x ON c (x)",
                "CREATE VIEW v AS SELECT id FROM p",
                "CREATE TRIGGER tr AFTER INSERT ON p BEGIN DELETE FROM c WHERE id = new.id; END",
                "ALTER TABLE c ADD COLUMN y int",
                "ALTER TABLE c RENAME COLUMN y TO z",
                "ALTER TABLE c DROP COLUMN z",
                "ALTER TABLE c RENAME TO c2",
                "CREATE TEMP TABLE scratch (id int)",
                "DROP VIEW v",
                "DROP TABLE c2",
            ):
                dev.execute(sql)
        # The authorizer is gone afterwards: the engine inspects with pragmas.
        assert dev.query("PRAGMA journal_mode")
        dev.execute("DETACH t")
        driver.clean(dev, Scope(bound="main"))
    assert sqlite_rows(target) == CANARY


def test_sqlite_dev_url_pointing_at_the_target_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = sqlite_target(tmp_path)
    schema = tmp_path / "schema.sql"
    schema.write_text("create table users (id int);\n")
    url = f"sqlite://{target}"
    code, err = apply_cli(
        capsys, "-u", url, "--to", f"file://{schema}", "--dev-url", url, "--dry-run"
    )
    assert code == 1
    assert "points at the target database" in err
    # The same file through another spelling of its path.
    alias = f"sqlite://{tmp_path}/./target.db"
    with pytest.raises(SandboxError, match="points at the target database"):
        schema_apply(parse_url(url), "create table x (id int);", parse_url(alias), ApplyPolicy())
    assert sqlite_rows(target) == CANARY
    assert [r[0] for r in sqlite3.connect(target).execute("SELECT name FROM sqlite_master")] == [
        "canary"
    ]


def test_sqlite_operator_reports_the_sandbox_error_as_calculating_hash(tmp_path: Path) -> None:
    target = sqlite_target(tmp_path)
    manifest = write(
        tmp_path / "m.yaml",
        [
            schema_doc(
                {
                    "url": f"sqlite://{target}",
                    "schema": {
                        "sql": f"create table users (id int);\nATTACH '{target}' AS t;\n"
                        "DELETE FROM t.canary;"
                    },
                }
            )
        ],
    )
    result = reconcile(manifest, cwd=tmp_path)
    assert result.returncode == 1
    condition = ready(result.stdout)
    assert condition["reason"] == "CalculatingHash"
    assert (
        "statement 2 (line 2): ATTACH is not allowed in a desired schema" in (condition["message"])
    )
    assert sqlite_rows(target) == CANARY
    same = write(
        tmp_path / "same.yaml",
        [
            schema_doc(
                {
                    "url": f"sqlite://{target}",
                    "devURL": f"sqlite://{target}",
                    "schema": {"sql": "create table users (id int);"},
                }
            )
        ],
    )
    condition = ready(reconcile(same, cwd=tmp_path).stdout)
    assert condition["reason"] == "ReadSchema"
    assert "points at the target database" in condition["message"]
    assert sqlite_rows(target) == CANARY


# --- MariaDB -------------------------------------------------------------------------------


def mariadb_state(server: DatabaseURL, target: DatabaseURL, names: str) -> tuple[Any, ...]:
    """Everything an escape could change: the canary, the databases and accounts it would
    create or drop (`names` is their prefix; other tests may run on the same server)."""
    return (
        run(server, f"SELECT * FROM `{target.schema}`.canary ORDER BY id"),
        run(
            server,
            "SELECT schema_name FROM information_schema.schemata"
            f" WHERE schema_name = '{target.schema}' OR schema_name LIKE '{names}%'",
        ),
        run(server, f"SELECT user, host FROM mysql.user WHERE user LIKE '{names}%'"),
        run(
            server,
            "SELECT table_schema, table_name FROM information_schema.tables"
            f" WHERE table_schema = '{target.schema}' ORDER BY 2",
        ),
        run(server, f"SHOW CREATE TABLE `{target.schema}`.canary"),
    )


def test_mariadb_cross_database_writes_drop_database_and_users_touch_nothing(
    dbs: Databases, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target, dev = dbs.new("mariadb"), dbs.new("mariadb")  # two databases, one server
    run(target, "CREATE TABLE canary (id int primary key, v text)")
    run(target, "INSERT INTO canary VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    user = f"sbx_{secrets.token_hex(4)}"
    before = mariadb_state(dbs.mariadb, target, user)
    assert before[1] == [(target.schema,)]
    t = f"`{target.schema}`"
    attacks = [
        f"DELETE FROM {t}.canary",
        f"UPDATE {t}.canary SET v = 'x'",
        f"DROP TABLE {t}.canary",
        f"CREATE TABLE {t}.intruder (id int)",
        f"ALTER TABLE {t}.canary ADD COLUMN x int",
        f"RENAME TABLE {t}.canary TO stolen",
        f"CREATE TABLE copy LIKE {t}.canary",
        f"CREATE TABLE copy AS SELECT * FROM {t}.canary",
        f"CREATE TABLE c (id int, FOREIGN KEY (id) REFERENCES {t}.canary (id))",
        f"CREATE TRIGGER tr BEFORE INSERT ON {t}.canary FOR EACH ROW SET NEW.v = 'x'",
        f"DROP DATABASE {t}",
        f"CREATE DATABASE {user}_db",
        f"CREATE USER '{user}'@'%' IDENTIFIED BY 'x'",
        f"GRANT ALL ON *.* TO '{user}'@'%' IDENTIFIED BY 'x'",
        f"USE {t}",
        f"SELECT * FROM {t}.canary INTO OUTFILE '/tmp/{user}.txt'",
        "SET GLOBAL general_log = 1",
    ]
    for attack in attacks:
        sql = f"create table users (id int);\n{attack};\n"
        with pytest.raises(SandboxError, match=r"statement 2 \(line 2\): .* is not allowed"):
            schema_apply(target, sql, dev, ApplyPolicy(), dry_run=True)
    # An event is allowed: it is loaded DISABLE on the dev database, so its statement
    # never runs there (test_sandbox.py: test_mysql_events_load_disabled).
    event = f"CREATE EVENT ev ON SCHEDULE EVERY 1 SECOND DO DELETE FROM {t}.canary"
    sql = f"create table users (id int);\n{event};\n"
    schema_apply(target, sql, dev, ApplyPolicy(), dry_run=True)
    schema = tmp_path / "schema.sql"
    schema.write_text(f"create table users (id int);\nDROP DATABASE {t};\n")
    code, err = apply_cli(
        capsys, "-u", str_url(target), "--to", f"file://{schema}", "--dev-url", str_url(dev),
        "--dry-run",
    )  # fmt: skip
    assert code == 1
    assert "DROP DATABASE is not allowed in a desired schema" in err
    assert mariadb_state(dbs.mariadb, target, user) == before
    # The dev database is untouched too, and still usable.
    assert run(dev, "SHOW TABLES") == []
    plan = schema_apply(target, "create table users (id int);", dev, ApplyPolicy(), dry_run=True)
    assert "CREATE TABLE `users`" in plan.pending[0]


def str_url(url: DatabaseURL) -> str:
    """The URL with its password, for the command line."""
    text = url.redacted()
    return text.replace(":xxxxx@", f":{url.password}@") if url.password else text


def test_mariadb_dev_url_on_the_target_database_or_server_is_refused(dbs: Databases) -> None:
    target = dbs.new("mariadb")
    run(target, "CREATE TABLE canary (id int)")
    for dev in (target, dbs.mariadb):  # the database itself, or the whole server
        with pytest.raises(SandboxError, match="points at the target database"):
            schema_apply(target, "create table users (id int);", dev, ApplyPolicy(), dry_run=True)
    assert run(target, "SHOW TABLES") == [("canary",)]


def test_mysqldump_no_data_output_loads(dbs: Databases) -> None:
    dump_tool = shutil.which("mariadb-dump") or shutil.which("mysqldump")
    if dump_tool is None:
        pytest.skip("no mysqldump")
    source, dev = dbs.new("mariadb"), dbs.new("mariadb")
    run(
        source,
        "CREATE TABLE t (id int primary key auto_increment, note varchar(10) default 'x')",
        "CREATE TABLE c (id int, FOREIGN KEY (id) REFERENCES t (id))",
        "CREATE VIEW v AS SELECT id FROM t",
        "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.note = 'y'",
        "CREATE FUNCTION f() RETURNS int DETERMINISTIC RETURN 1",
    )
    dumped = subprocess.run(
        [
            dump_tool, f"-h{source.host}", f"-P{source.effective_port}", f"-u{source.user}",
            f"-p{source.password}", "--no-data", "--routines", "--triggers", str(source.schema),
        ],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    scope = driver_for(dev).scope_of(dev)
    realm = load_sql_on_dev(dumped.stdout, dev, scope, ApplyPolicy())
    assert [t.name for t in realm.schemas[0].tables] == ["c", "t"]
    # (Statements wholly inside `/*! … */` are comments to the splitter: the dump's view
    # and trigger do not load, with or without the sandbox.)
    assert "f" in {o.name for o in realm.schemas[0].objects}


# --- PostgreSQL ----------------------------------------------------------------------------


def postgres_state(
    server: DatabaseURL, target: DatabaseURL, dev: DatabaseURL, names: str
) -> tuple[Any, ...]:
    """The canaries, the dev database's tables and indexes, and the databases and roles an
    escape would create or drop (`names`: their prefix; other tests share the server)."""
    databases = (target.database, dev.database)
    return (
        run(target, "SELECT * FROM canary ORDER BY id"),
        run(dev, "SELECT * FROM other.canary ORDER BY id"),
        run(
            dev,
            "SELECT table_schema, table_name, column_name FROM information_schema.columns"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3",
        ),
        run(dev, "SELECT indexname FROM pg_indexes WHERE schemaname = 'other' ORDER BY 1"),
        run(
            server,
            "SELECT datname FROM pg_database"
            f" WHERE datname IN {databases!r} OR datname LIKE '{names}%' ORDER BY 1",
        ),
        run(server, f"SELECT rolname, rolsuper FROM pg_roles WHERE rolname LIKE '{names}%'"),
        # ALTER SYSTEM writes postgresql.auto.conf, which pg_file_settings reads back.
        run(server, "SELECT name, setting FROM pg_file_settings WHERE name = 'work_mem'"),
    )


def test_postgres_cross_schema_writes_drop_database_and_roles_touch_nothing(
    dbs: Databases, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = dbs.new("postgres").with_schema("public")
    dev = dbs.new("postgres").with_schema("public")
    run(target, "CREATE TABLE canary (id int primary key, v text)")
    run(target, "INSERT INTO canary VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    # Another schema of the dev database: outside the scope the dev URL binds.
    run(dev.with_schema(None), "CREATE SCHEMA other")
    run(dev.with_schema(None), "CREATE TABLE other.canary (id int primary key, v text)")
    run(dev.with_schema(None), "INSERT INTO other.canary VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    role = f"sbx_{secrets.token_hex(4)}"
    before = postgres_state(dbs.postgres, target, dev, role)
    assert len(before[4]) == 2  # the target and dev databases, nothing named like the role
    attacks = [
        "DELETE FROM other.canary",
        "UPDATE other.canary SET v = 'x'",
        "DROP TABLE other.canary",
        "TRUNCATE other.canary",
        "CREATE TABLE other.intruder (id int)",
        "ALTER TABLE other.canary ADD COLUMN x int",
        "ALTER TABLE other.canary RENAME TO stolen",
        "CREATE INDEX ON other.canary (v)",
        "CREATE TABLE c (id int REFERENCES other.canary (id))",
        "CREATE TRIGGER tr BEFORE DELETE ON other.canary FOR EACH ROW EXECUTE FUNCTION f()",
        "SET search_path = other;\nDROP TABLE canary",
        "SELECT pg_catalog.set_config('search_path', 'other', false)",
        "DO $$ BEGIN DELETE FROM other.canary; END $$",
        "COPY other.canary TO PROGRAM 'cat > /dev/null'",
        "CREATE TABLE stolen AS SELECT * FROM other.canary",
        f"DROP DATABASE {target.database}",
        f"CREATE DATABASE {role}",
        f"CREATE ROLE {role} SUPERUSER LOGIN",
        f"CREATE USER {role}",
        f"GRANT ALL ON SCHEMA public TO {role}",
        "ALTER SYSTEM SET work_mem = '77MB'",
        "SET ROLE NONE",
        "CREATE EXTENSION dblink",
    ]
    for attack in attacks:
        sql = f"create table users (id int);\n{attack};\n"
        with pytest.raises(SandboxError, match=r"statement 2 \(line 2\): .* is not allowed"):
            schema_apply(target, sql, dev, ApplyPolicy(), dry_run=True)
    schema = tmp_path / "schema.sql"
    schema.write_text(f"create table users (id int);\nCREATE ROLE {role} SUPERUSER;\n")
    code, err = apply_cli(
        capsys, "-u", str_url(target), "--to", f"file://{schema}", "--dev-url", str_url(dev),
        "--dry-run",
    )  # fmt: skip
    assert code == 1
    assert "CREATE ROLE is not allowed in a desired schema" in err
    assert postgres_state(dbs.postgres, target, dev, role) == before
    report = schema_apply(target, "create table users (id int);", dev, ApplyPolicy(), dry_run=True)
    assert report.pending[0].startswith('CREATE TABLE "users"')


def test_postgres_realm_scope_keeps_other_schemas_of_the_database(dbs: Databases) -> None:
    target, dev = dbs.new("postgres"), dbs.new("postgres")
    sql = "create schema app;\ncreate table app.t (id int references public.p (id));\n"
    sql = "create table p (id int primary key);\n" + sql
    report = schema_apply(target, sql, dev, ApplyPolicy(), dry_run=True)
    assert any('CREATE TABLE "app"."t"' in s for s in report.pending)
    narrowed = ApplyPolicy(schemas=("public",))
    with pytest.raises(SandboxError, match='the schema "app" is not allowed'):
        schema_apply(target, sql, dev, narrowed, dry_run=True)
    with pytest.raises(SandboxError, match="points at the target database"):
        schema_apply(target, sql, target.with_schema("public"), ApplyPolicy(), dry_run=True)


def test_pg_dump_schema_only_output_loads(dbs: Databases) -> None:
    if shutil.which("pg_dump") is None:
        pytest.skip("no pg_dump")
    source, dev = dbs.new("postgres"), dbs.new("postgres")
    run(
        source,
        "CREATE SCHEMA app",
        "CREATE TYPE app.mood AS ENUM ('a', 'b')",
        "CREATE TABLE app.t (id serial primary key, m app.mood, note text default 'x')",
        "CREATE TABLE app.c (id int references app.t (id))",
        "CREATE INDEX ON app.t (note)",
        "CREATE VIEW app.v AS SELECT id FROM app.t",
        "CREATE MATERIALIZED VIEW app.mv AS SELECT id FROM app.t",
        "CREATE FUNCTION app.f() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN DELETE FROM app.c; RETURN NEW; END $$",
        "CREATE TRIGGER tr BEFORE INSERT ON app.t FOR EACH ROW EXECUTE FUNCTION app.f()",
        "COMMENT ON COLUMN app.t.note IS 'n'",
    )
    dumped = subprocess.run(
        ["pg_dump", "--schema-only", source.dsn_for_psycopg()],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    # psql meta-commands of newer pg_dump releases are not SQL: strip them.
    text = re.sub(r"^\\(un)?restrict .*$", "", dumped.stdout, flags=re.MULTILINE)
    realm = load_sql_on_dev(text, dev, Scope(), ApplyPolicy())
    app = next(s for s in realm.schemas if s.name == "app")
    assert [t.name for t in app.tables] == ["c", "t"]


@pytest.fixture
def sandbox_role(databases: Any) -> Iterator[Callable[[DatabaseURL], str]]:
    """A NOLOGIN role the test user may SET ROLE to, dropped afterwards."""
    made: list[tuple[DatabaseURL, str]] = []

    def create(db: DatabaseURL) -> str:
        name = f"sbx_{secrets.token_hex(4)}"
        run(db, f"CREATE ROLE {name} NOLOGIN", f"GRANT {name} TO CURRENT_USER")
        made.append((db, name))
        return name

    yield create
    for db, name in made:
        run(db, f"DROP OWNED BY {name}", f"DROP ROLE IF EXISTS {name}")


def test_postgres_loads_under_the_sandbox_role_of_the_dev_url(
    dbs: Databases, sandbox_role: Callable[[DatabaseURL], str]
) -> None:
    target = dbs.new("postgres").with_schema("public")
    dev = dbs.new("postgres").with_schema("public")
    role = sandbox_role(dev)
    restricted = parse_url(str_url(dev) + f"&sandbox_role={role}")
    sql = "create table users (id int);"
    # The role may not create in the dev schema yet: the database refuses the load.
    with pytest.raises(EngineError, match="permission denied for schema public"):
        schema_apply(target, sql, restricted, ApplyPolicy(), dry_run=True)
    run(dev, f"GRANT USAGE, CREATE ON SCHEMA public TO {role}")
    report = schema_apply(target, sql + "\n-- again", restricted, ApplyPolicy(), dry_run=True)
    assert report.pending[0].startswith('CREATE TABLE "users"')
    # The role is reset after the load: the session's own user cleaned the dev database.
    assert run(dev, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
