"""The chart installed for real: its RBAC is exactly enough.

The rendered chart is applied to the test control plane; the operator then runs as a
separate process outside the cluster, authenticated only by a token for the chart's
ServiceAccount and started with the chart's own arguments and environment. It must
complete the seed's Getting Started flow, and be refused everything else."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.test_chart import CHART, helm
from tests.e2e.test_atlasmigration import SEED_D_PLUS, pg_columns
from tests.e2e.test_atlasschema import SEED_DESCRIBE, describe
from tests.rig.controlplane import ControlPlane
from tests.rig.databases import Databases
from tests.rig.kubelet import FakeKubelet
from tests.rig.operator import Kube, OperatorProcess, condition, secret
from tests.test_cli_migrate import url_text

pytestmark = [pytest.mark.controlplane, pytest.mark.databases]

EXAMPLES = CHART.parents[1] / "examples"
# Flags the test replaces: the operator binds loopback ports of its own.
BIND_FLAGS = ("--health-probe-bind-address=", "--metrics-bind-address=")


@dataclass
class Release:
    """A chart release applied to the control plane, and the operator it describes."""

    plane: ControlPlane
    namespace: str
    documents: list[dict[str, Any]]
    kubeconfig: Path

    @property
    def container(self) -> dict[str, Any]:
        [deployment] = [d for d in self.documents if d["kind"] == "Deployment"]
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        return dict(container)

    def operator_args(self) -> list[str]:
        args = list(self.container["args"])
        assert args[0] == "run"
        return [a for a in args[1:] if not a.startswith(BIND_FLAGS)]

    def operator_env(self) -> dict[str, str]:
        """The container's environment as the kubelet would resolve it."""
        env: dict[str, str] = {}
        for item in self.container["env"]:
            if "value" in item:
                env[item["name"]] = item["value"]
            elif item["valueFrom"].get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
                env[item["name"]] = self.namespace
        return env

    def start_operator(self, log: Path) -> OperatorProcess:
        return OperatorProcess(
            self.kubeconfig, log, args=self.operator_args(), env=self.operator_env()
        ).start()

    def can(self, *request: str) -> bool:
        """`kubectl auth can-i`, asked with the ServiceAccount's own token."""
        result = self.plane.kubectl(
            "auth", "can-i", *request, kubeconfig=self.kubeconfig, check=False
        )
        return result.stdout.strip() == "yes"

    def refused(self, *request: str) -> str:
        """Runs a real request with the token and returns the API server's refusal."""
        result = self.plane.kubectl(*request, kubeconfig=self.kubeconfig, check=False)
        assert result.returncode != 0, f"kubectl {' '.join(request)} was allowed"
        return result.stderr


def install(plane: ControlPlane, values: dict[str, Any], tmp_path: Path) -> Iterator[Release]:
    """Installs the chart with kubectl (helm's own install would do the same requests),
    hands out a token for its ServiceAccount, and removes the release afterwards
    (the CRDs stay: every other test uses them)."""
    suffix = uuid.uuid4().hex[:6]
    namespace = f"atlas-operator-{suffix}"
    plane.kubectl("create", "namespace", namespace)
    manifests = helm(
        "template", f"ao-{suffix}", str(CHART), "--namespace", namespace, values=values
    )
    plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=manifests)
    documents = [d for d in yaml.safe_load_all(manifests) if d]
    [account] = [d for d in documents if d["kind"] == "ServiceAccount"]
    token = plane.kubectl(
        "create", "token", account["metadata"]["name"], "-n", namespace, "--duration=1h"
    ).stdout.strip()
    kubeconfig = plane.write_kubeconfig(
        tmp_path / "sa.kubeconfig", token=token, namespace=namespace
    )
    try:
        yield Release(plane, namespace, documents, kubeconfig)
    finally:
        for document in documents:
            if document["kind"] == "CustomResourceDefinition":
                continue
            meta = document["metadata"]
            scope = ["-n", meta["namespace"]] if "namespace" in meta else []
            plane.kubectl(
                "delete",
                document["kind"],
                meta["name"],
                *scope,
                "--ignore-not-found",
                "--wait=false",
            )
        plane.kubectl("delete", "namespace", namespace, "--wait=false")


@pytest.fixture
def watched(control_plane: ControlPlane) -> Kube:
    name = f"watched-{uuid.uuid4().hex[:6]}"
    control_plane.kubectl("create", "namespace", name)
    return Kube(control_plane, name)


@pytest.fixture
def elsewhere(control_plane: ControlPlane) -> Kube:
    name = f"elsewhere-{uuid.uuid4().hex[:6]}"
    control_plane.kubectl("create", "namespace", name)
    return Kube(control_plane, name)


@pytest.fixture
def cluster_wide(control_plane: ControlPlane, tmp_path: Path) -> Iterator[Release]:
    # Two replicas, so the chart passes --leader-elect and the Lease Role is exercised.
    yield from install(control_plane, {"replicaCount": 2}, tmp_path)


