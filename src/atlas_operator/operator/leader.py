"""Leader election on a coordination.k8s.io Lease, as controller-runtime does it
(client-go's leaderelection with its defaults: 15 s lease, 10 s renew deadline, 2 s
retry period).

Expiry is judged on this process's own clock: a Lease counts as expired when its
record has not changed for a lease duration since we last saw it change, so clock
skew between replicas does not matter. A leader that cannot renew within the renew
deadline stops leading (the operator then exits, as controller-runtime's does), so two
replicas never reconcile at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lightkube import ApiError

from atlas_operator.operator import metrics
from atlas_operator.operator.kube import KubeApi

log = logging.getLogger("atlas_operator.leader")


def micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class LeaderElector:
    api: KubeApi
    namespace: str
    name: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.observed: tuple[str, str] | None = None
        """(holder, renewTime) of the record last seen, and when it was first seen."""
        self.observed_at = 0.0
        self.last_renewed = 0.0

    async def acquire(self) -> None:
        """Returns once this replica holds the Lease."""
        log.info("waiting for leadership", extra={"lease": f"{self.namespace}/{self.name}"})
        while not await asyncio.to_thread(self.try_acquire_or_renew):
            await asyncio.sleep(self.retry_period)
        metrics.LEADER.set(1)
        log.info("acquired leadership", extra={"lease": f"{self.namespace}/{self.name}"})

    async def keep_renewing(self) -> None:
        """Renews until a renewal fails for longer than the renew deadline; then returns
        (leadership is lost)."""
        while True:
            await asyncio.sleep(self.retry_period)
            try:
                renewed = await asyncio.to_thread(self.try_acquire_or_renew)
            except Exception as err:  # the API server may be briefly unreachable
                log.warning("lease renewal failed", extra={"err": str(err)})
                renewed = False
            if not renewed and self.clock() - self.last_renewed > self.renew_deadline:
                metrics.LEADER.set(0)
                log.error("leader election lost", extra={"lease": f"{self.namespace}/{self.name}"})
                return

    def try_acquire_or_renew(self) -> bool:
        now = self.clock()
        lease = self.api.get_lease(self.namespace, self.name)
        if lease is None:
            return self.create()
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        record = (holder, spec.get("renewTime") or "")
        if record != self.observed:
            self.observed, self.observed_at = record, now
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        held_by_other = holder not in ("", self.identity)
        if held_by_other and now - self.observed_at < duration:
            return False
        return self.update(lease, spec, holder)

    def create(self) -> bool:
        stamp = micro_time()
        body: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.lease_duration),
                "acquireTime": stamp,
                "renewTime": stamp,
                "leaseTransitions": 0,
            },
        }
        return self.write(lambda: self.api.create_lease(body))

    def update(self, lease: dict[str, Any], spec: dict[str, Any], holder: str) -> bool:
        stamp = micro_time()
        if holder != self.identity:
            spec["acquireTime"] = stamp
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=int(self.lease_duration),
            renewTime=stamp,
        )
        lease["spec"] = spec
        return self.write(lambda: self.api.replace_lease(lease))

    def write(self, request: Callable[[], None]) -> bool:
        """Sends a Lease write; False when another candidate wrote first (409)."""
        try:
            request()
        except ApiError as err:
            if err.status.code == 409:
                return False
            raise
        self.last_renewed = self.clock()
        return True

    def release(self) -> None:
        """Gives the Lease up on a clean stop, so a standby takes over at once."""
        lease = self.api.get_lease(self.namespace, self.name)
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
            return
        lease["spec"].update(holderIdentity="", renewTime=micro_time(), leaseDurationSeconds=1)
        try:
            self.api.replace_lease(lease)
        except ApiError:
            return
