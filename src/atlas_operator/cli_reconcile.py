"""`atlas-operator reconcile -f FILE.yaml`: local mode (DECISIONS.md §8).

Runs the operator's reconcilers over the resources in the files, resolving
Secrets and ConfigMaps from the same files, with no cluster, and prints each
resource's resulting status as YAML.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from atlas_operator.operator.atlasmigration import reconcile_migration
from atlas_operator.operator.atlasschema import reconcile_schema
from atlas_operator.operator.conditions import REASON_FIRST_RUN_DESTRUCTIVE
from atlas_operator.operator.context import ReconcileContext
from atlas_operator.operator.dirstate import DirStateStore, FileDirState, MemoryDirState
from atlas_operator.operator.manifests import (
    MAX_MANIFEST_BYTES,
    Manifest,
    ManifestError,
    load_manifests,
    secret_data,
)
from atlas_operator.operator.outcome import Outcome, schedule
from atlas_operator.operator.resources import API_VERSION, AtlasMigration, AtlasSchema

MAX_IMMEDIATE_PASSES = 5


class FileObjects:
    """Secrets and ConfigMaps read from manifest files (an `ObjectSource`)."""

    def __init__(self, manifests: list[Manifest]) -> None:
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}
        self.configmaps: dict[tuple[str, str], dict[str, str]] = {}
        for manifest in manifests:
            if manifest.body.get("apiVersion") != "v1":
                continue
            key = (manifest.namespace, manifest.name)
            if manifest.kind == "Secret":
                self.secrets[key] = secret_data(manifest)
            elif manifest.kind == "ConfigMap":
                self.configmaps[key] = dict(manifest.body.get("data") or {})

    def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.secrets.get((namespace, name))

    def configmap_data(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.configmaps.get((namespace, name))


def read_manifest_file(path: str) -> bytes:
    """The bytes of one `-f` argument (`-` is stdin), refused early when over the limit."""
    if path == "-":
        data = sys.stdin.buffer.read(MAX_MANIFEST_BYTES + 1)
    else:
        try:
            with Path(path).open("rb") as file:
                data = file.read(MAX_MANIFEST_BYTES + 1)
        except OSError as err:
            raise ManifestError(f"{path}: cannot read: {err.strerror or err}") from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(
            f"{path}: over the limit of {MAX_MANIFEST_BYTES} bytes per manifest file"
        )
    return data


def load_documents(paths: list[str]) -> list[Manifest]:
    manifests: list[Manifest] = []
    for path in paths:
        manifests.extend(load_manifests(read_manifest_file(path), "stdin" if path == "-" else path))
    return manifests


def cmd_reconcile(args: argparse.Namespace) -> None:
    manifests = load_documents(args.file)
    resources = [parse_resource(m) for m in manifests if m.body.get("apiVersion") == API_VERSION]
    if not resources:
        raise ValueError("no AtlasSchema or AtlasMigration resources in the given files")
    states: DirStateStore = (
        FileDirState(Path(args.state_dir)) if args.state_dir else MemoryDirState()
    )
    ctx = ReconcileContext(source=FileObjects(manifests), states=states, allow_custom_config=False)
    statuses = StatusFiles(Path(args.state_dir)) if args.state_dir else None
    failed = False
    outputs = []
    for resource in resources:
        if statuses is not None:
            statuses.restore(resource)
        outcome = reconcile_until_settled(resource, ctx)
        if statuses is not None:
            statuses.save(resource)
        elif outcome.reason == REASON_FIRST_RUN_DESTRUCTIVE:
            print(LOCAL_FIRST_RUN_HINT, file=sys.stderr)
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


LOCAL_FIRST_RUN_HINT = (
    "local mode: without --state-dir every run is a first run; run once with "
    "--state-dir DIR to record the status, then again with the same DIR to apply "
    "destructive changes your policy allows"
)


class StatusFiles:
    """Each resource's status between local-mode runs (`--state-dir`), so a second run
    is not a first run, as in a cluster where the status lives on the object."""

    def __init__(self, root: Path) -> None:
        self.root = root / "status"

    def path(self, resource: AtlasSchema | AtlasMigration) -> Path:
        meta = resource.metadata
        return self.root / resource.kind_name / (meta.namespace or "default") / f"{meta.name}.json"

    def restore(self, resource: AtlasSchema | AtlasMigration) -> None:
        path = self.path(resource)
        if not path.is_file():
            return
        try:
            saved = json.loads(path.read_text())
            resource.status = type(resource.status).model_validate(saved)
        except (OSError, ValueError) as err:
            raise ValueError(f"{path}: cannot read the saved status: {err}") from None

    def save(self, resource: AtlasSchema | AtlasMigration) -> None:
        path = self.path(resource)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(resource.status.to_json(), indent=1, sort_keys=True))


def parse_resource(manifest: Manifest) -> AtlasSchema | AtlasMigration:
    """The resource model of a document, or a `ManifestError` naming the first bad field."""
    body = dict(manifest.body)
    body["metadata"] = {"namespace": "default", **body["metadata"]}
    model: type[AtlasSchema | AtlasMigration]
    if manifest.kind == "AtlasSchema":
        model = AtlasSchema
    elif manifest.kind == "AtlasMigration":
        model = AtlasMigration
    else:
        raise ManifestError(f"{manifest.where()}: not a kind this operator reconciles")
    try:
        return model.model_validate(body)
    except ValidationError as err:
        raise ManifestError(f"{manifest.where()}: {validation_problem(err)}") from None


def validation_problem(err: ValidationError) -> str:
    """The first problem pydantic found, as `field.path: message` on one line; the input
    value is left out (it may be a credential)."""
    first = err.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(part) for part in first["loc"])
    more = err.error_count() - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{field or 'the object'}: {' '.join(first['msg'].split())}{suffix}"


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
