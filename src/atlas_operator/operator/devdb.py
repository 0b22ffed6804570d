"""Where a reconcile gets its dev database (upstream §2.5, DECISIONS.md §6).

In order: a custom `devDB.spec` pod (its URL is `devURL` with the pod's IP as host);
`devURL`/`devURLFrom`; an in-memory SQLite database for SQLite targets; otherwise a
managed Deployment `<name>-atlas-dev-db` in the cluster. Local mode has no cluster, so
there the last case is an error that says which field to set.
"""

from __future__ import annotations

from typing import Any, Protocol

from atlas_operator.engine.drivers.base import EngineError
from atlas_operator.engine.sandbox import check_dev_url
from atlas_operator.engine.states import default_dev_url
from atlas_operator.engine.urls import DatabaseURL, parse_url
from atlas_operator.operator.outcome import Outcome
from atlas_operator.operator.resources import Resource, TargetAndProjectFields


class DevDBNotReadyError(Exception):
    """The dev database is not ready yet (reason `GettingDevDB`, polled, not a failure)."""


class DevDBError(Exception):
    """The dev database cannot be provided as configured (a failure of the input step)."""


class DevDatabases(Protocol):
    def acquire(
        self,
        resource: Resource,
        spec: TargetAndProjectFields,
        target: DatabaseURL,
        explicit: str | None,
        outcome: Outcome[Any],
    ) -> DatabaseURL:
        """The dev database URL; raises DevDBNotReadyError while it is being started."""

    def release(self, resource: Resource, outcome: Outcome[Any]) -> None:
        """After a Ready pass: reset (prewarm) or scale down the managed dev database."""


def needs_managed(spec: TargetAndProjectFields, target: DatabaseURL, explicit: str | None) -> bool:
    """A managed pod is needed for a custom devDB.spec, or when no URL is known and the
    target is not SQLite."""
    if spec.dev_db is not None and spec.dev_db.spec is not None:
        return True
    return explicit is None and target.driver != "sqlite"


def unmanaged_dev_url(target: DatabaseURL, explicit: str | None) -> DatabaseURL:
    """The explicit dev URL, or an in-memory SQLite database for SQLite targets."""
    try:
        dev = parse_url(explicit) if explicit else default_dev_url(target)
        check_dev_url(dev, target)  # never the target itself (engine/sandbox.py)
    except (ValueError, EngineError) as err:
        raise DevDBError(f"spec.devURL: {err}") from None
    return dev


class LocalDevDatabases:
    """Local mode: only dev databases that need no cluster."""

    def acquire(
        self,
        resource: Resource,
        spec: TargetAndProjectFields,
        target: DatabaseURL,
        explicit: str | None,
        outcome: Outcome[Any],
    ) -> DatabaseURL:
        if spec.dev_db is not None and spec.dev_db.spec is not None:
            if not explicit:
                raise DevDBError("spec.devURL: devURL is required when devDB is provided")
            raise DevDBNotReadyError(
                "spec.devDB: local mode cannot start a dev-database pod; "
                "remove spec.devDB to use spec.devURL directly"
            )
        if needs_managed(spec, target, explicit):
            raise DevDBNotReadyError(
                "spec.devURL: local mode cannot start a dev database for "
                f"{target.driver}; set spec.devURL or spec.devURLFrom"
            )
        return unmanaged_dev_url(target, explicit)

    def release(self, resource: Resource, outcome: Outcome[Any]) -> None:
        return None
