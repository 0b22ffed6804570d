"""The controllers: watch events in, level-triggered reconciles out.

Events (from kopf's watches) only put keys on a work queue; a worker then reads the
latest resource and runs one reconcile pass in a thread (the engine is synchronous),
writes the status, records the events and schedules the next pass. As upstream:
status-only updates do not trigger (generation predicate), a key is never reconciled
twice at once, and changes to a referenced Secret or ConfigMap re-trigger its
dependents.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from lightkube.core.exceptions import ApiError
from pydantic import ValidationError

from atlas_operator.operator import conditions as cond
from atlas_operator.operator import metrics
from atlas_operator.operator.atlasmigration import reconcile_migration
from atlas_operator.operator.atlasschema import reconcile_schema
from atlas_operator.operator.cluster import ApiObjects, SecretDirState
from atlas_operator.operator.context import ReconcileContext
from atlas_operator.operator.kube import KubeApi
from atlas_operator.operator.managed_devdb import ManagedDevDatabases
from atlas_operator.operator.outcome import BACKOFF_UNIT, Outcome, fail, schedule
from atlas_operator.operator.redact import scrub
from atlas_operator.operator.references import ReferenceIndex, ResourceKey, references_of
from atlas_operator.operator.resources import AtlasMigration, AtlasSchema
from atlas_operator.operator.selector import LabelSelector
from atlas_operator.operator.settings import OperatorSettings

log = logging.getLogger("atlas_operator.controller")


@dataclass(frozen=True)
class Kind:
    name: str
    model: type[AtlasSchema] | type[AtlasMigration]
    reconcile: Callable[[Any, ReconcileContext], Outcome[Any]]
    component: str
    """The event source, as upstream's recorder names."""
    input_reason: str
    """The reason for a spec the models cannot read."""
    crash_reason: str
    """The reason for an unexpected error in the pass."""


KINDS = {
    "AtlasSchema": Kind(
        "AtlasSchema",
        AtlasSchema,
        reconcile_schema,
        "atlasschema-controller",
        cond.REASON_READ_SCHEMA,
        cond.REASON_APPLYING_SCHEMA,
    ),
    "AtlasMigration": Kind(
        "AtlasMigration",
        AtlasMigration,
        reconcile_migration,
        "atlasmigration-controller",
        cond.REASON_READING_MIGRATION_DATA,
        cond.REASON_MIGRATING,
    ),
}


def key_of(kind: str, body: dict[str, Any]) -> ResourceKey:
    meta = body.get("metadata") or {}
    return (kind, meta.get("namespace") or "default", meta.get("name") or "")


