"""Declarative-apply benchmark on a generated schema, measured against the
database's own client in the same run.

For PostgreSQL and MariaDB, a schema of N tables (10 columns, 2 indexes and 1
foreign key per table), on MariaDB optionally with views (each over a table, every
fourth over the previous view) and triggers (`--views`, `--triggers`), is:
- executed directly with the database's client (psql / mariadb): the baseline;
- applied by the engine to an empty database (dev database normalisation, diff,
  plan and apply);
- re-planned by the engine against the applied database (the no-op case); with
  objects also by the one-shot CLI, cold (empty cache of desired states) and warm.
Peak memory (max RSS of this process) is reported with the machine and date.

Usage: python bench/schema_apply.py [--tables 500] [--dialect postgres|mariadb]...
       [--views 200 --triggers 100]   (MariaDB: reported as `mariadb+objects`)
Writes bench/results/schema_apply.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from atlas_operator.engine.declarative import ApplyPolicy, schema_apply  # noqa: E402
from atlas_operator.engine.drivers import driver_for  # noqa: E402
from atlas_operator.engine.urls import DatabaseURL, parse_url  # noqa: E402
from bench.report import write_results  # noqa: E402


def generate_schema(tables: int, dialect: str) -> str:
    """N tables in a chain: table i references table i-1, the first one itself."""
    text_type = "varchar(255)" if dialect == "mariadb" else "character varying(255)"
    out = []
    for i in range(tables):
        ref = f"t{i - 1:04d}" if i else f"t{i:04d}"
        columns = [
            "id bigint NOT NULL",
            "parent_id bigint",
            f"name {text_type} NOT NULL",
            f"email {text_type}",
            "amount numeric(12,2) NOT NULL DEFAULT 0",
            "created_at timestamp NULL",
            "flag boolean NOT NULL DEFAULT false",
            "score integer",
            f"note {text_type}",
            "qty integer NOT NULL DEFAULT 1",
        ]
        constraints = ["PRIMARY KEY (id)"]
        constraints.append(
            f"CONSTRAINT t{i:04d}_parent_fk FOREIGN KEY (parent_id) REFERENCES {ref} (id)"
        )
        body = ",\n  ".join(columns + constraints)
        out.append(f"CREATE TABLE t{i:04d} (\n  {body}\n);")
        out.append(f"CREATE INDEX t{i:04d}_name_idx ON t{i:04d} (name);")
        out.append(f"CREATE UNIQUE INDEX t{i:04d}_email_idx ON t{i:04d} (email, score);")
    return "\n".join(out) + "\n"


def generate_objects(tables: int, views: int, triggers: int) -> str:
    """MariaDB views and triggers over the generated tables: view i reads table
    i mod N (every fourth one reads the view before it instead), trigger i keeps
    `qty` positive on table i mod N."""
    out = []
    for i in range(views):
        if i % 4 == 3:
            source = f"v{i - 1:04d}"
            out.append(f"CREATE VIEW v{i:04d} AS SELECT id, name FROM {source} WHERE id > {i};")
        else:
            source = f"t{i % tables:04d}"
            out.append(
                f"CREATE VIEW v{i:04d} AS SELECT id, name, amount * qty AS total"
                f" FROM {source} WHERE flag = 1;"
            )
    for i in range(triggers):
        table = f"t{i % tables:04d}"
        out.append(
            f"CREATE TRIGGER trg{i:04d} BEFORE {'INSERT' if i % 2 else 'UPDATE'} ON {table}"
            f" FOR EACH ROW SET NEW.qty = GREATEST(NEW.qty, {i % 7 + 1});"
        )
    return "\n".join(out) + "\n"


def run_client(dialect: str, url: DatabaseURL, sql: str) -> float:
    """Seconds the database's own client takes to execute the script."""
    if dialect == "postgres":
        cmd = ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-X", url.dsn_for_psycopg()]
        env = dict(os.environ)
    else:
        kw = url.pymysql_kwargs()
        cmd = [
            "mariadb",
            "--protocol=tcp",
            "-h",
            str(kw["host"]),
            "-P",
            str(kw["port"]),
            "-u",
            str(kw["user"]),
            str(kw["database"]),
        ]
        env = dict(os.environ, MYSQL_PWD=str(kw["password"]))
    started = time.perf_counter()
    subprocess.run(cmd, input=sql, text=True, check=True, env=env, capture_output=True)
    return time.perf_counter() - started


