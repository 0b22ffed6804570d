"""`atlas-operator reconcile -f FILE.yaml`: local mode (DECISIONS.md §8).

Runs the operator's reconcilers over the resources in the files, resolving
Secrets and ConfigMaps from the same files, with no cluster, and prints each
resource's resulting status as YAML.
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path
from typing import Any

import yaml

from atlas_operator.operator.atlasmigration import reconcile_migration
from atlas_operator.operator.atlasschema import reconcile_schema
from atlas_operator.operator.conditions import ready_condition
from atlas_operator.operator.dirstate import DirStateStore, FileDirState, MemoryDirState
from atlas_operator.operator.resources import (
    API_VERSION,
    AtlasMigration,
    AtlasMigrationStatus,
    AtlasSchema,
    AtlasSchemaStatus,
)


class FileObjects:
    """Secrets and ConfigMaps read from manifest files (an `ObjectSource`)."""

    def __init__(self, documents: list[dict[str, Any]]) -> None:
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}
        self.configmaps: dict[tuple[str, str], dict[str, str]] = {}
        for doc in documents:
            key = (namespace_of(doc), doc.get("metadata", {}).get("name", ""))
            if doc.get("kind") == "Secret":
                data = {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
                data.update(doc.get("stringData") or {})
                self.secrets[key] = data
            elif doc.get("kind") == "ConfigMap":
                self.configmaps[key] = dict(doc.get("data") or {})

    def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.secrets.get((namespace, name))

    def configmap_data(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.configmaps.get((namespace, name))


def namespace_of(doc: dict[str, Any]) -> str:
    return str(doc.get("metadata", {}).get("namespace") or "default")


def load_documents(paths: list[str]) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in paths:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        documents.extend(d for d in yaml.safe_load_all(text) if isinstance(d, dict))
    return documents


def cmd_reconcile(args: argparse.Namespace) -> None:
    documents = load_documents(args.file)
    objects = FileObjects(documents)
    resources = [d for d in documents if d.get("apiVersion") == API_VERSION]
    if not resources:
        raise ValueError("no AtlasSchema or AtlasMigration resources in the given files")
    states: DirStateStore = (
        FileDirState(Path(args.state_dir)) if args.state_dir else MemoryDirState()
    )
    failed = False
    outputs = []
    for doc in resources:
        kind = doc.get("kind")
        doc.setdefault("metadata", {}).setdefault("namespace", "default")
        status: AtlasSchemaStatus | AtlasMigrationStatus
        if kind == "AtlasSchema":
            schema = AtlasSchema.model_validate(doc)
            status, metadata = reconcile_schema(schema, objects), schema.metadata
        elif kind == "AtlasMigration":
            migration = AtlasMigration.model_validate(doc)
            status, metadata = reconcile_migration(migration, objects, states), migration.metadata
        else:
            raise ValueError(f"{kind}: not a kind this operator reconciles")
        ready = ready_condition(status)
        failed |= ready is None or ready.status.value != "True"
        outputs.append(
            {
                "kind": kind,
                "name": metadata.name,
                "namespace": metadata.namespace,
                "status": status.to_json(),
            }
        )
    yaml.safe_dump_all(outputs, sys.stdout, sort_keys=False, width=1000)
    if failed:
        raise ValueError("some resources are not Ready (see their status above)")


def add_reconcile_command(verbs: Any) -> None:
    reconcile = verbs.add_parser(
        "reconcile", help="reconcile resources from files, without a cluster (local mode)"
    )
    reconcile.add_argument("-f", "--file", action="append", required=True, metavar="FILE")
    reconcile.add_argument(
        "--state-dir",
        metavar="DIR",
        help="keep AtlasMigration directory states here between runs (enables migrate down)",
    )
    reconcile.set_defaults(run=cmd_reconcile)