class Controller:
    def __init__(
        self,
        api: KubeApi,
        settings: OperatorSettings,
        selector: LabelSelector,
        workers: int,
    ) -> None:
        self.api = api
        self.settings = settings
        self.selector = selector
        self.workers = workers
        self.queue: Any = None  # created on the running loop by run()
        self.index = ReferenceIndex()
        self.generations: dict[ResourceKey, int] = {}
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reconcile")

    # --- event intake ----------------------------------------------------------------

    def on_resource_event(self, kind: str, event_type: str | None, body: dict[str, Any]) -> None:
        key = key_of(kind, body)
        labels = (body.get("metadata") or {}).get("labels") or {}
        if event_type == "DELETED" or not self.selector.matches(labels):
            self.forget(key)
            return
        self.index.update(key, references_of(body.get("spec") or {}, key[1]))
        generation = (body.get("metadata") or {}).get("generation") or 0
        if event_type == "MODIFIED" and self.generations.get(key) == generation:
            return  # a status write or a metadata change: nothing to reconcile
        self.generations[key] = generation
        self.enqueue(key)

    def on_object_event(self, kind: str, event_type: str | None, body: dict[str, Any]) -> None:
        """A Secret or ConfigMap changed: its dependents run again. The initial listing is
        skipped; every resource is reconciled at start anyway."""
        if event_type is None:
            return
        meta = body.get("metadata") or {}
        obj = (kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        for key in self.index.dependents(obj):
            log.info(
                "referenced object changed",
                extra={"object": f"{kind}/{meta.get('name')}", "resource": "/".join(key)},
            )
            self.enqueue(key)

    def enqueue(self, key: ResourceKey) -> None:
        if self.queue is not None:
            self.queue.add(key)
            metrics.QUEUE_DEPTH.set(len(self.queue))

    def forget(self, key: ResourceKey) -> None:
        self.index.remove(key)
        self.generations.pop(key, None)
        if self.queue is not None:
            self.queue.cancel_timer(key)

    # --- workers ---------------------------------------------------------------------

    async def run(self, queue: Any) -> None:
        self.queue = queue
        await asyncio.gather(*(self.worker() for _ in range(self.workers)))

    async def worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            key = await self.queue.get()
            metrics.QUEUE_DEPTH.set(len(self.queue))
            metrics.ACTIVE_WORKERS.inc()
            requeue: float | None = BACKOFF_UNIT
            try:
                requeue = await loop.run_in_executor(self.executor, self.reconcile_safely, key)
            except Exception:  # a worker must outlive any single key
                log.exception("worker error", extra={"resource": "/".join(key)})
            finally:
                metrics.ACTIVE_WORKERS.dec()
                self.queue.done(key)
            if requeue is None:
                self.queue.cancel_timer(key)
            elif requeue == 0:
                self.queue.add(key)
            else:
                self.queue.add_after(key, requeue)

    def reconcile_safely(self, key: ResourceKey) -> float | None:
        """Any error outside the pass itself (the API server, a bug) is logged and the
        key comes back later: nothing is dropped."""
        try:
            return self.reconcile(key)
        except Exception as err:
            log.exception(
                "reconcile failed",
                extra={"kind": key[0], "resource": f"{key[1]}/{key[2]}", "err": scrub(str(err))},
            )
            metrics.RECONCILE_ERRORS.labels(key[0], "Internal").inc()
            return BACKOFF_UNIT

    # --- one pass --------------------------------------------------------------------

    def reconcile(self, key: ResourceKey) -> float | None:
        kind = KINDS[key[0]]
        body = self.api.get_resource(kind.name, key[1], key[2])
        if body is None or not self.selector.matches(body["metadata"].get("labels")):
            return None
        started = time.monotonic()
        objects = ApiObjects(self.api)
        devdbs = ManagedDevDatabases(self.api, self.settings, body)
        ctx = ReconcileContext(
            source=objects,
            devdbs=devdbs,
            states=SecretDirState(self.api, body),
            allow_custom_config=self.settings.allow_custom_config,
        )
        resource, outcome = self.run_pass(kind, body, ctx)
        schedule(outcome, resource.spec.backoff_limit)
        self.scrub(outcome, objects.secret_values)
        if not self.api.write_status(kind.name, key[1], key[2], outcome.status.to_json()):
            return None
        if outcome.ready and outcome.used_dev_db:
            devdbs.release(resource, outcome)
        self.record_events(kind, body, outcome, objects.secret_values)
        self.report(kind, key, outcome, time.monotonic() - started)
        return outcome.requeue_after

    def run_pass(
        self, kind: Kind, body: dict[str, Any], ctx: ReconcileContext
    ) -> tuple[AtlasSchema | AtlasMigration, Outcome[Any]]:
        generation = body["metadata"].get("generation") or 0
        try:
            resource = kind.model.model_validate(body)
        except ValidationError as err:
            bare = kind.model.model_validate(
                {"metadata": body["metadata"], "status": body.get("status") or {}}
            )
            return bare, fail(Outcome(bare.status), generation, kind.input_reason, f"spec: {err}")
        try:
            return resource, kind.reconcile(resource, ctx)
        except ApiError as err:
            # Not a bug of ours: the API server refused a request (often RBAC).
            message = api_error_message(err)
            log.warning(message, extra={"kind": kind.name})
            outcome = Outcome(resource.status.model_copy(deep=True))
            return resource, fail(outcome, generation, kind.crash_reason, message)
        except Exception as err:
            log.exception("unexpected error in reconcile", extra={"kind": kind.name})
            outcome = Outcome(resource.status.model_copy(deep=True))
            message = f"unexpected error: {type(err).__name__}: {err}"
            return resource, fail(outcome, generation, kind.crash_reason, message)

    @staticmethod
    def scrub(outcome: Outcome[Any], secret_values: set[str]) -> None:
        for condition in outcome.status.conditions or []:
            # Redaction may lengthen a message ("xxxxx" for a shorter secret): cut again.
            condition.message = cond.truncate(scrub(condition.message, secret_values))
        outcome.events = [
            type(e)(e.type, e.reason, cond.truncate_bytes(scrub(e.message, secret_values)))
            for e in outcome.events
        ]

    def record_events(
        self, kind: Kind, body: dict[str, Any], outcome: Outcome[Any], secret_values: set[str]
    ) -> None:
        for event in outcome.events:
            try:
                self.api.record_event(
                    body,
                    event.type,
                    event.reason,
                    cond.truncate_bytes(scrub(event.message, secret_values)),
                    kind.component,
                )
            except Exception as err:  # an event is worth a log line, never a failed pass
                log.warning("could not record event", extra={"err": scrub(str(err))})

    def report(self, kind: Kind, key: ResourceKey, outcome: Outcome[Any], seconds: float) -> None:
        reason = outcome.reason
        metrics.RECONCILES.labels(kind.name, reason).inc()
        metrics.RECONCILE_SECONDS.labels(kind.name).observe(seconds)
        if not outcome.ready and reason not in cond.NON_FAILURE_REASONS:
            metrics.RECONCILE_ERRORS.labels(kind.name, reason).inc()
        log.info(
            "reconciled",
            extra={
                "kind": kind.name,
                "resource": f"{key[1]}/{key[2]}",
                "ready": outcome.ready,
                "reason": reason,
                "failed": outcome.status.failed,
                "requeue_after": outcome.requeue_after,
                "seconds": round(seconds, 3),
            },
        )


def api_error_message(err: ApiError) -> str:
    """The API server's refusal as a status message; a 403 says which permission the
    operator's ServiceAccount lacks (the server's own text names verb, resource and
    namespace) and where permissions come from."""
    code = getattr(err.status, "code", None)
    text = getattr(err.status, "message", None) or str(err)
    if code == 403:
        return (
            f"the Kubernetes API refused the operator: {text}"
            " (grant it in the operator's RBAC; the chart's manager role has what the"
            " operator needs)"
        )
    return f"Kubernetes API error ({code}): {text}"
