"""What a reconciler needs from its surroundings, the same shape in the operator (the
API server) and in local mode (files): referenced objects, dev databases, directory
states and the operator's settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from atlas_operator.operator.devdb import DevDatabases, LocalDevDatabases
from atlas_operator.operator.dirstate import DirStateStore, MemoryDirState
from atlas_operator.operator.inputs import ObjectSource


@dataclass
class ReconcileContext:
    source: ObjectSource
    devdbs: DevDatabases = field(default_factory=LocalDevDatabases)
    states: DirStateStore = field(default_factory=MemoryDirState)
    allow_custom_config: bool = False
    """ALLOW_CUSTOM_CONFIG: upstream's gate for `spec.config`/`configFrom`."""