@pytest.fixture
def namespaced(control_plane: ControlPlane, watched: Kube, tmp_path: Path) -> Iterator[Release]:
    yield from install(
        control_plane, {"watchNamespaces": [watched.namespace], "crds": {"create": False}}, tmp_path
    )


def getting_started(kube: Kube, dbs: Databases) -> None:
    """The seed's two examples: a MySQL AtlasSchema with a managed dev database and a
    PostgreSQL AtlasMigration from a ConfigMap, both Ready."""
    mysql, postgres = dbs.new("mariadb"), dbs.new("postgres")
    kube.apply(
        secret("mysql-credentials", url=url_text(mysql)),
        (EXAMPLES / "atlasschema-mysql.yaml").read_text(),
        secret("postgres-credentials", url=url_text(postgres)),
        (EXAMPLES / "migrationdir.yaml").read_text(),
        (EXAMPLES / "atlasmigration.yaml").read_text(),
    )
    schema = kube.wait_ready("atlasschema", "atlasschema-mysql", timeout=90)
    migration = kube.wait_ready("atlasmigration", "atlasmigration-sample", timeout=90)
    assert condition(schema)["reason"] == condition(migration)["reason"] == "Applied"
    assert describe(mysql, "users") == SEED_DESCRIBE
    assert [c[:4] for c in pg_columns(postgres, "users")] == SEED_D_PLUS
    # The operator wrote what it needs to: events, the directory state Secret.
    assert kube.get("secret", "io.atlasgo.db.v1.atlasmigration-sample.latest") is not None
    assert any(e["reason"] == "Applied" for e in kube.events("atlasmigration-sample"))


def test_cluster_wide_release_runs_getting_started_and_nothing_more(
    cluster_wide: Release, kube: Kube, dbs: Databases, kubelet: FakeKubelet, tmp_path: Path
) -> None:
    release = cluster_wide
    assert "--leader-elect" in release.operator_args()
    process = release.start_operator(tmp_path / "operator.log")
    try:
        getting_started(kube, dbs)
        lease = Kube(release.plane, release.namespace).get("lease", "5220c287.atlasgo.io")
        assert lease is not None
        assert "forbidden" not in process.logs().lower()
    finally:
        process.stop()
    # Everything beyond upstream's rules is refused.
    for request in [
        ("create", "namespaces"),
        ("get", "nodes"),
        ("create", "clusterroles.rbac.authorization.k8s.io"),
        ("create", "rolebindings.rbac.authorization.k8s.io", "-n", kube.namespace),
        ("delete", "customresourcedefinitions.apiextensions.k8s.io"),
        ("patch", "secrets", "-n", kube.namespace),
        ("create", "pods", "--subresource=exec", "-n", kube.namespace),
        ("create", "serviceaccounts", "--subresource=token", "-n", release.namespace),
        ("create", "leases.coordination.k8s.io", "-n", kube.namespace),
    ]:
        assert not release.can(*request), request
    assert "forbidden" in release.refused("get", "nodes").lower()


def test_namespaced_release_cannot_see_other_namespaces(
    namespaced: Release, watched: Kube, elsewhere: Kube, dbs: Databases, tmp_path: Path
) -> None:
    release = namespaced
    assert f"--namespace={watched.namespace}" in release.operator_args()
    kinds = {(d["kind"], d["metadata"].get("namespace")) for d in release.documents}
    assert ("Role", watched.namespace) in kinds
    assert not {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"} & {
        kind for kind, _ in kinds
    }
    url = dbs.new("postgres")
    for kube in (watched, elsewhere):
        kube.apply(
            secret("postgres-credentials", url=url_text(url)),
            (EXAMPLES / "migrationdir.yaml").read_text(),
            (EXAMPLES / "atlasmigration.yaml").read_text(),
        )
    process = release.start_operator(tmp_path / "operator.log")
    try:
        done = watched.wait_ready("atlasmigration", "atlasmigration-sample")
        assert done["status"]["lastAppliedVersion"] == "20230316085611"
        assert "forbidden" not in process.logs().lower()
    finally:
        process.stop()
    untouched = elsewhere.get("atlasmigration", "atlasmigration-sample")
    assert untouched is not None
    assert "status" not in untouched or not untouched["status"].get("conditions")
    # The token cannot read anything outside the watched namespace.
    assert release.can("get", "secrets", "-n", watched.namespace)
    assert not release.can("get", "secrets", "-n", elsewhere.namespace)
    assert not release.can("list", "secrets", "--all-namespaces")
    assert not release.can("list", "atlasmigrations.db.atlasgo.io", "--all-namespaces")
    refusal = release.refused("get", "secret", "postgres-credentials", "-n", elsewhere.namespace)
    assert "forbidden" in refusal.lower()
    assert url.password is None or url.password not in refusal
