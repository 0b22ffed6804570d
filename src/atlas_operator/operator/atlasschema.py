"""The AtlasSchema reconcile, free of Kubernetes I/O so that the operator and
local mode (`atlas-operator reconcile -f`) run the very same steps.

One pass: resolve inputs (ReadSchema) → load the desired schema on the dev
database and hash it (CalculatingHash) → plan against the target → first-run
destructive guard (FirstRunDestructive) and lint policy (LintPolicyError) →
apply (ApplyingSchema) → Ready/Applied with the apply report.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, replace
from typing import Any

from atlas_operator.engine.declarative import (
    ApplyPolicy,
    DestructiveChangesError,
    Plan,
    apply_lock,
    destructive_statements,
    execute_plan,
    load_hcl_on_dev,
    load_sql_on_dev,
    plan_apply,
)
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.drivers.base import EngineError, LockTimeoutError, Scope
from atlas_operator.engine.model import Realm
from atlas_operator.engine.urls import DatabaseURL, parse_url
from atlas_operator.operator import conditions as cond
from atlas_operator.operator.context import ReconcileContext
from atlas_operator.operator.devdb import DevDBError, DevDBNotReadyError
from atlas_operator.operator.inputs import (
    DesiredStateMissingError,
    InputError,
    desired_schema,
    dev_url,
    reject_custom_config,
    resolve_vars,
    target_url,
)
from atlas_operator.operator.outcome import (
    EVENT_ERROR,
    NORMAL,
    Outcome,
    fail,
    reconciling,
    waiting,
)
from atlas_operator.operator.resources import AtlasSchema, AtlasSchemaSpec, AtlasSchemaStatus

SQL_LIMIT = 1024
CLOUD_UNSUPPORTED = "Atlas Cloud is not supported by this operator (see the README)"
FIRST_RUN_HINT = (
    "To prevent accidental drop of resources, first run of a schema must not contain "
    "destructive changes.\n"
    "Read more: https://atlasgo.io/integrations/kubernetes/#destructive-changes"
)
"""Follows upstream's `destructive changes detected:\n- <stmt>\n` and a blank line."""


@dataclass
class SchemaInputs:
    target: DatabaseURL
    dev_text: str | None
    """`devURLFrom` or `devURL` when given."""
    desired_text: str
    desired_format: str
    """`sql` or `hcl`."""
    policy: ApplyPolicy


def policy_of(resource: AtlasSchema) -> ApplyPolicy:
    spec = resource.spec
    diff = spec.policy.diff if spec.policy else None
    skip = diff.skip.model_dump() if diff and diff.skip else {}
    concurrent = diff.concurrent_index if diff else None
    lint = spec.policy.lint if spec.policy else None
    return ApplyPolicy(
        schemas=tuple(spec.schemas or ()),
        exclude=tuple(spec.exclude or ()),
        skip=frozenset(k for k, v in skip.items() if v),
        concurrent_create=bool(concurrent and concurrent.create),
        concurrent_drop=bool(concurrent and concurrent.drop),
        lint_destructive_error=bool(lint and lint.destructive and lint.destructive.error),
        tx_mode=spec.tx_mode.value,
    )


def resolve_inputs(resource: AtlasSchema, ctx: ReconcileContext) -> SchemaInputs:
    spec, namespace = resource.spec, resource.metadata.namespace or "default"
    reject_cloud(spec)
    reject_custom_config(spec, ctx.allow_custom_config)
    target_text = target_url(spec, namespace, ctx.source)
    text, fmt = desired_schema(spec.schema_, namespace, ctx.source)
    dev_text = dev_url(spec, namespace, ctx.source)
    resolve_vars(spec, namespace, ctx.source)
    try:
        target = parse_url(target_text)
    except ValueError as err:
        raise InputError(f"spec.url: {err}") from None
    return SchemaInputs(
        target=target,
        dev_text=dev_text,
        desired_text=text,
        desired_format=fmt,
        policy=policy_of(resource),
    )


def reject_cloud(spec: AtlasSchemaSpec) -> None:
    """Atlas Cloud fields are accepted by the CRD but cannot work here (DECISIONS.md §4)."""
    if spec.cloud and (spec.cloud.repo or spec.cloud.token_from):
        raise InputError(f"spec.cloud: {CLOUD_UNSUPPORTED}")
    lint = spec.policy.lint if spec.policy else None
    if lint is not None and lint.review is not None:
        raise InputError(f"spec.policy.lint.review: {CLOUD_UNSUPPORTED}")


def reconcile_schema(resource: AtlasSchema, ctx: ReconcileContext) -> Outcome[AtlasSchemaStatus]:
    """One reconcile pass (upstream §2.3 without the Atlas Cloud branch); the resource is
    not modified, the outcome carries the new status."""
    outcome = Outcome(resource.status.model_copy(deep=True))
    generation = resource.metadata.generation or 0
    if not outcome.status.conditions:
        return reconciling(outcome, generation, "Reconciling")
    try:
        inputs = resolve_inputs(resource, ctx)
    except DesiredStateMissingError as err:
        return fail(outcome, generation, cond.REASON_CREATING_WORKING_DIR, str(err))
    except InputError as err:
        return fail(outcome, generation, cond.REASON_READ_SCHEMA, str(err))
    try:
        dev = ctx.devdbs.acquire(resource, resource.spec, inputs.target, inputs.dev_text, outcome)
    except DevDBNotReadyError as err:
        return fail(outcome, generation, cond.REASON_GETTING_DEV_DB, str(err))
    except DevDBError as err:
        return fail(outcome, generation, cond.REASON_READ_SCHEMA, str(err))
    driver = driver_for(inputs.target)
    try:
        scope = driver.scope_of(inputs.target, inputs.policy.schemas)
        load = load_hcl_on_dev if inputs.desired_format == "hcl" else load_sql_on_dev
        desired = load(inputs.desired_text, dev, scope, inputs.policy, target=inputs.target)
    except LockTimeoutError as err:  # another run is loading into the dev database
        return waiting(outcome, generation, cond.REASON_GETTING_DEV_DB, str(err))
    except EngineError as err:
        return fail(outcome, generation, cond.REASON_CALCULATING_HASH, str(err))
    observed_hash = desired_hash(desired, scope)
    if outcome.ready and observed_hash != outcome.status.observed_hash:
        return reconciling(outcome, generation, "current schema does not match last applied")
    return apply_desired(outcome, generation, inputs, desired, observed_hash)


