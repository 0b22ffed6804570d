"""The operator process: endpoints, scoping, credentials, crashes and leadership."""

from __future__ import annotations

import http.server
import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.conftest import new_namespace
from tests.e2e.conftest import ISOLATED
from tests.rig.controlplane import ControlPlane
from tests.rig.databases import Databases, run
from tests.rig.operator import (
    OPERATOR,
    Kube,
    OperatorProcess,
    condition,
    configmap,
    resource,
    secret,
)
from tests.test_cli_migrate import url_text

TABLE = "create table t (id int primary key);"


def sqlite_schema(name: str, path: Path, **labels: str) -> dict[str, Any]:
    spec = {"url": f"sqlite://{path}", "schema": {"sql": TABLE}}
    return resource("AtlasSchema", name, spec, **labels)


def test_health_and_metrics_endpoints(
    operator: OperatorProcess, kube: Kube, tmp_path: Path
) -> None:
    kube.apply(sqlite_schema("metrics", tmp_path / "m.db"))
    kube.wait_ready("atlasschema", "metrics")
    assert operator.get(operator.health_port, "/healthz") == "ok"
    assert operator.get(operator.health_port, "/readyz") == "ok"
    text = operator.metrics()
    assert 'atlas_operator_reconcile_total{kind="AtlasSchema",reason="Applied"}' in text
    assert "atlas_operator_reconcile_duration_seconds_bucket" in text
    assert "atlas_operator_workqueue_depth" in text


def scoped_operator(
    plane: ControlPlane, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> OperatorProcess:
    return OperatorProcess(plane.kubeconfig, tmp_path / "scoped.log", args=args, env=env or {})


def test_label_selector_and_namespace_scoping(control_plane: ControlPlane, tmp_path: Path) -> None:
    inside, outside = new_namespace(control_plane), new_namespace(control_plane)
    kube_in, kube_out = Kube(control_plane, inside), Kube(control_plane, outside)
    scoped = scoped_operator(
        control_plane, tmp_path, f"--namespace={inside}", "--label-selector=team=alpha"
    ).start()
    try:
        kube_in.apply(
            sqlite_schema("alpha", tmp_path / "a.db", team="alpha", **ISOLATED),
            sqlite_schema("beta", tmp_path / "b.db", team="beta", **ISOLATED),
        )
        kube_out.apply(
            sqlite_schema("alpha-elsewhere", tmp_path / "c.db", team="alpha", **ISOLATED)
        )
        kube_in.wait_ready("atlasschema", "alpha")
        time.sleep(2)
        for kube, name in ((kube_in, "beta"), (kube_out, "alpha-elsewhere")):
            untouched = kube.get("atlasschema", name)
            assert untouched is not None
            assert untouched["status"] == {"observedGeneration": -1, "failed": 0}
        logs = scoped.logs()
        assert "beta" not in logs
        assert "alpha-elsewhere" not in logs
    finally:
        scoped.stop()


def test_changed_password_retriggers_and_never_leaks(
    operator: OperatorProcess, kube: Kube, dbs: Databases
) -> None:
    admin = dbs.postgres
    role, database = f"u_{secrets.token_hex(4)}", f"d_{secrets.token_hex(4)}"
    wrong, first, second = (f"Pw-{secrets.token_hex(8)}" for _ in range(3))
    run(
        admin,
        f"CREATE ROLE {role} LOGIN PASSWORD '{first}'",
        f"CREATE DATABASE {database} OWNER {role}",
    )
    try:
        base = admin.with_database(database)

        def url_with(password: str) -> str:
            return url_text(base).replace(f"{admin.user}:{admin.password}@", f"{role}:{password}@")

        dev = dbs.new("postgres")
        spec = {
            "urlFrom": {"secretKeyRef": {"name": "pw-db", "key": "url"}},
            "devURL": url_text(dev),
            "schema": {"sql": TABLE},
        }
        kube.apply(secret("pw-db", url=url_with(wrong)), resource("AtlasSchema", "pw", spec))
        failing = kube.wait_for(
            "atlasschema", "pw", lambda o: condition(o)["reason"] == "ApplyingSchema"
        )
        assert "password authentication failed" in condition(failing)["message"]
        kube.apply(secret("pw-db", url=url_with(first)))  # the watch re-triggers at once
        done = kube.wait_ready("atlasschema", "pw", timeout=20)
        assert condition(done)["reason"] == "Applied"
        run(admin, f"ALTER ROLE {role} PASSWORD '{second}'")
        run(base, "DROP TABLE t")  # drift: the pass the Secret change triggers reverts it
        kube.apply(secret("pw-db", url=url_with(second)))
        has_t = "SELECT count(*) FROM pg_tables WHERE tablename = 't'"
        wait_until(lambda: run(base, has_t) == [(1,)], 20, "the table restored")
        everything = (
            operator.logs()
            + kube.kubectl("get", "events", "-o", "json")
            + kube.kubectl("get", "atlasschema", "pw", "-o", "json")
        )
        for password in (wrong, first, second):
            assert password not in everything
    finally:
        run(
            admin, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)", f"DROP ROLE IF EXISTS {role}"
        )


def slow_directory(files: int, seconds: float) -> dict[str, str]:
    """Files that each record themselves in a table after a pause."""
    from atlas_operator.engine.migrate.dir import MigrationDir

    contents = {"0001_init.sql": "create table applied (version text not null);\n"}
    for n in range(2, files + 1):
        contents[f"{n:04d}_slow.sql"] = (
            f"select pg_sleep({seconds});\ninsert into applied values ('{n:04d}');\n"
        )
    built = MigrationDir.from_mapping(dict(contents))
    return {**contents, "atlas.sum": built.computed_sum().marshal().decode()}