def cli_replan(
    target: DatabaseURL, dev: DatabaseURL, schema_file: Path, cache_home: Path
) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of a one-shot `schema apply --dry-run`, caching the
    normalised desired state in `cache_home` (engine/statecache.py)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "atlas-operator"),
            "schema",
            "apply",
            "-u",
            url_text(target),
            "--to",
            f"file://{schema_file}",
            "--dev-url",
            url_text(dev),
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, XDG_CACHE_HOME=str(cache_home)),
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0 or "Schema is synced" not in done.stdout:
        raise RuntimeError(f"re-plan not empty: {done.stdout[-500:]} {done.stderr[-500:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def url_text(url: DatabaseURL) -> str:
    from tests.rig.databases import url_text as with_password

    return with_password(url)


def create_database(admin: DatabaseURL, dialect: str) -> tuple[DatabaseURL, list[str]]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    driver = driver_for(admin)
    with driver.open(admin) as session:
        session.execute(f"CREATE DATABASE {name}")
    if dialect == "postgres":
        return admin.with_database(name).with_schema("public"), [
            f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        ]
    return admin.with_schema(name), [f"DROP DATABASE IF EXISTS {name}"]


def drop(admin: DatabaseURL, statements: list[str]) -> None:
    driver = driver_for(admin)
    with driver.open(admin) as session:
        for statement in statements:
            session.execute(statement)


def bench_dialect(
    dialect: str,
    admin: DatabaseURL,
    tables: int,
    views: int = 0,
    triggers: int = 0,
    repeat: int = 3,
) -> dict[str, Any]:
    """Medians of `repeat` rounds, each on fresh databases: the client baseline and the
    engine's apply interleaved, so both meet the same machine state."""
    sql = generate_schema(tables, dialect)
    if views or triggers:
        sql += generate_objects(tables, views, triggers)
    raws: list[float] = []
    applies: list[float] = []
    replans: list[float] = []
    clis: list[float] = []
    colds: list[float] = []
    statements = 0
    for _ in range(repeat):
        cleanup: list[str] = []
        try:
            raw_db, drops = create_database(admin, dialect)
            cleanup += drops
            raws.append(run_client(dialect, raw_db, sql))
            target, drops = create_database(admin, dialect)
            cleanup += drops
            dev, drops = create_database(admin, dialect)
            cleanup += drops
            started = time.perf_counter()
            report = schema_apply(target, sql, dev, ApplyPolicy())
            applies.append(time.perf_counter() - started)
            if report.error:
                raise RuntimeError(f"apply failed: {report.error_stmt}: {report.error}")
            statements = len(report.applied)
            started = time.perf_counter()
            replan = schema_apply(target, sql, dev, ApplyPolicy(), dry_run=True)
            replans.append(time.perf_counter() - started)
            if replan.pending:
                raise RuntimeError(f"re-plan not empty: {replan.pending[:3]}")
            if views or triggers:
                # As a user meets it: a one-shot `schema apply --dry-run`, first with
                # an empty cache of desired states (cold), then again (warm).
                with tempfile.TemporaryDirectory() as tmp:
                    schema_file = Path(tmp) / "schema.sql"
                    schema_file.write_text(sql)
                    cache_home = Path(tmp) / "cache"
                    colds.append(cli_replan(target, dev, schema_file, cache_home)[0])
                    clis.append(cli_replan(target, dev, schema_file, cache_home)[0])
        finally:
            drop(admin, cleanup)
    raw, apply_seconds = statistics.median(raws), statistics.median(applies)
    return {
        "tables": tables,
        "views": views,
        "triggers": triggers,
        "rounds": repeat,
        "raw_client_seconds": round(raw, 3),
        "engine_apply_seconds": round(apply_seconds, 3),
        "apply_over_raw": round(apply_seconds / raw, 2),
        "noop_replan_seconds": round(statistics.median(replans), 3),
        **(
            {
                "noop_replan_cli_cold_seconds": round(statistics.median(colds), 3),
                "noop_replan_cli_seconds": round(statistics.median(clis), 3),
            }
            if clis
            else {}
        ),
        "statements": statements,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=500)
    parser.add_argument("--dialect", action="append", choices=["postgres", "mariadb"])
    parser.add_argument("--views", type=int, default=0, help="MariaDB: also N views")
    parser.add_argument("--triggers", type=int, default=0, help="MariaDB: also N triggers")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (medians are reported)")
    args = parser.parse_args()
    from tests.rig.services import service_urls

    urls = service_urls()
    results: dict[str, Any] = {}
    for dialect in args.dialect or ["postgres", "mariadb"]:
        admin = parse_url(urls.postgres if dialect == "postgres" else urls.mariadb)
        results[dialect] = bench_dialect(dialect, admin, args.tables, repeat=args.repeat)
        print(dialect, json.dumps(results[dialect]))
        if dialect == "mariadb" and (args.views or args.triggers):
            key = "mariadb+objects"
            results[key] = bench_dialect(
                dialect, admin, args.tables, args.views, args.triggers, args.repeat
            )
            print(key, json.dumps(results[key]))
    write_results("schema_apply", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