def desired_hash(desired: Realm, scope: Scope) -> str:
    """`status.observed_hash`: the normalised desired state, whatever dev database
    normalised it. In schema scope the dev database's schema is renamed to the target's
    and its own attributes (charset, collation, comment) are left out, as the plan
    ignores them; at realm scope schemas keep the names the desired state gives them."""
    if scope.bound is not None:
        desired = replace(
            desired,
            schemas=tuple(
                replace(s, name=scope.bound, charset=None, collation=None, comment=None)
                for s in desired.schemas
            ),
            unmanaged=tuple(replace(u, schema=scope.bound) for u in desired.unmanaged),
        )
    return base64.b64encode(desired.sha256()).decode()


def apply_desired(
    outcome: Outcome[AtlasSchemaStatus],
    generation: int,
    inputs: SchemaInputs,
    desired: Realm,
    observed_hash: str,
) -> Outcome[AtlasSchemaStatus]:
    """Plans against the target under the schema-apply lock, checks, applies."""
    driver = driver_for(inputs.target)
    try:
        scope = driver.scope_of(inputs.target, inputs.policy.schemas)
        with (
            driver.open(inputs.target) as session,
            apply_lock(driver, session, scope, desired),
        ):
            plan = plan_apply(session, driver, desired, inputs.policy)
            if guard_plan(outcome, generation, plan, inputs.policy):
                return outcome
            report = execute_plan(session, driver, plan, inputs.policy.tx_mode)
    except LockTimeoutError as err:
        return waiting(outcome, generation, cond.REASON_RECONCILING, lock_wait_message(err))
    except EngineError as err:
        return fail(outcome, generation, cond.REASON_APPLYING_SCHEMA, str(err), EVENT_ERROR)
    if report.error:
        message = f"executing statement {report.error_stmt!r}: {report.error}"
        return fail(outcome, generation, cond.REASON_APPLYING_SCHEMA, message, EVENT_ERROR)
    status = outcome.status
    status.last_applied = int(time.time())
    status.observed_hash = observed_hash
    status.plan_url = status.plan_link = None
    message = ready_message(plan, report.applied, report.pending)
    message += unmanaged_warning(desired, inputs.target.schema is not None)
    cond.set_ready(status, generation, message)
    outcome.event(NORMAL, cond.REASON_APPLIED, "Applied schema")
    return outcome


def lock_wait_message(err: LockTimeoutError) -> str:
    return f"waiting for another apply to finish: {err}"


def guard_plan(
    outcome: Outcome[AtlasSchemaStatus], generation: int, plan: Plan, policy: ApplyPolicy
) -> bool:
    """The first-run destructive check and the lint policy; True when the apply must stop.
    Both look at the planned changes after `exclude` and the diff policy (DECISIONS.md
    §3.3), not at the text `DROP `."""
    destructive = destructive_statements(plan)
    if not destructive:
        return False
    message = str(DestructiveChangesError(destructive)).replace("\n  ", "\n- ")
    if not outcome.status.last_applied:
        reason = cond.REASON_FIRST_RUN_DESTRUCTIVE
        fail(outcome, generation, reason, f"{message}\n\n{FIRST_RUN_HINT}", reason)
        return True
    if policy.lint_destructive_error:
        fail(outcome, generation, cond.REASON_LINT_POLICY_ERROR, message, EVENT_ERROR)
        return True
    return False


def unmanaged_warning(desired: Realm, bound: bool) -> str:
    """Objects of the desired state the engine cannot manage yet: named, never silently
    dropped (DECISIONS §3.5)."""
    if not desired.unmanaged:
        return ""
    names = ", ".join(u.describe(qualified=not bound) for u in desired.unmanaged)
    return f" Warning: not managed by this engine yet, so not applied: {names}."


def ready_message(plan: Plan, applied: list[str], pending: list[str]) -> str:
    changes: dict[str, Any] = {}
    if applied:
        changes["Applied"] = truncate_sql(applied)
    if pending:
        changes["Pending"] = truncate_sql(pending)
    report = {
        "Driver": plan.target.atlas_driver,
        "URL": {"Scheme": plan.target.scheme},
        "Changes": changes,
    }
    return "The schema has been applied successfully. Apply response: " + json.dumps(
        report, separators=(",", ":")
    )


def truncate_sql(statements: list[str]) -> list[str]:
    """At most SQL_LIMIT bytes of SQL in total, as upstream's truncateSQL."""
    kept, size = [], 0
    for sql in statements:
        if size + len(sql) > SQL_LIMIT:
            kept.append(sql[: max(0, SQL_LIMIT - size)] + " -- truncated")
            break
        kept.append(sql)
        size += len(sql)
    return kept
