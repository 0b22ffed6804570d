"""Upstream §5.2 item 27: Helm 4's `install --wait` (kstatus) waits for an AtlasSchema
shipped in a chart until it is Ready, and reports a stalled one as failed."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.rig.controlplane import ControlPlane
from tests.rig.operator import Kube, OperatorProcess, condition, resource, secret


def app_chart(directory: Path, url: str, sql: str) -> Path:
    """A user's chart: a Secret with the database URL and an AtlasSchema using it."""
    (directory / "templates").mkdir(parents=True)
    chart = {"apiVersion": "v2", "name": "app", "version": "0.1.0", "type": "application"}
    (directory / "Chart.yaml").write_text(yaml.safe_dump(chart))
    documents: list[dict[str, Any]] = [
        secret("app-db", url=url),
        resource(
            "AtlasSchema",
            "app",
            {"urlFrom": {"secretKeyRef": {"name": "app-db", "key": "url"}}, "schema": {"sql": sql}},
        ),
    ]
    text = "\n---\n".join(yaml.safe_dump(d, sort_keys=False) for d in documents)
    (directory / "templates" / "app.yaml").write_text(text)
    return directory


def helm4_install(plane: ControlPlane, kube: Kube, chart: Path, timeout: str) -> Any:
    return subprocess.run(
        [
            str(plane.bin_dir / "helm4"),
            "install",
            "app",
            str(chart),
            "--namespace",
            kube.namespace,
            "--kubeconfig",
            str(plane.kubeconfig),
            "--wait",
            f"--timeout={timeout}",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_helm_install_wait_returns_once_the_schema_is_ready(
    operator: OperatorProcess, control_plane: ControlPlane, kube: Kube, tmp_path: Path
) -> None:
    url = f"sqlite://{tmp_path / 'app.db'}"
    chart = app_chart(tmp_path / "chart", url, "create table users (id int primary key);")
    result = helm4_install(control_plane, kube, chart, "90s")
    assert result.returncode == 0, result.stderr
    # No polling: when helm returns, the schema is applied.
    applied = kube.get("atlasschema", "app")
    assert applied is not None
    assert condition(applied)["status"] == "True"
    assert condition(applied)["reason"] == "Applied"
    assert applied["status"]["observedGeneration"] == applied["metadata"]["generation"]


def test_helm_install_wait_fails_on_a_stalled_schema(
    operator: OperatorProcess, control_plane: ControlPlane, kube: Kube, tmp_path: Path
) -> None:
    url = f"sqlite://{tmp_path / 'app.db'}"
    chart = app_chart(tmp_path / "chart", url, "create table users (id int primary key")
    result = helm4_install(control_plane, kube, chart, "30s")
    assert result.returncode != 0
    stalled = kube.get("atlasschema", "app")
    assert stalled is not None
    assert condition(stalled, "Stalled")["status"] == "True"
    assert condition(stalled)["reason"] == "CalculatingHash"
