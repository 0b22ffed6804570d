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
from dataclasses import dataclass
from typing import Any

from atlas_operator.engine.declarative import (
    ApplyPolicy,
    DestructiveChangesError,
    Plan,
    destructive_statements,
    execute_plan,
    load_hcl_on_dev,
    load_sql_on_dev,
    plan_apply,
)
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.drivers.base import SCHEMA_APPLY_LOCK, EngineError
from atlas_operator.engine.states import default_dev_url
from atlas_operator.engine.urls import DatabaseURL, parse_url
from atlas_operator.operator import conditions as cond
from atlas_operator.operator.inputs import (
    InputError,
    ObjectSource,
    desired_schema,
    dev_url,
    reject_custom_config,
    target_url,
)
from atlas_operator.operator.resources import AtlasSchema, AtlasSchemaStatus

SQL_LIMIT = 1024
FIRST_RUN_HINT = (
    "To prevent accidental drop of resources, first run of a schema must not contain "
    "destructive changes."
)


@dataclass
class SchemaInputs:
    target: DatabaseURL
    dev: DatabaseURL
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


def resolve_inputs(resource: AtlasSchema, source: ObjectSource) -> SchemaInputs:
    spec, namespace = resource.spec, resource.metadata.namespace or "default"
    if spec.cloud and (spec.cloud.repo or spec.cloud.token_from):
        raise InputError("spec.cloud: Atlas Cloud is not supported by this operator")
    reject_custom_config(spec)
    text, fmt = desired_schema(spec.schema_, namespace, source)
    try:
        target = parse_url(target_url(spec, namespace, source))
        dev_text = dev_url(spec, namespace, source)
        dev = parse_url(dev_text) if dev_text else default_dev_url(target)
    except ValueError as err:
        raise InputError(str(err)) from None
    except EngineError as err:
        raise InputError(f"spec.devURL: {err}") from None
    return SchemaInputs(
        target=target, dev=dev, desired_text=text, desired_format=fmt, policy=policy_of(resource)
    )


def reconcile_schema(resource: AtlasSchema, source: ObjectSource) -> AtlasSchemaStatus:
    """One reconcile pass; returns the new status (the resource is not modified)."""
    status = resource.status.model_copy(deep=True)
    generation = resource.metadata.generation or 0
    try:
        inputs = resolve_inputs(resource, source)
    except InputError as err:
        cond.set_not_ready(status, generation, cond.REASON_READ_SCHEMA, str(err))
        return status
    driver = driver_for(inputs.target)
    try:
        scope = driver.scope_of(inputs.target, inputs.policy.schemas)
        load = load_hcl_on_dev if inputs.desired_format == "hcl" else load_sql_on_dev
        desired = load(inputs.desired_text, inputs.dev, scope, inputs.policy)
    except EngineError as err:
        cond.set_not_ready(status, generation, cond.REASON_CALCULATING_HASH, str(err))
        return status
    observed_hash = base64.b64encode(desired.sha256()).decode()
    try:
        with driver.open(inputs.target) as session, driver.lock(session, SCHEMA_APPLY_LOCK):
            plan = plan_apply(session, driver, desired, inputs.policy)
            blocked = guard_plan(status, generation, plan, inputs.policy)
            if blocked:
                return status
            report = execute_plan(session, driver, plan, inputs.policy.tx_mode)
    except EngineError as err:
        cond.set_not_ready(status, generation, cond.REASON_APPLYING_SCHEMA, str(err))
        return status
    if report.error:
        message = f"executing statement {report.error_stmt!r}: {report.error}"
        cond.set_not_ready(status, generation, cond.REASON_APPLYING_SCHEMA, message)
        return status
    status.last_applied = int(time.time())
    status.observed_hash = observed_hash
    cond.set_ready(status, generation, ready_message(plan, report.applied, report.pending))
    return status


def guard_plan(status: AtlasSchemaStatus, generation: int, plan: Plan, policy: ApplyPolicy) -> bool:
    """The first-run destructive check and the lint policy; True when the apply must stop."""
    destructive = destructive_statements(plan)
    if not destructive:
        return False
    if not status.last_applied:
        message = str(DestructiveChangesError(destructive)).replace("\n  ", "\n- ")
        cond.set_not_ready(
            status, generation, cond.REASON_FIRST_RUN_DESTRUCTIVE, f"{message}\n{FIRST_RUN_HINT}"
        )
        return True
    if policy.lint_destructive_error:
        message = str(DestructiveChangesError(destructive)).replace("\n  ", "\n- ")
        cond.set_not_ready(status, generation, cond.REASON_LINT_POLICY_ERROR, message)
        return True
    return False


def ready_message(plan: Plan, applied: list[str], pending: list[str]) -> str:
    changes: dict[str, Any] = {}
    if applied:
        changes["Applied"] = truncate_sql(applied)
    if pending:
        changes["Pending"] = truncate_sql(pending)
    report = {
        "Driver": plan.target.driver,
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
