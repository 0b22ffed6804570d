"""The real kube-apiserver accepts our CRDs and the seed's manifests, and enforces the schema."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.rig.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def namespace(control_plane: ControlPlane) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", name)
    return name


def test_crds_are_established(control_plane: ControlPlane) -> None:
    for name in ("atlasschemas.db.atlasgo.io", "atlasmigrations.db.atlasgo.io"):
        crd = control_plane.kubectl_json("get", "crd", name)
        established = [c for c in crd["status"]["conditions"] if c["type"] == "Established"]
        assert established[0]["status"] == "True"


@pytest.mark.parametrize(
    "files",
    [
        ["atlasschema-mysql.yaml"],
        ["atlasschema-policy.yaml"],
        ["migrationdir.yaml", "atlasmigration.yaml"],
        ["atlasmigration-inline.yaml"],
    ],
)
def test_seed_manifests_are_accepted(
    control_plane: ControlPlane, namespace: str, files: list[str]
) -> None:
    for file in files:
        result = control_plane.kubectl(
            "apply", "--server-side", "-n", namespace, "-f", str(EXAMPLES / file)
        )
        assert "serverside-applied" in result.stdout


def test_server_applies_upstream_defaults(control_plane: ControlPlane, namespace: str) -> None:
    control_plane.kubectl(
        "apply", "--server-side", "-n", namespace, "-f", str(EXAMPLES / "atlasschema-mysql.yaml")
    )
    control_plane.kubectl(
        "apply", "--server-side", "-n", namespace, "-f", str(EXAMPLES / "atlasmigration.yaml")
    )
    schema = control_plane.kubectl_json("get", "-n", namespace, "atlasschema/atlasschema-mysql")
    assert schema["spec"]["txMode"] == "file"
    assert schema["spec"]["backoffLimit"] == 20
    assert schema["spec"]["urlFrom"]["secretKeyRef"] == {"key": "url", "name": "mysql-credentials"}
    # The status default, with the nested `failed` default applied inside it (as upstream).
    assert schema["status"] == {"observedGeneration": -1, "failed": 0}
    migration = control_plane.kubectl_json(
        "get", "-n", namespace, "atlasmigration/atlasmigration-sample"
    )
    assert migration["spec"]["execOrder"] == "linear"
    assert migration["status"] == {"observedGeneration": -1, "failed": 0}


@pytest.mark.parametrize(
    ("manifest", "field", "value"),
    [
        (
            {"kind": "AtlasSchema", "spec": {"url": "sqlite://x", "txMode": "sometimes"}},
            "spec.txMode",
            "sometimes",
        ),
        (
            {"kind": "AtlasMigration", "spec": {"dir": {"local": {}}, "execOrder": "random"}},
            "spec.execOrder",
            "random",
        ),
    ],
)
def test_invalid_enum_is_rejected_naming_the_field(
    control_plane: ControlPlane, namespace: str, manifest: dict[str, object], field: str, value: str
) -> None:
    document = {
        "apiVersion": "db.atlasgo.io/v1alpha1",
        "metadata": {"name": "invalid", "namespace": namespace},
        **manifest,
    }
    result = control_plane.kubectl(
        "apply", "--server-side", "-f", "-", input=json.dumps(document), check=False
    )
    assert result.returncode != 0
    assert field in result.stderr
    assert f'"{value}"' in result.stderr
    assert "supported values" in result.stderr


def test_migration_without_dir_is_rejected(control_plane: ControlPlane, namespace: str) -> None:
    document = {
        "apiVersion": "db.atlasgo.io/v1alpha1",
        "kind": "AtlasMigration",
        "metadata": {"name": "no-dir", "namespace": namespace},
        "spec": {"url": "sqlite://x"},
    }
    result = control_plane.kubectl(
        "apply", "--server-side", "-f", "-", input=json.dumps(document), check=False
    )
    assert result.returncode != 0
    assert "spec.dir" in result.stderr
    assert "Required value" in result.stderr


def test_get_shows_ready_and_reason_columns(control_plane: ControlPlane, namespace: str) -> None:
    control_plane.kubectl(
        "apply", "--server-side", "-n", namespace, "-f", str(EXAMPLES / "atlasschema-mysql.yaml")
    )
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "Applied",
        "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    control_plane.kubectl(
        "patch",
        "-n",
        namespace,
        "atlasschema/atlasschema-mysql",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"conditions": [ready]}}),
    )
    table = control_plane.kubectl("get", "-n", namespace, "atlasschemas").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "REASON"]
    assert table[1].split()[:3] == ["atlasschema-mysql", "True", "Applied"]
