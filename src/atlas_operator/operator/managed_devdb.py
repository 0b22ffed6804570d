"""The managed dev database: a Deployment `<name>-atlas-dev-db` owned by the resource,
reached through its ready pod's IP (upstream §2.5).

Unlike upstream, an existing Deployment whose pod spec no longer matches (a changed
`devDB.spec`) is updated (DECISIONS.md §3.4). Waiting is a pending state
(`GettingDevDB`, polled every 5 s, never counted as a failure).
"""

from __future__ import annotations

from typing import Any

from atlas_operator.engine.urls import DatabaseURL, URLError, parse_url
from atlas_operator.operator.cluster import owner_reference
from atlas_operator.operator.devdb import (
    DevDBError,
    DevDBNotReadyError,
    needs_managed,
    unmanaged_dev_url,
)
from atlas_operator.operator.devdb_spec import (
    CONNTMPL_ANNOTATION,
    SPEC_HASH_ANNOTATION,
    UnsupportedDevDBDriverError,
    automatic_dev_db_pod_spec,
    connection_url,
    conntmpl_from_dev_url,
    dev_db_deployment,
    dev_db_deployment_name,
    driver_of_scheme,
    pod_spec_hash,
)
from atlas_operator.operator.kube import KubeApi
from atlas_operator.operator.outcome import NORMAL, WARNING, Outcome
from atlas_operator.operator.resources import Resource, TargetAndProjectFields
from atlas_operator.operator.settings import OperatorSettings

WAITING = "waiting for dev database to be ready"
INSTANCE_LABEL = "app.kubernetes.io/instance"
ENGINE_LABEL = "atlasgo.io/engine"


class ManagedDevDatabases:
    def __init__(self, api: KubeApi, settings: OperatorSettings, owner: dict[str, Any]) -> None:
        self.api = api
        self.settings = settings
        self.owner = owner

    def acquire(
        self,
        resource: Resource,
        spec: TargetAndProjectFields,
        target: DatabaseURL,
        explicit: str | None,
        outcome: Outcome[Any],
    ) -> DatabaseURL:
        if not needs_managed(spec, target, explicit):
            return unmanaged_dev_url(target, explicit)
        outcome.used_dev_db = True
        namespace = resource.metadata.namespace or "default"
        name = dev_db_deployment_name(resource.metadata.name or "")
        driver = driver_of_scheme(target.scheme)
        desired = self.desired_deployment(spec, target, driver, explicit, namespace, name)
        self.ensure_running(desired, outcome)
        return self.ready_pod_url(namespace, name, driver)

    def desired_deployment(
        self,
        spec: TargetAndProjectFields,
        target: DatabaseURL,
        driver: str,
        explicit: str | None,
        namespace: str,
        name: str,
    ) -> dict[str, Any]:
        custom = spec.dev_db.spec if spec.dev_db is not None else None
        if custom is not None:
            if not explicit:
                raise DevDBError("spec.devURL: devURL is required when devDB is provided")
            pod_spec = custom.model_dump(by_alias=True, exclude_none=True)
            conntmpl = conntmpl_from_dev_url(explicit)
        else:
            try:
                pod_spec, conntmpl = automatic_dev_db_pod_spec(
                    driver, target.is_schema_bound, self.settings.passthrough_env
                )
            except UnsupportedDevDBDriverError as err:
                # Upstream keeps polling here; the message says what to set.
                raise DevDBNotReadyError(str(err)) from None
        return dev_db_deployment(
            name, namespace, driver, pod_spec, conntmpl, owner_reference(self.owner)
        )

    def ensure_running(self, desired: dict[str, Any], outcome: Outcome[Any]) -> None:
        """Creates, updates or scales up the Deployment; raises while that is under way."""
        namespace, name = desired["metadata"]["namespace"], desired["metadata"]["name"]
        current = self.api.get_deployment(namespace, name)
        if current is None:
            self.api.create_deployment(desired)
            outcome.event(NORMAL, "CreatedDevDB", f"Created dev database deployment: {name}")
            raise DevDBNotReadyError(WAITING)
        if spec_hash(current) != spec_hash(desired):
            desired["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            self.api.replace_deployment(desired)
            outcome.event(NORMAL, "UpdatedDevDB", f"Updated dev database deployment: {name}")
            raise DevDBNotReadyError(WAITING)
        if not (current.get("spec") or {}).get("replicas"):
            self.api.scale_deployment(namespace, name, 1)
            outcome.event(NORMAL, "ScaledUpDevDB", f"Scaled up dev database deployment: {name}")
            raise DevDBNotReadyError(WAITING)

    def ready_pod_url(self, namespace: str, name: str, driver: str) -> DatabaseURL:
        pods = self.api.list_pods(namespace, {ENGINE_LABEL: driver, INSTANCE_LABEL: name})
        if not pods:
            raise DevDBNotReadyError(f"{WAITING}: no pods found")
        ready = next((p for p in pods if is_ready(p) and p["status"].get("podIP")), None)
        if ready is None:
            raise DevDBNotReadyError(f"{WAITING}: no running pods found")
        template = (ready["metadata"].get("annotations") or {}).get(CONNTMPL_ANNOTATION)
        if not template:
            raise DevDBError(
                f"pod {ready['metadata']['name']}: no connection template annotation found"
            )
        try:
            return parse_url(connection_url(template, ready["status"]["podIP"]))
        except URLError as err:
            raise DevDBError(f"pod {ready['metadata']['name']}: {err}") from None

    def release(self, resource: Resource, outcome: Outcome[Any]) -> None:
        """PREWARM_DEVDB=true: delete the pods, so the Deployment starts a clean one;
        false: scale to zero until the next use."""
        namespace = resource.metadata.namespace or "default"
        name = dev_db_deployment_name(resource.metadata.name or "")
        try:
            if self.settings.prewarm_devdb:
                for pod in self.api.list_pods(namespace, {INSTANCE_LABEL: name}):
                    self.api.delete_pod(namespace, pod["metadata"]["name"])
            elif self.api.get_deployment(namespace, name) is not None:
                self.api.scale_deployment(namespace, name, 0)
        except Exception as err:  # clean-up is best effort; the next pass resets anyway
            outcome.event(WARNING, "CleanUpDevDB", f"cleaning up dev database {name}: {err}")


def spec_hash(deployment: dict[str, Any]) -> str:
    annotations = deployment["metadata"].get("annotations") or {}
    stored = annotations.get(SPEC_HASH_ANNOTATION)
    if stored:
        return str(stored)
    template = deployment["spec"]["template"]
    conntmpl = (template["metadata"].get("annotations") or {}).get(CONNTMPL_ANNOTATION)
    return pod_spec_hash({"spec": template["spec"], "conntmpl": conntmpl})


def is_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
