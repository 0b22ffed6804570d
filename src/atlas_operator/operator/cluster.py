"""The cluster-backed sides of a reconcile: referenced objects read from the API
server (remembering secret values so messages can be scrubbed of them), and the
AtlasMigration directory state kept in upstream's Secret."""

from __future__ import annotations

import base64
from typing import Any

from atlas_operator.engine.migrate.dir import MigrationDir
from atlas_operator.operator.dirstate import ARCHIVE_KEY, archive, state_secret_name, unarchive
from atlas_operator.operator.kube import KubeApi
from atlas_operator.operator.redact import sensitive_parts

STATE_SECRET_TYPE = "atlasgo.io/db.v1"


def owner_reference(body: dict[str, Any]) -> dict[str, Any]:
    """A controller reference to `body`, so garbage collection follows the resource."""
    return {
        "apiVersion": body["apiVersion"],
        "kind": body["kind"],
        "name": body["metadata"]["name"],
        "uid": body["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


class ApiObjects:
    """An ObjectSource over the API server that remembers every secret value it read."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api
        self.secret_values: set[str] = set()

    def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        data = self.api.secret_data(namespace, name)
        for value in (data or {}).values():
            self.secret_values.update(sensitive_parts(value))
        return data

    def configmap_data(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.api.configmap_data(namespace, name)


class SecretDirState:
    """Upstream's `io.atlasgo.db.v1.<name>.latest` Secret (§2.4 step 9), owned by the
    AtlasMigration and labelled as upstream does."""

    def __init__(self, api: KubeApi, owner: dict[str, Any]) -> None:
        self.api = api
        self.owner = owner

    def load(self, namespace: str, name: str) -> MigrationDir | None:
        secret = self.api.get_secret(namespace, state_secret_name(name))
        data = (secret or {}).get("data") or {}
        if ARCHIVE_KEY not in data:
            return None
        return unarchive(base64.b64decode(data[ARCHIVE_KEY]))

    def save(self, namespace: str, name: str, directory: MigrationDir) -> None:
        labels = dict(self.owner["metadata"].get("labels") or {})
        labels.update({"name": name, "owner": "atlasgo.io"})
        self.api.create_or_replace_secret(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": STATE_SECRET_TYPE,
                "metadata": {
                    "name": state_secret_name(name),
                    "namespace": namespace,
                    "labels": labels,
                    "ownerReferences": [owner_reference(self.owner)],
                },
                "data": {ARCHIVE_KEY: base64.b64encode(archive(directory)).decode()},
            }
        )
