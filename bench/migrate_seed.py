"""Data-seeding benchmark: one migration file of N INSERT statements, applied by the
one-shot CLI (`atlas-operator migrate apply`, as users run it) in `--tx-mode file` and
`none`, against the database's own client running the same file in the same run.

The client baselines: psql / mariadb with the file in one transaction (what `file`
means) and in autocommit (what `none` means); SQLite through the sqlite3 module the
same two ways. The ratio engine ÷ client is the figure: progress records must keep it
flat as N grows (issue 12: within 2× at 50,000 statements).

Usage: python bench/migrate_seed.py [--statements 50000] [--dialect sqlite|postgres|mariadb]...
Writes bench/results/migrate_seed.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from tests.rig.databases import url_text  # noqa: E402

from atlas_operator.engine.migrate.dir import MigrationDir  # noqa: E402
from atlas_operator.engine.urls import DatabaseURL, parse_url  # noqa: E402
from bench.report import write_results  # noqa: E402
from bench.schema_apply import create_database, drop, run_client  # noqa: E402

CLI = REPO / ".venv" / "bin" / "atlas-operator"
MODES = ("file", "none")


def seed_file(statements: int) -> str:
    lines = ["CREATE TABLE seed (id int NOT NULL, name varchar(40), PRIMARY KEY (id));"]
    lines += [f"INSERT INTO seed VALUES ({i}, 'row {i}');" for i in range(statements - 1)]
    return "\n".join(lines) + "\n"


def write_dir(root: Path, body: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "1_seed.sql").write_text(body)
    summed = MigrationDir.from_mapping({"1_seed.sql": body}).computed_sum().marshal()
    (root / "atlas.sum").write_bytes(summed)
    return root


def cli_apply(url: DatabaseURL, directory: Path, mode: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(CLI), "migrate", "apply", "-u", url_text(url), "--dir", f"file://{directory}",
         "--tx-mode", mode],
        check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - started


def ratios(engine: dict[str, float], client: dict[str, float], statements: int) -> dict[str, Any]:
    return {
        "statements": statements,
        **{f"client_{m}_seconds": round(client[m], 3) for m in MODES},
        **{f"engine_{m}_seconds": round(engine[m], 3) for m in MODES},
        **{f"{m}_over_client": round(engine[m] / client[m], 2) for m in MODES},
    }


def bench_sqlite(body: str, statements: int) -> dict[str, Any]:
    client: dict[str, float] = {}
    engine: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in MODES:
            conn = sqlite3.connect(Path(tmp) / f"raw-{mode}.db", isolation_level=None)
            script = f"BEGIN;\n{body}COMMIT;\n" if mode == "file" else body
            started = time.perf_counter()
            conn.executescript(script)
            client[mode] = time.perf_counter() - started
            conn.close()
            directory = write_dir(Path(tmp) / f"dir-{mode}", body)
            url = parse_url(f"sqlite://{Path(tmp) / f'engine-{mode}.db'}")
            engine[mode] = cli_apply(url, directory, mode)
    return ratios(engine, client, statements)


def bench_server(dialect: str, admin_text: str, body: str, statements: int) -> dict[str, Any]:
    admin = parse_url(admin_text)
    client: dict[str, float] = {}
    engine: dict[str, float] = {}
    cleanup: list[str] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for mode in MODES:
                raw, drops = create_database(admin, dialect)
                cleanup += drops
                script = f"BEGIN;\n{body}COMMIT;\n" if mode == "file" else body
                client[mode] = run_client(dialect, raw, script)
                target, drops = create_database(admin, dialect)
                cleanup += drops
                directory = write_dir(Path(tmp) / f"dir-{mode}", body)
                engine[mode] = cli_apply(target, directory, mode)
    finally:
        drop(admin, cleanup)
    return ratios(engine, client, statements)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=50_000)
    parser.add_argument("--dialect", action="append", choices=["sqlite", "postgres", "mariadb"])
    args = parser.parse_args()
    from tests.rig.services import service_urls

    body = seed_file(args.statements)
    results: dict[str, Any] = {}
    for dialect in args.dialect or ["sqlite", "postgres", "mariadb"]:
        if dialect == "sqlite":
            results[dialect] = bench_sqlite(body, args.statements)
        else:
            urls = service_urls()
            admin = urls.postgres if dialect == "postgres" else urls.mariadb
            results[dialect] = bench_server(dialect, admin, body, args.statements)
        print(dialect, json.dumps(results[dialect]), flush=True)
    write_results("migrate_seed", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