def applied_versions(url: Any) -> list[str]:
    return [str(r[0]) for r in run(url, "SELECT version FROM applied ORDER BY version")]


def revision_count(url: Any) -> int:
    rows = run(url, "SELECT count(*) FROM atlas_schema_revisions.atlas_schema_revisions")
    return int(rows[0][0])


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_9_during_a_long_apply_then_restart_applies_each_file_once(
    control_plane: ControlPlane, dbs: Databases, tmp_path: Path
) -> None:
    kube = Kube(control_plane, new_namespace(control_plane))
    url = dbs.new("postgres")
    files = slow_directory(12, 0.4)
    process = scoped_operator(control_plane, tmp_path, f"--namespace={kube.namespace}").start()
    try:
        kube.apply(
            secret("slow-db", url=url_text(url)),
            configmap("slow-dir", **files),
            resource(
                "AtlasMigration",
                "slow",
                {
                    "urlFrom": {"secretKeyRef": {"name": "slow-db", "key": "url"}},
                    "dir": {"configMapRef": {"name": "slow-dir"}},
                },
                **ISOLATED,
            ),
        )
        wait_until(lambda: len(applied_versions(url)) >= 3, 30, "three files applied")
        process.kill()
        partial = applied_versions(url)
        assert 3 <= len(partial) < 11
        process.start()
        done = kube.wait_ready("atlasmigration", "slow", timeout=60)
        assert done["status"]["lastAppliedVersion"] == "0012"
        assert applied_versions(url) == [f"{n:04d}" for n in range(2, 13)]
        assert revision_count(url) == 12
    finally:
        process.stop()


def test_two_replicas_with_leader_election_never_overlap(
    control_plane: ControlPlane, dbs: Databases, tmp_path: Path
) -> None:
    kube = Kube(control_plane, new_namespace(control_plane))
    lease = f"lease-{secrets.token_hex(4)}"
    common = [
        f"--namespace={kube.namespace}",
        "--leader-elect",
        f"--leader-election-id={lease}",
        f"--leader-election-namespace={kube.namespace}",
    ]
    first = OperatorProcess(control_plane.kubeconfig, tmp_path / "first.log", args=common).start()
    wait_until(lambda: "acquired leadership" in first.logs(), 20, "first replica leading")
    second = OperatorProcess(control_plane.kubeconfig, tmp_path / "second.log", args=common)
    second.start()  # healthy while it waits for the Lease
    try:
        url = dbs.new("postgres")
        kube.apply(
            secret("le-db", url=url_text(url)),
            configmap("le-dir", **slow_directory(10, 0.4)),
            resource(
                "AtlasMigration",
                "le",
                {
                    "urlFrom": {"secretKeyRef": {"name": "le-db", "key": "url"}},
                    "dir": {"configMapRef": {"name": "le-dir"}},
                },
                **ISOLATED,
            ),
        )
        wait_until(lambda: len(applied_versions(url)) >= 2, 30, "the leader applying")
        assert "acquired leadership" not in second.logs()
        assert "reconciled" not in second.logs()
        first.kill()
        killed_at = time.time()
        done = kube.wait_ready("atlasmigration", "le", timeout=60)
        assert done["status"]["lastAppliedVersion"] == "0010"
        assert applied_versions(url) == [f"{n:04d}" for n in range(2, 11)]
        starts = [e["ts"] for e in second.log_entries() if e.get("msg") == "acquired leadership"]
        assert starts, second.logs()[-2000:]
        assert datetime.fromisoformat(starts[0]).timestamp() >= killed_at
        holder = kube.get("lease", lease)
        assert holder is not None
        assert holder["spec"]["leaseTransitions"] >= 1
    finally:
        first.stop()
        second.stop()


def test_invalid_boolean_environment_stops_the_process(control_plane: ControlPlane) -> None:
    result = subprocess.run(
        [*OPERATOR, "--health-probe-bind-address=0", "--metrics-bind-address=0"],
        env={**os.environ, "KUBECONFIG": str(control_plane.kubeconfig), "PREWARM_DEVDB": "maybe"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert 'PREWARM_DEVDB: invalid boolean \\"maybe\\"' in result.stderr


class VersionHandler(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        VersionHandler.seen.append((self.path, self.headers.get("User-Agent", "")))
        body = json.dumps(
            {"latest": {"Version": "v9.9.9", "Summary": "faster", "Link": "http://x"}}
        ).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def version_server() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), VersionHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_version_check_is_logged_and_skippable(
    control_plane: ControlPlane, version_server: str, tmp_path: Path
) -> None:
    namespace = new_namespace(control_plane)
    checking = scoped_operator(
        control_plane,
        tmp_path,
        f"--namespace={namespace}",
        env={"SKIP_VERCHECK": "", "ATLAS_OPERATOR_VERCHECK_URL": version_server},
    ).start()
    try:
        wait_until(lambda: "A new version of the Atlas Operator" in checking.logs(), 10, "notice")
    finally:
        checking.stop()
    path, agent = VersionHandler.seen[0]
    assert path.startswith("/atlas-operator/v")
    assert agent.startswith("Ariga-Atlas-Operator/")
    skipping = OperatorProcess(
        control_plane.kubeconfig,
        tmp_path / "skip.log",
        args=[f"--namespace={namespace}"],
        env={"SKIP_VERCHECK": "false", "ATLAS_OPERATOR_VERCHECK_URL": version_server},
    ).start()
    try:
        wait_until(lambda: "SKIP_VERCHECK is set" in skipping.logs(), 10, "skip notice")
    finally:
        skipping.stop()
    assert len(VersionHandler.seen) == 1
