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
from atlas_operator.operator.context import ReconcileContext
from atlas_operator.operator.dirstate import DirStateStore, FileDirState, MemoryDirState
from atlas_operator.operator.outcome import Outcome, schedule
from atlas_operator.operator.resources import API_VERSION, AtlasMigration, AtlasSchema

MAX_IMMEDIATE_PASSES = 5


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
    resources = [d for d in documents if d.get("apiVersion") == API_VERSION]
    if not resources:
        raise ValueError("no AtlasSchema or AtlasMigration resources in the given files")
    states: DirStateStore = (
        FileDirState(Path(args.state_dir)) if args.state_dir else MemoryDirState()
    )
    ctx = ReconcileContext(source=FileObjects(documents), states=states, allow_custom_config=False)
    failed = False
    outputs = []
    for doc in resources:
        doc.setdefault("metadata", {}).setdefault("namespace", "default")
        resource = parse_resource(doc)
        outcome = reconcile_until_settled(resource, ctx)
        failed |= not outcome.ready
        outputs.append(
            {
                "kind": resource.kind_name,
                "name": resource.metadata.name,
                "namespace": resource.metadata.namespace,
                "status": outcome.status.to_json(),
            }
        )
    yaml.safe_dump_all(outputs, sys.stdout, sort_keys=False, width=1000)
    if failed:
        raise ValueError("some resources are not Ready (see their status above)")


def parse_resource(doc: dict[str, Any]) -> AtlasSchema | AtlasMigration:
    kind = doc.get("kind")
    if kind == "AtlasSchema":
        return AtlasSchema.model_validate(doc)
    if kind == "AtlasMigration":
        return AtlasMigration.model_validate(doc)
    raise ValueError(f"{kind}: not a kind this operator reconciles")


def reconcile_until_settled(
    resource: AtlasSchema | AtlasMigration, ctx: ReconcileContext
) -> Outcome[Any]:
    """Runs passes as the operator would, as long as a pass asks to come back at once
    (first sight, a changed hash); a pass that would wait ends local mode."""
    for _ in range(MAX_IMMEDIATE_PASSES):
        outcome: Outcome[Any] = reconcile_once(resource, ctx)
        schedule(outcome, resource.spec.backoff_limit)
        resource.status = outcome.status
        if outcome.requeue_after != 0:
            break
    return outcome


def reconcile_once(resource: AtlasSchema | AtlasMigration, ctx: ReconcileContext) -> Outcome[Any]:
    if isinstance(resource, AtlasSchema):
        return reconcile_schema(resource, ctx)
    return reconcile_migration(resource, ctx)


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
