"""The kstatus-style condition model of the Go operator (`api/v1alpha1/reason.go`).

Every write sets `Ready`, `Reconciling` and `Stalled`. A few reasons are
progress, not failure; every other reason counts in `status.failed`, which the
backoff limit is compared against.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from atlas_operator.operator.resources import Condition, ConditionStatus

READY, RECONCILING, STALLED = "Ready", "Reconciling", "Stalled"

# Reasons (upstream's strings, exactly).
REASON_RECONCILING = "Reconciling"
REASON_APPLIED = "Applied"
REASON_GETTING_DEV_DB = "GettingDevDB"
REASON_APPROVAL_PENDING = "ApprovalPending"
REASON_READ_SCHEMA = "ReadSchema"
REASON_CREATING_WORKING_DIR = "CreatingWorkingDir"
REASON_CALCULATING_HASH = "CalculatingHash"
REASON_FIRST_RUN_DESTRUCTIVE = "FirstRunDestructive"
REASON_VERIFYING_FIRST_RUN = "VerifyingFirstRun"
REASON_LINT_POLICY_ERROR = "LintPolicyError"
REASON_APPLYING_SCHEMA = "ApplyingSchema"
REASON_READING_MIGRATION_DATA = "ReadingMigrationData"
REASON_MIGRATING = "Migrating"
REASON_PROTECTED_FLOW_ERROR = "ProtectedFlowError"
REASON_STORING_DIR_STATE = "StoringDirState"
REASON_BACKOFF_LIMIT_EXCEEDED = "BackoffLimitExceeded"

NON_FAILURE_REASONS = frozenset(
    {REASON_RECONCILING, REASON_GETTING_DEV_DB, REASON_APPROVAL_PENDING}
)

# The API's limits: metav1.Condition.message is at most 32768 characters (a longer one
# makes the API server refuse the whole status write), an Event's message 1024 bytes.
CONDITION_MESSAGE_LIMIT = 32768
EVENT_MESSAGE_LIMIT = 1024
TRUNCATED = "… (truncated)"


# The cut goes back to a space when one is this close: a word cut in half could be the
# start of a secret that the redaction applied later no longer recognises.
WORD_BOUNDARY_WINDOW = 200


def truncate(message: str, limit: int = CONDITION_MESSAGE_LIMIT) -> str:
    """`message` cut to at most `limit` characters, ending with a visible marker if cut."""
    if len(message) <= limit:
        return message
    return cut_at_word(message[: limit - len(TRUNCATED)]) + TRUNCATED


def truncate_bytes(message: str, limit: int = EVENT_MESSAGE_LIMIT) -> str:
    """`message` cut to at most `limit` UTF-8 bytes (never inside a character), with the
    marker if cut."""
    encoded = message.encode()
    if len(encoded) <= limit:
        return message
    room = limit - len(TRUNCATED.encode())
    return cut_at_word(encoded[:room].decode(errors="ignore")) + TRUNCATED


def cut_at_word(text: str) -> str:
    space = max(text.rfind(" "), text.rfind("\n"))
    return text[: space + 1] if space >= len(text) - WORD_BOUNDARY_WINDOW else text


class HasConditions(Protocol):
    observed_generation: int | None
    conditions: list[Condition] | None
    failed: int


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    status: HasConditions, generation: int, type_: str, value: bool, reason: str, message: str = ""
) -> None:
    """Sets one condition; the transition time moves only when the status flips."""
    conditions = list(status.conditions or [])
    new_status = ConditionStatus.TRUE if value else ConditionStatus.FALSE
    previous = next((c for c in conditions if c.type == type_), None)
    moved = previous is None or previous.status != new_status
    condition = Condition(
        type=type_,
        status=new_status,
        reason=reason,
        message=truncate(message),
        observed_generation=generation,
        last_transition_time=now_rfc3339()
        if moved or previous is None
        else previous.last_transition_time,
    )
    status.conditions = [c for c in conditions if c.type != type_] + [condition]


def set_reconciling(status: HasConditions, generation: int, message: str) -> None:
    status.observed_generation = generation
    set_condition(status, generation, READY, False, REASON_RECONCILING, message)
    set_condition(status, generation, RECONCILING, True, REASON_RECONCILING, message)
    set_condition(status, generation, STALLED, False, REASON_RECONCILING)
    status.failed = 0


def set_ready(status: HasConditions, generation: int, message: str) -> None:
    status.observed_generation = generation
    set_condition(status, generation, READY, True, REASON_APPLIED, message)
    set_condition(status, generation, RECONCILING, False, REASON_APPLIED)
    set_condition(status, generation, STALLED, False, REASON_APPLIED)
    status.failed = 0


def set_not_ready(status: HasConditions, generation: int, reason: str, message: str) -> None:
    status.observed_generation = generation
    set_condition(status, generation, READY, False, reason, message)
    if reason in NON_FAILURE_REASONS:
        set_condition(status, generation, RECONCILING, True, reason, message)
        set_condition(status, generation, STALLED, False, reason)
        return
    set_condition(status, generation, RECONCILING, False, reason)
    set_condition(status, generation, STALLED, True, reason, message)
    status.failed += 1


def ready_condition(status: HasConditions) -> Condition | None:
    return next((c for c in status.conditions or [] if c.type == READY), None)
