"""The resource models parse upstream manifests and keep upstream's JSON names and defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from atlas_operator.operator.resources import (
    AtlasMigration,
    AtlasSchema,
    ExecOrder,
    TxMode,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return document


def test_seed_atlasschema_parses_with_upstream_defaults() -> None:
    schema = AtlasSchema.model_validate(load("atlasschema-mysql.yaml"))
    assert schema.spec.url_from is not None
    assert schema.spec.url_from.secret_key_ref is not None
    assert schema.spec.url_from.secret_key_ref.name == "mysql-credentials"
    assert schema.spec.schema_ is not None
    assert schema.spec.schema_.sql is not None
    assert "auto_increment" in schema.spec.schema_.sql
    assert schema.spec.tx_mode is TxMode.FILE
    assert schema.spec.backoff_limit == 20
    assert schema.status.observed_generation == -1
    assert schema.status.failed == 0


def test_policy_example_keeps_snake_case_policy_keys() -> None:
    schema = AtlasSchema.model_validate(load("atlasschema-policy.yaml"))
    dumped = schema.to_json()
    assert dumped["spec"]["policy"] == {
        "lint": {"destructive": {"error": True}},
        "diff": {"skip": {"drop_index": True}},
    }
    assert dumped["spec"]["exclude"] == ["ignore_me"]


@pytest.mark.parametrize("name", ["atlasmigration.yaml", "atlasmigration-inline.yaml"])
def test_seed_atlasmigrations_parse(name: str) -> None:
    migration = AtlasMigration.model_validate(load(name))
    assert migration.spec.exec_order is ExecOrder.LINEAR
    directory = migration.spec.dir
    assert (directory.config_map_ref is not None) != (directory.local is not None)
    if directory.local is not None:
        assert set(directory.local) == {"20230316085611.sql", "atlas.sum"}


def test_json_round_trip_uses_upstream_field_names() -> None:
    document = {
        "apiVersion": "db.atlasgo.io/v1alpha1",
        "kind": "AtlasMigration",
        "metadata": {"name": "m", "namespace": "ns", "uid": "kept-as-is"},
        "spec": {
            "urlFrom": {"secretKeyRef": {"name": "s", "key": "url"}},
            "devURLFrom": {"secretKeyRef": {"name": "d", "key": "url"}},
            "dir": {"configMapRef": {"name": "migrations"}},
            "revisionsSchema": "atlas",
            "execOrder": "non-linear",
            "protectedFlows": {"migrateDown": {"allow": True, "autoApprove": True}},
            "backoffLimit": 0,
        },
        "status": {
            "observedGeneration": 3,
            "lastAppliedVersion": "20230316085611",
            "lastApplied": 1710343398,
            "observed_hash": "abc",
            "failed": 2,
        },
    }
    dumped = AtlasMigration.model_validate(document).to_json()
    assert dumped["spec"]["protectedFlows"] == {"migrateDown": {"allow": True, "autoApprove": True}}
    assert dumped["spec"]["execOrder"] == "non-linear"
    assert dumped["spec"]["devURLFrom"]["secretKeyRef"] == {"key": "url", "name": "d"}
    assert dumped["status"]["observed_hash"] == "abc"
    assert dumped["status"]["lastApplied"] == 1710343398
    assert dumped["metadata"]["uid"] == "kept-as-is"


@pytest.mark.parametrize(
    ("kind", "spec", "field"),
    [
        (AtlasSchema, {"txMode": "sometimes"}, "txMode"),
        (AtlasMigration, {"dir": {}, "execOrder": "random"}, "execOrder"),
        (AtlasSchema, {"policy": {"lint": {"review": "NEVER"}}}, "review"),
        (AtlasSchema, {"urlFrom": {"secretKeyRef": {"name": "no-key"}}}, "key"),
        (AtlasMigration, {}, "dir"),
        (AtlasSchema, {"sqlSchema": "typo"}, "sqlSchema"),
    ],
)
def test_invalid_spec_is_rejected_naming_the_field(
    kind: type[AtlasSchema] | type[AtlasMigration], spec: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        kind.model_validate({"metadata": {"name": "x"}, "spec": spec})
    assert field in str(raised.value)


def test_dev_db_pod_spec_keeps_every_pod_field() -> None:
    pod = {
        "containers": [
            {"name": "postgres", "image": "postgres:16", "env": [{"name": "A", "value": "b"}]}
        ],
        "securityContext": {"runAsNonRoot": True},
    }
    schema = AtlasSchema.model_validate({"spec": {"devDB": {"spec": pod}}})
    assert schema.to_json()["spec"]["devDB"]["spec"] == pod
