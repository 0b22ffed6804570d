"""Fault-injection benchmark: the crash-consistency suite's scenarios with many more
faults (SIGKILL of `migrate apply`, cut connections, PostgreSQL restarts), written as
figures: faults injected, episodes verified, duplicated statements and stuck databases
(both must be 0; a violation stops the run with its details).

Usage: python bench/faults.py [--faults 100]
Writes bench/results/faults.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from random import Random
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from tests.engine.migrate import test_crash_consistency as suite  # noqa: E402
from tests.rig import faults  # noqa: E402
from tests.rig.databases import Databases  # noqa: E402
from tests.rig.services import service_urls  # noqa: E402

from bench.report import write_results  # noqa: E402

SCENARIOS: list[tuple[str, str, str, suite.Fault]] = [
    *[(kind, mode, "sigkill", suite.sigkill) for kind in ("postgres", "mariadb", "sqlite")
      for mode in ("file", "all", "none")],
    *[(kind, mode, "cut", suite.cut) for kind in ("postgres", "mariadb")
      for mode in ("file", "none")],
]  # fmt: skip


def run_scenario(
    dbs: Databases, kind: str, mode: Any, fault: Callable[..., Any], count: int
) -> dict[str, Any]:
    started = time.monotonic()
    rng = Random(f"bench-{kind}-{mode}-{fault.__name__}")
    figures = suite.inject(suite.Case.new(dbs, kind, mode), fault, rng, count)
    return {**figures, "seconds": round(time.monotonic() - started, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=100)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    dbs = Databases(service_urls(), tmp)
    results: dict[str, Any] = {}
    try:
        for kind, mode, name, fault in SCENARIOS:
            key = f"{kind}/{mode}/{name}"
            results[key] = run_scenario(dbs, kind, mode, fault, args.faults)
            print(key, json.dumps(results[key]), flush=True)
        if faults.can_restart_postgres():
            key = "postgres/none/restart"
            results[key] = run_scenario(dbs, "postgres", "none", suite.restart, args.faults // 10)
            print(key, json.dumps(results[key]), flush=True)
    finally:
        dbs.drop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    write_results("faults", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
