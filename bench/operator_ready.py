"""Operator benchmark: time from `kubectl apply` to Ready for 1 and for 50 AtlasSchema
resources, on SQLite and PostgreSQL targets (`devURL` given), and the operator's
resident memory with 50 resources.

Everything is real: the test control plane (kube-apiserver + etcd), the operator as a
separate process, PostgreSQL. The baseline, measured in the same run, is applying the
same DDL straight to each target with the engine's driver connection (what the
operator must do at the least); the ratio shows what watching, planning on the dev
database, status writes and events add.

Usage: python bench/operator_ready.py [--count 50]
Writes bench/results/operator_ready.json and prints it.
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

from tests.rig.controlplane import start_control_plane  # noqa: E402
from tests.rig.databases import Databases, run  # noqa: E402
from tests.rig.operator import Kube, OperatorProcess, ready  # noqa: E402
from tests.rig.services import service_urls  # noqa: E402

from atlas_operator.engine.urls import DatabaseURL  # noqa: E402
from bench.report import write_results  # noqa: E402

DDL = "create table users (id int primary key, name varchar(255) not null, email varchar(255));"


def url_text(url: DatabaseURL) -> str:
    return url.redacted().replace(":xxxxx@", f":{url.password}@")


def schema(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "db.atlasgo.io/v1alpha1",
        "kind": "AtlasSchema",
        "metadata": {"name": name},
        "spec": spec | {"schema": {"sql": DDL}},
    }


def time_to_ready(kube: Kube, documents: list[dict[str, Any]], timeout: float = 600) -> float:
    names = {d["metadata"]["name"] for d in documents}
    started = time.perf_counter()
    kube.apply(*documents)
    while time.perf_counter() - started < timeout:
        items = kube.items("atlasschemas")
        done = {i["metadata"]["name"] for i in items if ready(i) == "True"}
        if names <= done:
            return time.perf_counter() - started
        time.sleep(0.05)
    raise RuntimeError(f"not all Ready within {timeout}s")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def sqlite_case(kube: Kube, tmp: Path, count: int, label: str) -> dict[str, Any]:
    docs = [schema(f"{label}-{i}", {"url": f"sqlite://{tmp / label}-{i}.db"}) for i in range(count)]
    seconds = time_to_ready(kube, docs)
    started = time.perf_counter()
    for i in range(count):
        with sqlite3.connect(tmp / f"{label}-base-{i}.db") as conn:
            conn.execute(DDL)
    baseline = time.perf_counter() - started
    return {
        "resources": count,
        "seconds": round(seconds, 3),
        "baseline_ddl_seconds": round(baseline, 4),
    }


def postgres_case(kube: Kube, dbs: Databases, count: int, label: str) -> dict[str, Any]:
    targets = [dbs.new("postgres") for _ in range(count)]
    devs = [dbs.new("postgres") for _ in range(count)]
    docs = [
        schema(f"{label}-{i}", {"url": url_text(t), "devURL": url_text(d)})
        for i, (t, d) in enumerate(zip(targets, devs, strict=True))
    ]
    seconds = time_to_ready(kube, docs)
    bases = [dbs.new("postgres") for _ in range(count)]
    started = time.perf_counter()
    for base in bases:
        run(base, DDL)
    baseline = time.perf_counter() - started
    return {
        "resources": count,
        "seconds": round(seconds, 3),
        "baseline_ddl_seconds": round(baseline, 4),
        "ratio": round(seconds / baseline, 1) if baseline else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-operator-"))
    (tmp / "cp").mkdir()
    plane = start_control_plane(tmp / "cp")
    dbs = Databases(service_urls(), tmp)
    operator = OperatorProcess(plane.kubeconfig, tmp / "operator.log").start()
    results: dict[str, Any] = {"ddl": DDL}
    try:
        kube = Kube(plane, "default")
        idle = rss_mib(operator.process.pid) if operator.process else 0.0
        # The first pass after start waits for kopf's watches to open; not measured.
        results["warm_up_seconds"] = sqlite_case(kube, tmp, 1, "warm")["seconds"]
        results["sqlite_1"] = sqlite_case(kube, tmp, 1, "s1")
        results["sqlite_n"] = sqlite_case(kube, tmp, args.count, "sn")
        results["postgres_1"] = postgres_case(kube, dbs, 1, "p1")
        results["postgres_n"] = postgres_case(kube, dbs, args.count, "pn")
        results["operator_rss_mib"] = {
            "idle": idle,
            f"with_{2 * args.count + 2}_resources": rss_mib(operator.process.pid)
            if operator.process
            else 0.0,
        }
        reconciles = [e for e in operator.log_entries() if e.get("msg") == "reconciled"]
        results["reconcile_passes"] = len(reconciles)
    finally:
        operator.stop()
        plane.stop()
        dbs.drop_all()
    write_results("operator_ready", results)
    print(json.dumps(results["operator_rss_mib"]))


if __name__ == "__main__":
    main()
