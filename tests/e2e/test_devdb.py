"""The managed dev database (upstream §2.5, DECISIONS.md §7).

The control plane has no kubelet, so the test plays its part: when the operator has
created the Deployment, the test creates the Pod the ReplicaSet would have made (the
template's labels and annotations) and marks it Ready with podIP 127.0.0.1. Its
connection template points at a real test database on loopback.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atlas_operator.engine.urls import DatabaseURL
from tests.e2e.conftest import ISOLATED
from tests.rig.controlplane import ControlPlane
from tests.rig.databases import Databases
from tests.rig.kubelet import FakeKubelet, start_ready_pod
from tests.rig.operator import Kube, OperatorProcess, condition, resource, secret
from tests.test_cli_migrate import url_text

TABLE = "create table t (id int primary key);"


@pytest.fixture(scope="module")
def no_prewarm_operator(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """A second operator with PREWARM_DEVDB=false, scoped to one namespace."""
    namespace = "devdb-no-prewarm"
    control_plane.kubectl("create", "namespace", namespace, check=False)
    log = tmp_path_factory.mktemp("operator-no-prewarm") / "operator.log"
    process = OperatorProcess(
        control_plane.kubeconfig,
        log,
        args=[f"--namespace={namespace}"],
        env={"PREWARM_DEVDB": "false"},
    ).start()
    try:
        yield process
    finally:
        process.stop()


def play_kubelet(kube: Kube, deployment: dict[str, Any], dev: DatabaseURL, suffix: str) -> str:
    """Creates the Deployment's pod, Ready on 127.0.0.1, its template aimed at `dev`."""
    annotations = deployment["spec"]["template"]["metadata"].get("annotations") or {}
    assert annotations["atlasgo.io/conntmpl"].startswith("postgres://postgres:pass@localhost:5432/")
    name = f"{deployment['metadata']['name']}-{suffix}"
    start_ready_pod(kube.plane, kube.namespace, deployment, url_text(dev), name)
    return name


