"""PostgreSQL schema objects benchmark: 500 tables plus 200 views, 100 functions, 100
triggers, 20 enums and 50 sequences, measured in one run against psql.

- psql executes the DDL on an empty database: the baseline;
- the engine applies it to an empty database (dev normalisation, diff, plan, apply);
- a no-op re-plan as a user meets it: the one-shot CLI (`schema apply --dry-run`) in a
  new process, and inside one warm process (the operator's case), with peak memory.

Usage: python bench/pg_objects.py [--tables 500]
Writes bench/results/pg_objects.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from atlas_operator.engine.declarative import ApplyPolicy, schema_apply  # noqa: E402
from atlas_operator.engine.urls import DatabaseURL, parse_url  # noqa: E402
from bench.report import write_results  # noqa: E402
from bench.schema_apply import (  # noqa: E402
    cli_replan,
    create_database,
    drop,
    generate_schema,
    run_client,
)


def generate_objects(tables: int, views: int, functions: int, triggers: int) -> str:
    """Enums and sequences used by tables, views over tables and over views, functions
    (SQL and PL/pgSQL), and triggers calling them."""
    out = [generate_schema(tables, "postgres")]
    out += [f"CREATE TYPE e{i:02d} AS ENUM ('a', 'b', 'c');" for i in range(20)]
    out += [f"CREATE SEQUENCE s{i:02d} START 100;" for i in range(50)]
    for i in range(min(tables, 50)):
        out.append(f"ALTER TABLE t{i:04d} ADD COLUMN state e{i % 20:02d} DEFAULT 'a';")
        out.append(f"ALTER TABLE t{i:04d} ADD COLUMN seq bigint DEFAULT nextval('s{i:02d}');")
    for i in range(views):
        if i % 2 and i > 1:
            out.append(f"CREATE VIEW v{i:03d} AS SELECT id, name FROM v{i - 1:03d} WHERE id > 1;")
        else:
            t = f"t{i % tables:04d}"
            out.append(f"CREATE VIEW v{i:03d} AS SELECT id, name, amount FROM {t} WHERE flag;")
    for i in range(functions):
        if i % 2:
            out.append(
                f"CREATE FUNCTION f{i:03d}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                f"BEGIN\n  NEW.qty := NEW.qty + {i};\n  RETURN NEW;\nEND $$;"
            )
        else:
            out.append(
                f"CREATE FUNCTION f{i:03d}(x int) RETURNS int LANGUAGE sql IMMUTABLE"
                f" AS 'SELECT x + {i}';"
            )
    for i in range(triggers):
        function = f"f{(2 * i + 1) % functions:03d}"
        out.append(
            f"CREATE TRIGGER tr{i:03d} BEFORE INSERT OR UPDATE ON t{i % tables:04d}"
            f" FOR EACH ROW EXECUTE FUNCTION {function}();"
        )
    return "\n".join(out) + "\n"


def bench(admin: DatabaseURL, tables: int) -> dict[str, Any]:
    sql = generate_objects(tables, views=200, functions=100, triggers=100)
    cleanup: list[str] = []
    try:
        raw_db, drops = create_database(admin, "postgres")
        cleanup += drops
        raw = run_client("postgres", raw_db, sql)
        target, drops = create_database(admin, "postgres")
        cleanup += drops
        dev, drops = create_database(admin, "postgres")
        cleanup += drops
        started = time.perf_counter()
        report = schema_apply(target, sql, dev, ApplyPolicy())
        apply_seconds = time.perf_counter() - started
        if report.error:
            raise RuntimeError(f"apply failed: {report.error_stmt}: {report.error}")
        started = time.perf_counter()
        warm = schema_apply(target, sql, dev, ApplyPolicy(), dry_run=True)
        warm_seconds = time.perf_counter() - started
        if warm.pending:
            raise RuntimeError(f"re-plan not empty: {warm.pending[:3]}")
        with tempfile.TemporaryDirectory() as tmp:
            schema_file = Path(tmp) / "schema.sql"
            schema_file.write_text(sql)
            # Cold: an empty cache of desired states; warm: the second one-shot run.
            cache_home = Path(tmp) / "cache"
            cold_seconds, cli_rss = cli_replan(target, dev, schema_file, cache_home)
            cli_seconds = cli_replan(target, dev, schema_file, cache_home)[0]
    finally:
        drop(admin, cleanup)
    return {
        "objects": "500 tables, 200 views, 100 functions, 100 triggers, 20 enums, 50 sequences"
        if tables == 500
        else f"{tables} tables, 200 views, 100 functions, 100 triggers, 20 enums, 50 sequences",
        "psql_seconds": round(raw, 3),
        "engine_apply_seconds": round(apply_seconds, 3),
        "apply_over_psql": round(apply_seconds / raw, 2),
        "noop_replan_cli_cold_seconds": round(cold_seconds, 3),
        "noop_replan_cli_seconds": round(cli_seconds, 3),
        "noop_replan_cli_peak_rss_mib": round(cli_rss, 1),
        "noop_replan_warm_process_seconds": round(warm_seconds, 3),
        "statements": len(report.applied),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=500)
    args = parser.parse_args()
    from tests.rig.services import service_urls

    admin = parse_url(service_urls().postgres)
    write_results("pg_objects", {"postgres": bench(admin, args.tables)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
