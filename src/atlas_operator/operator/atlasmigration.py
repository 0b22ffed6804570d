"""The AtlasMigration reconcile (upstream §2.4), free of Kubernetes I/O so that the
operator and local mode (`atlas-operator reconcile -f`) run the very same steps.

One pass: resolve inputs (ReadingMigrationData) → migrate status (Migrating) → either
migrate down (protected flow, needs the previous directory state and a dev database),
nothing to do (Ready, no dev database), or apply the pending files (Migrating on
failure) → Ready with `lastAppliedVersion` → store the directory state.
Unlike upstream, applying never needs a dev database: our engine runs the files itself.
Waiting for a lock another run holds is pending (Reconciling, or GettingDevDB for the
dev database), with a short requeue, not a failure counted toward `backoffLimit`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from atlas_operator.engine.devrun import DevDatabaseBusyError
from atlas_operator.engine.drivers.base import EngineError, LockTimeoutError
from atlas_operator.engine.migrate.dir import MigrateError, check_versions
from atlas_operator.engine.migrate.dir import MigrationDir as Directory
from atlas_operator.engine.migrate.down import migrate_down
from atlas_operator.engine.migrate.executor import (
    MigrateOptions,
    migrate_apply,
    migrate_status,
)
from atlas_operator.engine.urls import DatabaseURL, parse_url
from atlas_operator.operator import conditions as cond
from atlas_operator.operator.context import ReconcileContext
from atlas_operator.operator.devdb import DevDBError, DevDBNotReadyError
from atlas_operator.operator.inputs import (
    InputError,
    ObjectSource,
    dev_url,
    not_found,
    reject_custom_config,
    resolve_vars,
    target_url,
)
from atlas_operator.operator.outcome import NORMAL, Outcome, fail, reconciling, waiting
from atlas_operator.operator.resources import AtlasMigration, AtlasMigrationStatus


class ProtectedFlowError(InputError):
    """A protected flow (migrate down) is configured wrongly or not allowed."""


CLOUD_UNSUPPORTED = "Atlas Cloud is not supported by this operator (see the README)"
MIGRATE_DOWN_NOT_ALLOWED = (
    "migrate down is not allowed, set `migrateDown.allow` to true to allow downgrade"
)


@dataclass
class MigrationInputs:
    target: DatabaseURL
    target_text: str
    dev_text: str | None
    directory: Directory
    options: MigrateOptions
    down_allowed: bool

    @property
    def observed_hash(self) -> str:
        """Upstream's inputs: the target URL and the directory checksum (hex SHA-256)."""
        digest = hashlib.sha256(self.target_text.encode())
        digest.update(self.directory.computed_sum().total.encode())
        return digest.hexdigest()


def directory_of(resource: AtlasMigration, source: ObjectSource) -> Directory:
    spec, namespace = resource.spec, resource.metadata.namespace or "default"
    src = spec.dir
    if src.remote is not None and src.remote.name:
        raise InputError(f"spec.dir.remote: {CLOUD_UNSUPPORTED}")
    if src.local is not None and src.config_map_ref is not None:
        raise InputError("cannot use both configmaps and local directory (spec.dir)")
    if src.config_map_ref is not None:
        data = source.configmap_data(namespace, src.config_map_ref.name)
        if data is None:
            raise InputError(
                not_found("configmaps", src.config_map_ref.name, namespace, "spec.dir.configMapRef")
            )
        return checked_directory(Directory.from_mapping(data), "spec.dir.configMapRef")
    if src.local is not None:
        return checked_directory(Directory.from_mapping(src.local), "spec.dir.local")
    raise InputError("no directory specified (spec.dir)")


def checked_directory(directory: Directory, field: str) -> Directory:
    """Refuses duplicate versions while reading the inputs, before the directory's hash
    (which `migrate hash` would refuse for the same reason) is computed."""
    try:
        check_versions(directory.files)
    except MigrateError as err:
        raise InputError(f"{field}: {err}") from None
    return directory


def down_allowed(resource: AtlasMigration) -> bool:
    flows = resource.spec.protected_flows
    down = flows.migrate_down if flows else None
    if down is None:
        return False
    if down.allow and not down.auto_approve:
        raise ProtectedFlowError(
            "allow cannot be true without autoApprove for local migration directory"
        )
    return down.allow and down.auto_approve


def resolve_inputs(resource: AtlasMigration, ctx: ReconcileContext) -> MigrationInputs:
    spec, namespace = resource.spec, resource.metadata.namespace or "default"
    reject_custom_config(spec, ctx.allow_custom_config)
    text = target_url(spec, namespace, ctx.source)
    if spec.cloud and (spec.cloud.token_from or spec.cloud.project or spec.cloud.url):
        raise InputError(f"spec.cloud: {CLOUD_UNSUPPORTED}")
    directory = directory_of(resource, ctx.source)
    allowed = down_allowed(resource)
    dev_text = dev_url(spec, namespace, ctx.source)
    resolve_vars(spec, namespace, ctx.source)
    try:
        target = parse_url(text)
    except ValueError as err:
        raise InputError(f"spec.url: {err}") from None
    options = MigrateOptions(
        baseline=spec.baseline or None,
        exec_order=spec.exec_order.value,
        revisions_schema=spec.revisions_schema or None,
    )
    return MigrationInputs(
        target=target,
        target_text=text,
        dev_text=dev_text,
        directory=directory,
        options=options,
        down_allowed=allowed,
    )


