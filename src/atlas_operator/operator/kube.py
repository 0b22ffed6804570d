"""The operator's requests to the API server, as plain dicts (lightkube underneath).

Only what the controllers need, with the verbs upstream's RBAC grants (§4.2): read
Secrets and ConfigMaps, write the directory-state Secret, manage the dev-database
Deployment and its pods, record events, write resource status, hold a Lease. Every
object is read fresh: nothing is cached, so the operator never holds every Secret of
its namespaces in memory (upstream quirk 8).
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx2
from lightkube import ApiError, Client, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.types import PatchType

from atlas_operator.operator.resources import GROUP, VERSION

JSON = dict[str, Any]
T = TypeVar("T")

# Generic (dict-backed) resource classes, so every body stays a plain JSON dict.
SECRET: Any = create_namespaced_resource("", "v1", "Secret", "secrets")
CONFIGMAP: Any = create_namespaced_resource("", "v1", "ConfigMap", "configmaps")
POD: Any = create_namespaced_resource("", "v1", "Pod", "pods")
EVENT: Any = create_namespaced_resource("", "v1", "Event", "events")
DEPLOYMENT: Any = create_namespaced_resource("apps", "v1", "Deployment", "deployments")
LEASE: Any = create_namespaced_resource("coordination.k8s.io", "v1", "Lease", "leases")
CUSTOM_KINDS: dict[str, Any] = {
    "AtlasSchema": create_namespaced_resource(GROUP, VERSION, "AtlasSchema", "atlasschemas"),
    "AtlasMigration": create_namespaced_resource(
        GROUP, VERSION, "AtlasMigration", "atlasmigrations"
    ),
}
CONFLICT_RETRIES = 5
EVENT_CACHE_SIZE = 4096
"""Events remembered for aggregation (client-go's `maxLruCacheEntries`)."""
EventKey = tuple[str, ...]
SIMILAR_EVENTS_LIMIT = 10
"""Distinct messages for one object, type and reason before client-go's aggregator
combines them (`defaultAggregateMaxEvents`)."""
SIMILAR_EVENTS_WINDOW = 600.0
"""Seconds a run of similar events is remembered (`defaultAggregateIntervalInSeconds`)."""
COMBINED_PREFIX = "(combined from similar events): "


@dataclass
class SimilarEvents:
    """client-go's aggregate record: the distinct messages seen for one aggregate key."""

    messages: set[str]
    last: float


@dataclass
class SeenEvent:
    name: str
    namespace: str
    count: int
    first: str


def load_config() -> KubeConfig:
    """KUBECONFIG when set (as kubectl), else the in-cluster service account, else
    ~/.kube/config."""
    path = os.environ.get("KUBECONFIG")
    if path:
        return KubeConfig.from_file(Path(path.split(os.pathsep)[0]))
    return KubeConfig.from_env()


def is_status(err: ApiError, code: int) -> bool:
    return err.status.code == code


def not_found_is_none(call: Callable[[], T]) -> T | None:
    try:
        return call()
    except ApiError as err:
        if is_status(err, 404):
            return None
        raise


def decode_data(data: Mapping[str, str] | None) -> dict[str, str]:
    """A Secret's base64 data as text (binary values are kept lossy but never fail)."""
    return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (data or {}).items()}


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KubeApi:
    def __init__(self, client: Client | None = None, field_manager: str = "atlas-operator") -> None:
        # Typed as Any: lightkube's overloads do not cover generic (dict) resources.
        self.client: Any = client or Client(
            load_config(),
            field_manager=field_manager,
            timeout=httpx2.Timeout(30.0),
        )
        self.events_seen: OrderedDict[EventKey, SeenEvent] = OrderedDict()
        self.events_similar: OrderedDict[EventKey, SimilarEvents] = OrderedDict()
        self.events_lock = threading.Lock()

    # --- custom resources --------------------------------------------------------------

    def get_resource(self, kind: str, namespace: str, name: str) -> JSON | None:
        res = CUSTOM_KINDS[kind]
        found = not_found_is_none(lambda: self.client.get(res, name, namespace=namespace))
        return found.to_dict() if found is not None else None

    def write_status(self, kind: str, namespace: str, name: str, status: JSON) -> bool:
        """Copies `status` onto the latest object, retrying on conflicts (upstream's
        RetryOnConflict + Status().Update). False when the resource is gone."""
        res = CUSTOM_KINDS[kind]
        for attempt in range(CONFLICT_RETRIES):
            latest = not_found_is_none(lambda: self.client.get(res, name, namespace=namespace))
            if latest is None:
                return False
            body = latest.to_dict()
            body["status"] = status
            try:
                self.client.replace(res.Status(body), name, namespace=namespace)
                return True
            except ApiError as err:
                if is_status(err, 404):
                    return False
                if not is_status(err, 409) or attempt == CONFLICT_RETRIES - 1:
                    raise
        return False

    # --- Secrets and ConfigMaps (an ObjectSource) ----------------------------------------

    def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        secret = self.get_secret(namespace, name)
        return decode_data(secret.get("data")) if secret is not None else None

    def configmap_data(self, namespace: str, name: str) -> dict[str, str] | None:
        found = not_found_is_none(lambda: self.client.get(CONFIGMAP, name, namespace=namespace))
        if found is None:
            return None
        data: dict[str, str] = dict(found.get("data") or {})
        for key, value in (found.get("binaryData") or {}).items():
            data[key] = base64.b64decode(value).decode("utf-8", "replace")
        return data

    def get_secret(self, namespace: str, name: str) -> JSON | None:
        found = not_found_is_none(lambda: self.client.get(SECRET, name, namespace=namespace))
        return found.to_dict() if found is not None else None

    def create_or_replace_secret(self, body: JSON) -> None:
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        existing = self.get_secret(namespace, name)
        if existing is None:
            self.client.create(SECRET(body), namespace=namespace)
            return
        body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
        self.client.replace(SECRET(body), namespace=namespace)

    # --- events ----------------------------------------------------------------------------

    def record_event(
        self, involved: JSON, type_: str, reason: str, message: str, component: str
    ) -> None:
        """Records an event the way client-go's recorder does: the same event again (same
        object, type, reason, message and source) updates the first one's `count` and
        `lastTimestamp` (`kubectl describe`: `(x5 over 66s)`) instead of adding one; past
        ten distinct messages with one object, type and reason in ten minutes, further
        ones update a single event whose message starts `(combined from similar
        events): `, as client-go's aggregator does."""
        meta = involved["metadata"]
        message = message[:1024]
        similar: EventKey = (
            component,
            str(involved.get("apiVersion")),
            str(involved.get("kind")),
            meta["namespace"],
            meta["name"],
            str(meta.get("uid")),
            type_,
            reason,
        )
        stamp = now_rfc3339()
        with self.events_lock:
            key, message = self.aggregate_event(similar, message)
            seen = self.events_seen.pop(key, None)
            if seen is None:
                seen = SeenEvent(
                    f"{meta['name']}.{secrets.token_hex(8)}", meta["namespace"], 0, stamp
                )
            seen.count += 1
            self.events_seen[key] = seen
            while len(self.events_seen) > EVENT_CACHE_SIZE:
                self.events_seen.popitem(last=False)
            count, name, first = seen.count, seen.name, seen.first
        if count > 1:
            # The message too: a combined event shows the latest of its messages.
            patch = {"count": count, "lastTimestamp": stamp, "message": message}
            patched = not_found_is_none(
                lambda: self.client.patch(
                    EVENT, name, patch, namespace=meta["namespace"], patch_type=PatchType.MERGE
                )
            )
            if patched is not None:
                return
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": type_,
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "reportingComponent": component,
            "firstTimestamp": first,
            "lastTimestamp": stamp,
            "count": count,
        }
        self.client.create(EVENT(event), namespace=meta["namespace"])

    def aggregate_event(self, similar: EventKey, message: str) -> tuple[EventKey, str]:
        """The dedup key and message of an event (client-go's `EventAggregate`): its own
        message while fewer than SIMILAR_EVENTS_LIMIT distinct ones were seen for the
        object, type and reason within the window; after that one combined event."""
        now = time.monotonic()
        record = self.events_similar.pop(similar, None)
        if record is None or now - record.last > SIMILAR_EVENTS_WINDOW:
            record = SimilarEvents(set(), now)
        record.last = now
        self.events_similar[similar] = record
        while len(self.events_similar) > EVENT_CACHE_SIZE:
            self.events_similar.popitem(last=False)
        record.messages.add(message)
        if len(record.messages) < SIMILAR_EVENTS_LIMIT:
            return (*similar, message), message
        # Keep the set bounded, as client-go's PopAny does.
        record.messages.discard(message)
        return (*similar, COMBINED_PREFIX), COMBINED_PREFIX + message

    # --- dev-database Deployments and pods ---------------------------------------------

    def get_deployment(self, namespace: str, name: str) -> JSON | None:
        found = not_found_is_none(lambda: self.client.get(DEPLOYMENT, name, namespace=namespace))
        return found.to_dict() if found is not None else None

    def create_deployment(self, body: JSON) -> None:
        self.client.create(DEPLOYMENT(body), namespace=body["metadata"]["namespace"])

    def replace_deployment(self, body: JSON) -> None:
        self.client.replace(DEPLOYMENT(body), namespace=body["metadata"]["namespace"])

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        self.client.patch(
            DEPLOYMENT,
            name,
            {"spec": {"replicas": replicas}},
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )

    def list_pods(self, namespace: str, labels: Mapping[str, str]) -> list[JSON]:
        pods = self.client.list(POD, namespace=namespace, labels=dict(labels))
        return [pod.to_dict() for pod in pods]

    def delete_pod(self, namespace: str, name: str) -> None:
        not_found_is_none(lambda: self.client.delete(POD, name, namespace=namespace))

    # --- leases -------------------------------------------------------------------------

    def get_lease(self, namespace: str, name: str) -> JSON | None:
        found = not_found_is_none(lambda: self.client.get(LEASE, name, namespace=namespace))
        return found.to_dict() if found is not None else None

    def create_lease(self, body: JSON) -> None:
        self.client.create(LEASE(body), namespace=body["metadata"]["namespace"])

    def replace_lease(self, body: JSON) -> None:
        """Fails with a 409 when someone else wrote the Lease since it was read."""
        self.client.replace(LEASE(body), namespace=body["metadata"]["namespace"])