def wait_deployment(kube: Kube, name: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = kube.get("deployment", name)
        if found is not None:
            return found
        time.sleep(0.25)
    raise AssertionError(f"deployment {name} was not created")


def test_managed_dev_database_with_prewarm(
    operator: OperatorProcess, kube: Kube, dbs: Databases
) -> None:
    url, dev = dbs.new("postgres"), dbs.new("postgres")
    kube.apply(
        secret("pg-db", url=url_text(url)),
        resource(
            "AtlasSchema",
            "pg",
            {
                "urlFrom": {"secretKeyRef": {"name": "pg-db", "key": "url"}},
                "schema": {"sql": TABLE},
            },
        ),
    )
    waiting = kube.wait_reason("atlasschema", "pg", "GettingDevDB")
    assert condition(waiting, "Reconciling")["status"] == "True"
    assert waiting["status"]["failed"] == 0
    deployment = wait_deployment(kube, "pg-atlas-dev-db")
    check_upstream_shape(deployment)
    pod = play_kubelet(kube, deployment, dev, "a")
    kube.wait_ready("atlasschema", "pg", timeout=30)
    # Prewarm: the used pod is deleted so the Deployment starts a clean one.
    deadline = time.monotonic() + 10
    while kube.get("pod", pod) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert kube.get("pod", pod) is None
    reasons = [e["reason"] for e in kube.events("pg")]
    assert "CreatedDevDB" in reasons
    assert "GettingDevDB" in reasons
    # A change needs the dev database again: pending until a new pod is ready.
    kube.patch("atlasschema", "pg", {"spec": {"schema": {"sql": TABLE.replace(")", ", c int)")}}})
    kube.wait_reason("atlasschema", "pg", "GettingDevDB")
    play_kubelet(kube, deployment, dev, "b")
    done = kube.wait_for(
        "atlasschema",
        "pg",
        lambda o: condition(o)["status"] == "True" and o["status"]["observedGeneration"] == 2,
        timeout=30,
    )
    assert "c" in condition(done)["message"]


def check_upstream_shape(deployment: dict[str, Any]) -> None:
    labels = deployment["metadata"]["labels"]
    assert labels["atlasgo.io/engine"] == "postgres"
    assert labels["app.kubernetes.io/name"] == "atlas-dev-db"
    assert labels["app.kubernetes.io/instance"] == "pg-atlas-dev-db"
    assert deployment["spec"]["replicas"] == 1
    owner = deployment["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "AtlasSchema"
    assert owner["controller"] is True
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "postgres:latest"
    assert container["securityContext"]["runAsUser"] == 999
    assert container["startupProbe"]["failureThreshold"] == 30


def test_managed_dev_database_without_prewarm_scales_to_zero(
    no_prewarm_operator: OperatorProcess,
    control_plane: ControlPlane,
    dbs: Databases,
    tmp_path: Path,
) -> None:
    kube = Kube(control_plane, "devdb-no-prewarm")
    url, dev = dbs.new("postgres"), dbs.new("postgres")
    kube.apply(
        secret("np-db", url=url_text(url)),
        resource(
            "AtlasSchema",
            "np",
            {
                "urlFrom": {"secretKeyRef": {"name": "np-db", "key": "url"}},
                "schema": {"sql": TABLE},
            },
            **ISOLATED,
        ),
    )
    deployment = wait_deployment(kube, "np-atlas-dev-db")
    pod = play_kubelet(kube, deployment, dev, "a")
    kube.wait_ready("atlasschema", "np", timeout=30)
    scaled = kube.wait_for(
        "deployment", "np-atlas-dev-db", lambda d: d["spec"]["replicas"] == 0, timeout=10
    )
    assert scaled["spec"]["replicas"] == 0
    assert kube.get("pod", pod) is not None  # not deleted: scaled down instead
    kube.delete("pod", pod)  # what the ReplicaSet would do at zero replicas
    kube.patch("atlasschema", "np", {"spec": {"schema": {"sql": TABLE.replace(")", ", c int)")}}})
    kube.wait_for("deployment", "np-atlas-dev-db", lambda d: d["spec"]["replicas"] == 1)
    assert "ScaledUpDevDB" in [e["reason"] for e in kube.events("np")]
    play_kubelet(kube, deployment, dev, "b")
    kube.wait_for(
        "atlasschema",
        "np",
        lambda o: condition(o)["status"] == "True" and o["status"]["observedGeneration"] == 2,
        timeout=30,
    )


def test_custom_dev_database_spec_is_used_and_updated(
    operator: OperatorProcess, kube: Kube, dbs: Databases, kubelet: FakeKubelet
) -> None:
    url = dbs.new("mariadb")
    pod_spec = {"containers": [{"name": "mysql-dev-foo", "image": "mysql:8"}]}
    spec = {
        "url": url_text(url),
        "devURL": "mysql://root:pass@localhost:3306/dev",
        "devDB": {"spec": pod_spec},
        "schema": {"sql": "create table t (id int primary key);"},
    }
    kube.apply(resource("AtlasSchema", "custom", spec))
    kube.wait_ready("atlasschema", "custom", timeout=60)
    deployment = kube.get("deployment", "custom-atlas-dev-db")
    assert deployment is not None
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "mysql-dev-foo"
    assert deployment["spec"]["template"]["metadata"]["annotations"]["atlasgo.io/conntmpl"] == (
        "mysql://root:pass@localhost:3306/dev"
    )
    pod_spec["containers"][0]["name"] = "mysql-dev-bar"
    kube.patch("atlasschema", "custom", {"spec": {"devDB": {"spec": pod_spec}}})
    kube.wait_for(
        "deployment",
        "custom-atlas-dev-db",
        lambda d: d["spec"]["template"]["spec"]["containers"][0]["name"] == "mysql-dev-bar",
    )
    assert "UpdatedDevDB" in [e["reason"] for e in kube.events("custom")]
