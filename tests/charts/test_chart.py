"""The Helm chart: lint, CRDs in sync, and rendered manifests the real API server
accepts (server-side dry run), with the values users set most."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from atlas_operator.operator.crd import render_crds
from tests.rig.controlplane import ControlPlane, control_plane_bin_dir

CHART = Path(__file__).resolve().parents[2] / "charts" / "atlas-operator"

# The seed's examples, with the two volumes given distinct names (the seed reuses
# "my-volume", which no API server accepts twice in one pod).
SEED_VALUES: dict[str, Any] = {
    "extraEnvs": [
        {"name": "MSSQL_ACCEPT_EULA", "value": "Y"},
        {"name": "MSSQL_PID", "value": "Developer"},
        {
            "name": "ATLAS_TOKEN",
            "valueFrom": {"secretKeyRef": {"key": "ATLAS_TOKEN", "name": "atlas-token-secret"}},
        },
        {
            "name": "BAZ",
            "valueFrom": {"configMapKeyRef": {"key": "BAZ", "name": "configmap-resource"}},
        },
    ],
    "extraVolumes": [
        {"name": "my-volume", "secret": {"secretName": "my-secret"}},
        {"name": "my-config", "configMap": {"name": "my-configmap"}},
    ],
    "extraVolumeMounts": [
        {"name": "my-volume", "mountPath": "/path/to/mount"},
        {"name": "my-config", "mountPath": "/path/to/config"},
    ],
}


def helm(*args: str, values: dict[str, Any] | None = None) -> str:
    command = [str(control_plane_bin_dir() / "helm"), *args]
    result = subprocess.run(
        [*command, "-f", "-"] if values is not None else command,
        # JSON, so "Y" stays a string (YAML 1.1 would read it as true, as users' files do
        # unless quoted).
        input=json.dumps(values) if values is not None else None,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def render(
    values: dict[str, Any] | None = None, namespace: str = "atlas-operator"
) -> list[dict[str, Any]]:
    out = helm(
        "template", "atlas-operator", str(CHART), "--namespace", namespace, values=values or {}
    )
    return [d for d in yaml.safe_load_all(out) if d]


def manager(documents: list[dict[str, Any]]) -> dict[str, Any]:
    [deployment] = [d for d in documents if d["kind"] == "Deployment"]
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


def test_lint_is_clean() -> None:
    helm("lint", "--strict", str(CHART))
    helm("lint", "--strict", str(CHART), values=SEED_VALUES | {"persistence": {"enabled": True}})


def test_chart_crds_are_the_generated_ones() -> None:
    text = (CHART / "templates" / "crds" / "crd.yaml").read_text()
    assert text.startswith("{{- if .Values.crds.create }}\n")
    assert text.removeprefix("{{- if .Values.crds.create }}\n").removesuffix("{{- end }}\n") == (
        render_crds()
    )
    kinds = [d["kind"] for d in render({"crds": {"create": False}})]
    assert "CustomResourceDefinition" not in kinds


def test_environment_arguments_and_volumes_are_pinned() -> None:
    pod = manager(
        render(
            SEED_VALUES
            | {
                "prewarmDevDB": False,
                "labelSelector": ["team=alpha", "env in (a,b)"],
                "watchNamespaces": ["a", "b"],
            }
        )
    )
    [container] = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["PREWARM_DEVDB"]["value"] == "false"
    assert env["ALLOW_CUSTOM_CONFIG"]["value"] == "false"
    assert env["ATLAS_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "atlas-token-secret"
    assert env["BAZ"]["valueFrom"]["configMapKeyRef"]["key"] == "BAZ"
    assert env["MSSQL_PID"]["value"] == "Developer"
    assert "DATA_DIR" not in env
    assert {"name": "my-volume", "mountPath": "/path/to/mount"} in container["volumeMounts"]
    assert {"name": "my-config", "configMap": {"name": "my-configmap"}} in pod["volumes"]
    assert "--label-selector=team=alpha,env in (a,b)" in container["args"]
    assert "--namespace=a,b" in container["args"]
    assert "--leader-elect" not in container["args"]
    assert container["name"] == "manager"


def test_persistence_replicas_and_security_context() -> None:
    documents = render({"persistence": {"enabled": True}, "replicaCount": 2})
    pod = manager(documents)
    [container] = pod["containers"]
    assert {e["name"]: e.get("value") for e in container["env"]}["DATA_DIR"] == "/data"
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
    # fsGroup is added to podSecurityContext, never replacing it (upstream quirk).
    assert pod["securityContext"] == {"runAsNonRoot": True, "fsGroup": 65532}
    assert "--leader-elect" in container["args"]
    assert any(d["kind"] == "PersistentVolumeClaim" for d in documents)


@pytest.mark.controlplane
@pytest.mark.parametrize(
    "values",
    [
        {},
        SEED_VALUES,
        {
            "persistence": {"enabled": True},
            "rbac": {"aggregateClusterRoles": True},
            "replicaCount": 2,
        },
    ],
    ids=["defaults", "seed-extras", "persistence-aggregate"],
)
def test_api_server_accepts_the_rendered_chart(
    control_plane: ControlPlane, values: dict[str, Any]
) -> None:
    namespace = f"chart-{uuid.uuid4().hex[:6]}"
    control_plane.kubectl("create", "namespace", namespace)
    manifests = helm(
        "template", "atlas-operator", str(CHART), "--namespace", namespace, values=values
    )
    result = control_plane.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--force-conflicts",
        "-n",
        namespace,
        "-f",
        "-",
        input=manifests,
    )
    assert "serverside-applied (server dry run)" in result.stdout


# Every key of upstream's values.yaml with its default (upstream-operator.md §4.1): a
# values file written for the Go operator's chart must install ours unchanged.
UPSTREAM_VALUES: dict[str, Any] = {
    "replicaCount": 1,
    "image": {"repository": "arigaio/atlas-operator", "pullPolicy": "IfNotPresent", "tag": ""},
    "rbac": {"create": True, "aggregateClusterRoles": False},
    "crds": {"create": True},
    "imagePullSecrets": [],
    "nameOverride": "",
    "fullnameOverride": "",
    "serviceAccount": {"create": True, "annotations": {}, "labels": {}, "name": ""},
    "podAnnotations": {},
    "podLabels": {},
    "podSecurityContext": {"runAsNonRoot": True},
    "containerSecurityContext": {
        "runAsUser": 65532,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    },
    "resources": {},
    "nodeSelector": {},
    "tolerations": [],
    "affinity": {},
    "priorityClassName": "",
    "revisionHistoryLimit": 3,
    "prewarmDevDB": True,
    "allowCustomConfig": False,
    "labelSelector": [],
    "watchNamespaces": [],
    "extraEnvs": [],
    "persistence": {
        "enabled": False,
        "accessModes": ["ReadWriteOnce"],
        "size": "1Gi",
        "mountPath": "/data",
        "fsGroup": 65532,
        "annotations": {},
    },
    "extraVolumes": [],
    "extraVolumeMounts": [],
}


def helm_error(*args: str, values: dict[str, Any]) -> str:
    command = [str(control_plane_bin_dir() / "helm"), *args, "-f", "-"]
    result = subprocess.run(
        command, input=json.dumps(values), capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0, "helm accepted invalid values"
    return result.stderr


def test_values_schema_accepts_upstream_values_files() -> None:
    helm("lint", "--strict", str(CHART), values=UPSTREAM_VALUES)
    pod = manager(render(UPSTREAM_VALUES | {"prewarmDevDB": "false"}))
    [container] = pod["containers"]
    assert {e["name"]: e.get("value") for e in container["env"]}["PREWARM_DEVDB"] == "false"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"prewarmDevdb": False}, "additional properties 'prewarmDevdb' not allowed"),
        ({"prewarmDevDB": "maybe"}, "at '/prewarmDevDB'"),
        ({"replicaCount": -1}, "at '/replicaCount': minimum"),
        ({"extraEnvs": [{"value": "x"}]}, "at '/extraEnvs/0': missing property 'name'"),
        (
            {"extraVolumeMounts": [{"name": "a", "mountPath": "data"}]},
            "at '/extraVolumeMounts/0/mountPath'",
        ),
        ({"watchNamespaces": ["Team_A"]}, "at '/watchNamespaces/0'"),
        ({"persistence": {"size": "lots"}}, "at '/persistence/size'"),
        ({"image": {"pullPolicy": "Sometimes"}}, "at '/image/pullPolicy'"),
        ({"labelSelector": "team=a"}, "at '/labelSelector'"),
    ],
)
def test_values_schema_names_the_bad_value(values: dict[str, Any], message: str) -> None:
    assert message in helm_error("template", "x", str(CHART), values=values)


def test_pod_monitor_selects_the_operator_pods_metrics_port() -> None:
    assert not [d for d in render() if d["kind"] == "PodMonitor"]
    documents = render(
        {"metrics": {"podMonitor": {"enabled": True, "interval": "15s", "labels": {"p": "x"}}}}
    )
    [monitor] = [d for d in documents if d["kind"] == "PodMonitor"]
    [deployment] = [d for d in documents if d["kind"] == "Deployment"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert endpoint["port"] in {p["name"] for p in container["ports"]}
    assert endpoint["interval"] == "15s"
    assert monitor["metadata"]["labels"]["p"] == "x"
    assert monitor["metadata"]["namespace"] == "atlas-operator"


def test_watch_namespaces_make_namespaced_roles() -> None:
    documents = render({"watchNamespaces": ["team-a", "team-b"]})
    roles = {(d["kind"], d["metadata"].get("namespace")) for d in documents if "Role" in d["kind"]}
    assert ("Role", "team-a") in roles
    assert ("RoleBinding", "team-b") in roles
    assert ("ClusterRole", None) not in roles
    cluster = {(d["kind"], d["metadata"].get("namespace")) for d in render() if "Role" in d["kind"]}
    assert ("ClusterRole", None) in cluster
    assert ("ClusterRoleBinding", None) in cluster