def reconcile_migration(
    resource: AtlasMigration, ctx: ReconcileContext
) -> Outcome[AtlasMigrationStatus]:
    """One reconcile pass (upstream §2.4 without Atlas Cloud); the resource is not
    modified, the outcome carries the new status."""
    outcome = Outcome(resource.status.model_copy(deep=True))
    generation = resource.metadata.generation or 0
    if not outcome.status.conditions:
        return reconciling(outcome, generation, "Reconciling")
    try:
        inputs = resolve_inputs(resource, ctx)
    except ProtectedFlowError as err:
        return fail_protected(outcome, generation, str(err))
    except InputError as err:
        return fail(outcome, generation, cond.REASON_READING_MIGRATION_DATA, str(err))
    if outcome.ready and inputs.observed_hash != outcome.status.observed_hash:
        return reconciling(outcome, generation, "Current migration data has changed")
    try:
        return migrate(resource, ctx, outcome, generation, inputs)
    except ProtectedFlowError as err:
        return fail_protected(outcome, generation, str(err))
    except DevDBNotReadyError as err:
        return fail(outcome, generation, cond.REASON_GETTING_DEV_DB, str(err))
    except DevDatabaseBusyError as err:  # migrate down: another run loads on the dev DB
        return waiting(outcome, generation, cond.REASON_GETTING_DEV_DB, str(err))
    except LockTimeoutError as err:  # Atlas's atlas_migrate_execute, held by another run
        message = f"waiting for another migration run to finish: {err}"
        return waiting(outcome, generation, cond.REASON_RECONCILING, message)
    except (EngineError, InputError, DevDBError) as err:
        return fail(outcome, generation, cond.REASON_MIGRATING, str(err))


def migrate(
    resource: AtlasMigration,
    ctx: ReconcileContext,
    outcome: Outcome[AtlasMigrationStatus],
    generation: int,
    inputs: MigrationInputs,
) -> Outcome[AtlasMigrationStatus]:
    """Status first; then down, nothing, or apply; then the directory state is kept."""
    namespace, name = resource.metadata.namespace or "default", resource.metadata.name or ""
    current = migrate_status(inputs.target, inputs.directory, inputs.options)
    is_down = (
        not current.pending and current.applied and len(current.available) < len(current.applied)
    )
    if is_down:
        previous = ctx.states.load(namespace, name)
        version = migrate_down_flow(resource, ctx, outcome, inputs, previous)
        applied_at = int(time.time())
    elif not current.pending:
        version = current.applied[-1].version if current.applied else ""
        applied_at = int(current.applied[-1].executed_at.timestamp()) if current.applied else 0
    else:
        result = migrate_apply(inputs.target, inputs.directory, inputs.options)
        if result.error:
            return fail(outcome, generation, cond.REASON_MIGRATING, result.error)
        version, applied_at = result.applied_version, int(time.time())
    try:
        ctx.states.save(namespace, name, inputs.directory)
    except Exception as err:  # the store talks to the API server or a disk
        return fail(outcome, generation, cond.REASON_STORING_DIR_STATE, str(err))
    status = outcome.status
    status.last_applied_version = version or None
    status.last_applied = applied_at or None
    status.observed_hash = inputs.observed_hash
    cond.set_ready(status, generation, "")
    outcome.event(NORMAL, cond.REASON_APPLIED, f"Version {version} applied")
    return outcome


def fail_protected(
    outcome: Outcome[AtlasMigrationStatus], generation: int, message: str
) -> Outcome[AtlasMigrationStatus]:
    reason = cond.REASON_PROTECTED_FLOW_ERROR
    return fail(outcome, generation, reason, message, reason)


def migrate_down_flow(
    resource: AtlasMigration,
    ctx: ReconcileContext,
    outcome: Outcome[AtlasMigrationStatus],
    inputs: MigrationInputs,
    previous: Directory | None,
) -> str:
    """Reverts to the directory's last version; returns that version. The plan is
    computed on a dev database, the only case where AtlasMigration needs one."""
    if not inputs.down_allowed:
        raise ProtectedFlowError(MIGRATE_DOWN_NOT_ALLOWED)
    if previous is None:
        raise InputError("unable to downgrade, no dir-state found")
    dev = ctx.devdbs.acquire(resource, resource.spec, inputs.target, inputs.dev_text, outcome)
    files = inputs.directory.files
    to_version = files[-1].version if files else ""
    result = migrate_down(inputs.target, previous, to_version, dev, inputs.options)
    if result.error:
        raise EngineError(result.error)
    return to_version
