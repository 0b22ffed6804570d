"""The AtlasMigration reconcile (upstream §2.4), free of Kubernetes I/O so that the
operator and local mode (`atlas-operator reconcile -f`) run the very same steps.

One pass: resolve inputs (ReadingMigrationData) → migrate status (Migrating) → either
migrate down (protected flow, needs the previous directory state and a dev database),
nothing to do (Ready, no dev database), or apply the pending files (Migrating on
failure) → Ready with `lastAppliedVersion` → store the directory state.
Unlike upstream, applying never needs a dev database: our engine runs the files itself.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from atlas_operator.engine.drivers.base import EngineError
from atlas_operator.engine.migrate.dir import MigrationDir as Directory
from atlas_operator.engine.migrate.down import migrate_down
from atlas_operator.engine.migrate.executor import (
    MigrateOptions,
    migrate_apply,
    migrate_status,
)
from atlas_operator.engine.states import default_dev_url
from atlas_operator.engine.urls import DatabaseURL, parse_url
from atlas_operator.operator import conditions as cond
from atlas_operator.operator.dirstate import DirStateStore
from atlas_operator.operator.inputs import (
    InputError,
    ObjectSource,
    dev_url,
    reject_custom_config,
    target_url,
)
from atlas_operator.operator.resources import AtlasMigration, AtlasMigrationStatus


class ProtectedFlowError(InputError):
    """A protected flow (migrate down) is configured wrongly or not allowed."""


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

    def dev(self) -> DatabaseURL:
        if self.dev_text:
            return parse_url(self.dev_text)
        try:
            return default_dev_url(self.target)
        except EngineError:
            raise InputError(
                "spec.devURL: a dev database is needed to compute the downgrade plan; "
                "set spec.devURL or spec.devURLFrom"
            ) from None


def directory_of(resource: AtlasMigration, source: ObjectSource) -> Directory:
    spec, namespace = resource.spec, resource.metadata.namespace or "default"
    src = spec.dir
    if src.remote is not None and src.remote.name:
        raise InputError(
            "spec.dir.remote: Atlas Cloud directories are not supported by this operator"
        )
    if src.local is not None and src.config_map_ref is not None:
        raise InputError("spec.dir: cannot use both configmaps and local directory")
    if src.config_map_ref is not None:
        data = source.configmap_data(namespace, src.config_map_ref.name)
        if data is None:
            raise InputError(
                f"spec.dir.configMapRef: configmap {namespace}/{src.config_map_ref.name} not found"
            )
        return Directory.from_mapping(data)
    if src.local is not None:
        return Directory.from_mapping(src.local)
    raise InputError("spec.dir: no directory specified")


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


def resolve_inputs(resource: AtlasMigration, source: ObjectSource) -> MigrationInputs:
    spec, namespace = resource.spec, resource.metadata.namespace or "default"
    if spec.cloud and (spec.cloud.token_from or spec.cloud.project):
        raise InputError("spec.cloud: Atlas Cloud is not supported by this operator")
    reject_custom_config(spec)
    directory = directory_of(resource, source)
    allowed = down_allowed(resource)
    text = target_url(spec, namespace, source)
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
        dev_text=dev_url(spec, namespace, source),
        directory=directory,
        options=options,
        down_allowed=allowed,
    )


def reconcile_migration(
    resource: AtlasMigration, source: ObjectSource, states: DirStateStore
) -> AtlasMigrationStatus:
    """One reconcile pass; returns the new status (the resource is not modified)."""
    status = resource.status.model_copy(deep=True)
    generation = resource.metadata.generation or 0
    namespace, name = resource.metadata.namespace or "default", resource.metadata.name or ""
    try:
        inputs = resolve_inputs(resource, source)
    except ProtectedFlowError as err:
        cond.set_not_ready(status, generation, cond.REASON_PROTECTED_FLOW_ERROR, str(err))
        return status
    except InputError as err:
        cond.set_not_ready(status, generation, cond.REASON_READING_MIGRATION_DATA, str(err))
        return status
    try:
        current = migrate_status(inputs.target, inputs.directory, inputs.options)
        is_down = (
            not current.pending
            and current.applied
            and len(current.available) < len(current.applied)
        )
        if is_down:
            version = migrate_down_flow(inputs, states.load(namespace, name))
            applied_at = int(time.time())
        elif not current.pending:
            version = current.applied[-1].version if current.applied else ""
            applied_at = int(current.applied[-1].executed_at.timestamp()) if current.applied else 0
        else:
            result = migrate_apply(inputs.target, inputs.directory, inputs.options)
            if result.error:
                cond.set_not_ready(status, generation, cond.REASON_MIGRATING, result.error)
                return status
            version, applied_at = result.applied_version, int(time.time())
    except ProtectedFlowError as err:
        cond.set_not_ready(status, generation, cond.REASON_PROTECTED_FLOW_ERROR, str(err))
        return status
    except (EngineError, InputError) as err:
        cond.set_not_ready(status, generation, cond.REASON_MIGRATING, str(err))
        return status
    states.save(namespace, name, inputs.directory)
    status.last_applied_version = version or None
    status.last_applied = applied_at or None
    status.observed_hash = inputs.observed_hash
    cond.set_ready(status, generation, "")
    return status


def migrate_down_flow(inputs: MigrationInputs, previous: Directory | None) -> str:
    """Reverts to the directory's last version; returns that version."""
    if not inputs.down_allowed:
        raise ProtectedFlowError(MIGRATE_DOWN_NOT_ALLOWED)
    if previous is None:
        raise InputError("unable to downgrade, no dir-state found")
    files = inputs.directory.files
    to_version = files[-1].version if files else ""
    result = migrate_down(inputs.target, previous, to_version, inputs.dev(), inputs.options)
    if result.error:
        raise EngineError(result.error)
    return to_version
