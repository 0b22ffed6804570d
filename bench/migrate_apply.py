"""Versioned-apply benchmark: a directory of N migration files applied by the engine,
measured against executing the same files with the database's own client in the
same run.

Each file creates one table and one index (two statements). The baseline runs every
file through psql / mariadb in one client session, each file in its own transaction
on PostgreSQL (what `--tx-mode file` does); the engine additionally validates
atlas.sum, takes the migrate lock and writes a revision row after every statement.
The result is the per-file overhead: (engine - client) / N.

Usage: python bench/migrate_apply.py [--files 1000] [--dialect postgres|mariadb|sqlite]...
Writes bench/results/migrate_apply.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from atlas_operator.engine.migrate.dir import MigrationDir  # noqa: E402
from atlas_operator.engine.migrate.executor import migrate_apply  # noqa: E402
from atlas_operator.engine.urls import parse_url  # noqa: E402
from bench.report import write_results  # noqa: E402
from bench.schema_apply import create_database, drop, run_client  # noqa: E402


def generate_files(count: int) -> dict[str, str]:
    files = {}
    for i in range(count):
        files[f"{20240101000000 + i}_t{i:04d}.sql"] = (
            f"CREATE TABLE t{i:04d} (id bigint NOT NULL, name varchar(100), PRIMARY KEY (id));\n"
            f"CREATE INDEX t{i:04d}_name ON t{i:04d} (name);\n"
        )
    return files


def directory(files: dict[str, str]) -> MigrationDir:
    summed = MigrationDir.from_mapping(files).computed_sum().marshal()
    return MigrationDir.from_mapping({**files, "atlas.sum": summed})


def bench_server(dialect: str, admin_text: str, files: dict[str, str]) -> dict[str, Any]:
    admin = parse_url(admin_text)
    wrap = dialect == "postgres"
    script = "".join(f"BEGIN;\n{text}COMMIT;\n" if wrap else text for text in files.values())
    cleanup: list[str] = []
    try:
        raw_db, drops = create_database(admin, dialect)
        cleanup += drops
        raw = run_client(dialect, raw_db, script)
        target, drops = create_database(admin, dialect)
        cleanup += drops
        return measure(raw, lambda: migrate_apply(target, directory(files)), len(files))
    finally:
        drop(admin, cleanup)


def bench_sqlite(files: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        started = time.perf_counter()
        for text in files.values():
            conn.executescript(f"BEGIN;\n{text}COMMIT;")
        raw = time.perf_counter() - started
        conn.close()
        target = parse_url(f"sqlite://{Path(tmp) / 'engine.db'}")
        return measure(raw, lambda: migrate_apply(target, directory(files)), len(files))


def measure(raw: float, apply: Any, count: int) -> dict[str, Any]:
    started = time.perf_counter()
    result = apply()
    seconds = time.perf_counter() - started
    if result.error or len(result.files) != count:
        raise RuntimeError(f"apply failed: {result.error}")
    started = time.perf_counter()
    noop = apply()
    noop_seconds = time.perf_counter() - started
    return {
        "files": count,
        "raw_client_seconds": round(raw, 3),
        "engine_apply_seconds": round(seconds, 3),
        "apply_over_raw": round(seconds / raw, 2),
        "overhead_ms_per_file": round((seconds - raw) / count * 1000, 2),
        "noop_apply_seconds": round(noop_seconds, 3),
        "noop_message": noop.message,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--dialect", action="append", choices=["postgres", "mariadb", "sqlite"])
    args = parser.parse_args()
    from tests.rig.services import service_urls

    urls = service_urls()
    files = generate_files(args.files)
    results: dict[str, Any] = {}
    for dialect in args.dialect or ["postgres", "mariadb", "sqlite"]:
        if dialect == "sqlite":
            results[dialect] = bench_sqlite(files)
        else:
            admin = urls.postgres if dialect == "postgres" else urls.mariadb
            results[dialect] = bench_server(dialect, admin, files)
        print(dialect, json.dumps(results[dialect]), flush=True)
    write_results("migrate_apply", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
