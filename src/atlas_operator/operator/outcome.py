"""What one reconcile pass decided: the new status, the events to record, and when to
come back (upstream §2.6, with DECISIONS.md §3.1: every failure is retried).

The reconcilers fill an `Outcome` without doing any Kubernetes I/O; `schedule` turns
the status they wrote into the requeue decision, the same in the operator and in
local mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from atlas_operator.operator import conditions as cond
from atlas_operator.operator.conditions import HasConditions

PENDING_REQUEUE = 5.0
"""Seconds between polls while waiting for a dev database or an approval."""
LOCK_REQUEUE = 5.0
"""Seconds before trying again when another apply holds the lock a pass needs."""
BACKOFF_UNIT = 5.0
"""A failed resource comes back after `failed × BACKOFF_UNIT` seconds (linear, as upstream)."""

NORMAL, WARNING = "Normal", "Warning"

# Event reasons that are not condition reasons.
EVENT_TRANSIENT_ERROR = "TransientErr"
EVENT_ERROR = "Error"

StatusT = TypeVar("StatusT", bound=HasConditions)


@dataclass(frozen=True)
class Event:
    type: str
    """`Normal` or `Warning`."""
    reason: str
    message: str


@dataclass
class Outcome(Generic[StatusT]):
    status: StatusT
    events: list[Event] = field(default_factory=list)
    requeue_after: float | None = None
    """None: wait for the next change; 0: at once; otherwise seconds."""
    used_dev_db: bool = False
    """A dev database was acquired, so a Ready outcome triggers its clean-up."""
    wait_after: float | None = None
    """Set by a pass that waits for something held elsewhere (a lock): the requeue
    delay, in place of the one its reason implies."""

    @property
    def ready(self) -> bool:
        condition = cond.ready_condition(self.status)
        return condition is not None and condition.status.value == "True"

    @property
    def reason(self) -> str:
        condition = cond.ready_condition(self.status)
        return condition.reason if condition is not None else ""

    @property
    def message(self) -> str:
        condition = cond.ready_condition(self.status)
        return condition.message if condition is not None else ""

    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append(Event(type_, reason, cond.truncate_bytes(message)))


def schedule(outcome: Outcome[StatusT], backoff_limit: int) -> Outcome[StatusT]:
    """Sets `requeue_after` from the status the pass left, and records the events the
    requeue decision implies (`BackoffLimitExceeded`)."""
    reason = outcome.reason
    if outcome.ready:
        outcome.requeue_after = None
    elif outcome.wait_after is not None and reason in cond.NON_FAILURE_REASONS:
        outcome.requeue_after = outcome.wait_after
    elif reason == cond.REASON_RECONCILING:
        outcome.requeue_after = 0
    elif reason in cond.NON_FAILURE_REASONS:
        outcome.requeue_after = PENDING_REQUEUE
    elif exceeds_backoff_limit(outcome.status.failed, backoff_limit):
        outcome.event(WARNING, cond.REASON_BACKOFF_LIMIT_EXCEEDED, "backoff limit exceeded")
        outcome.requeue_after = None
    else:
        outcome.requeue_after = outcome.status.failed * BACKOFF_UNIT
    return outcome


def exceeds_backoff_limit(failed: int, backoff_limit: int) -> bool:
    """Upstream's IsExceedBackoffLimit: a limit of 0 retries forever."""
    return backoff_limit > 0 and failed > backoff_limit


def fail(
    outcome: Outcome[StatusT],
    generation: int,
    reason: str,
    message: str,
    event_reason: str = EVENT_TRANSIENT_ERROR,
) -> Outcome[StatusT]:
    """Records a failure (or a pending state) on the status and as a Warning event."""
    cond.set_not_ready(outcome.status, generation, reason, message)
    if reason in cond.NON_FAILURE_REASONS:
        event_reason = reason
    outcome.event(WARNING, event_reason, message)
    return outcome


def reconciling(outcome: Outcome[StatusT], generation: int, message: str) -> Outcome[StatusT]:
    """Ready=False/Reconciling, come back at once: shown before slow work starts."""
    cond.set_reconciling(outcome.status, generation, message)
    return outcome


def waiting(
    outcome: Outcome[StatusT],
    generation: int,
    reason: str,
    message: str,
    after: float = LOCK_REQUEUE,
) -> Outcome[StatusT]:
    """A pending state (a non-failure reason: Ready=False, Reconciling=True, `failed`
    unchanged) that comes back after `after` seconds: another apply holds a lock this
    pass needs. Waiting is not failing, so it never counts toward `backoffLimit`."""
    assert reason in cond.NON_FAILURE_REASONS, reason
    outcome.wait_after = after
    return fail(outcome, generation, reason, message)
