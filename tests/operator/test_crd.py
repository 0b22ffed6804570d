"""The CRDs generated from the models: structural, upstream-shaped, checked in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from atlas_operator.engine.changes import OBJECT_KINDS, SKIP_KEYS
from atlas_operator.operator.crd import build_crd, crd_file_name, render_crds
from atlas_operator.operator.resources import RESOURCE_KINDS, AtlasMigration, AtlasSchema, Resource

CRD_DIR = Path(__file__).resolve().parents[2] / "config" / "crd"


def openapi(kind: type[Resource]) -> dict[str, Any]:
    schema: dict[str, Any] = build_crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def walk(schema: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(schema, dict):
        found.append(schema)
        for value in schema.values():
            found.extend(walk(value))
    elif isinstance(schema, list):
        for value in schema:
            found.extend(walk(value))
    return found


@pytest.mark.parametrize("kind", RESOURCE_KINDS)
def test_checked_in_crd_matches_the_models(kind: type[Resource]) -> None:
    checked_in = CRD_DIR / crd_file_name(kind)
    assert checked_in.read_text() == yaml.safe_dump(build_crd(kind), sort_keys=True, width=1000), (
        f"{checked_in} is stale: run `atlas-operator crds --output-dir config/crd`"
    )


@pytest.mark.parametrize("kind", RESOURCE_KINDS)
def test_crd_schema_is_structural(kind: type[Resource]) -> None:
    for node in walk(openapi(kind)):
        assert "$ref" not in node
        assert "anyOf" not in node
        if "properties" in node or "additionalProperties" in node:
            assert node.get("type") == "object"


@pytest.mark.parametrize("kind", RESOURCE_KINDS)
def test_crd_has_upstream_columns_status_and_default(kind: type[Resource]) -> None:
    version = build_crd(kind)["spec"]["versions"][0]
    assert [c["name"] for c in version["additionalPrinterColumns"]] == ["Ready", "Reason"]
    assert version["additionalPrinterColumns"][0]["jsonPath"] == (
        '.status.conditions[?(@.type=="Ready")].status'
    )
    assert version["subresources"] == {"status": {}}
    status = openapi(kind)["properties"]["status"]
    assert status["default"] == {"observedGeneration": -1}
    assert status["properties"]["failed"]["default"] == 0
    assert status["properties"]["observed_hash"]["type"] == "string"


def test_enums_and_defaults_match_upstream() -> None:
    schema_spec = openapi(AtlasSchema)["properties"]["spec"]["properties"]
    assert schema_spec["txMode"]["enum"] == ["file", "all", "none"]
    assert schema_spec["txMode"]["default"] == "file"
    assert schema_spec["backoffLimit"]["default"] == 20
    assert schema_spec["policy"]["properties"]["lint"]["properties"]["review"]["enum"] == [
        "ALWAYS",
        "WARNING",
        "ERROR",
    ]
    skip = schema_spec["policy"]["properties"]["diff"]["properties"]["skip"]["properties"]
    # Upstream's 15 keys, all kept; then one per object kind and change (an addition).
    upstream = {
        f"{verb}_{thing}"
        for thing in ("schema", "table", "column", "index", "foreign_key")
        for verb in ("add", "drop", "modify")
    }
    assert upstream <= set(skip)
    assert len(skip) == 15 + 3 * len(OBJECT_KINDS)
    assert set(skip) == set(SKIP_KEYS)
    assert schema_spec["urlFrom"]["properties"]["secretKeyRef"]["x-kubernetes-map-type"] == "atomic"

    migration = openapi(AtlasMigration)["properties"]["spec"]
    assert migration["required"] == ["dir"]
    assert migration["properties"]["execOrder"]["enum"] == ["linear", "linear-skip", "non-linear"]
    down = migration["properties"]["protectedFlows"]["properties"]["migrateDown"]["properties"]
    assert down["allow"]["default"] is False
    assert down["autoApprove"]["default"] is False


def test_render_crds_is_a_two_document_stream() -> None:
    documents = list(yaml.safe_load_all(render_crds()))
    assert [d["metadata"]["name"] for d in documents] == [
        "atlasschemas.db.atlasgo.io",
        "atlasmigrations.db.atlasgo.io",
    ]
