"""Which Secrets and ConfigMaps each resource reads, so a change to one of them
re-triggers its dependents (upstream §2.9, with DECISIONS.md §3.2: every reference,
pruned when a resource changes or goes away, rebuilt from the resources themselves
after a restart)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

ResourceKey = tuple[str, str, str]
"""(kind, namespace, name) of an AtlasSchema or AtlasMigration."""
ObjectKey = tuple[str, str, str]
"""("Secret" | "ConfigMap", namespace, name)."""

_REFERENCE_FIELDS = {
    "secretKeyRef": "Secret",
    "configMapKeyRef": "ConfigMap",
    "configMapRef": "ConfigMap",
}
_NOT_OURS = frozenset({"devDB"})
"""A custom dev-database pod spec refers to objects for the kubelet, not for us."""


def references_of(spec: dict[str, Any], namespace: str) -> set[ObjectKey]:
    return {(kind, namespace, name) for kind, name in _walk(spec)}


def _walk(node: Any) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _NOT_OURS:
                continue
            kind = _REFERENCE_FIELDS.get(key)
            if kind and isinstance(value, dict) and isinstance(value.get("name"), str):
                yield kind, value["name"]
            else:
                yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


class ReferenceIndex:
    def __init__(self) -> None:
        self.dependents_of: dict[ObjectKey, set[ResourceKey]] = {}
        self.references: dict[ResourceKey, set[ObjectKey]] = {}

    def update(self, resource: ResourceKey, references: set[ObjectKey]) -> None:
        self.remove(resource)
        self.references[resource] = references
        for ref in references:
            self.dependents_of.setdefault(ref, set()).add(resource)

    def remove(self, resource: ResourceKey) -> None:
        for ref in self.references.pop(resource, set()):
            dependents = self.dependents_of.get(ref)
            if dependents is not None:
                dependents.discard(resource)
                if not dependents:
                    del self.dependents_of[ref]

    def dependents(self, obj: ObjectKey) -> set[ResourceKey]:
        return set(self.dependents_of.get(obj, ()))
