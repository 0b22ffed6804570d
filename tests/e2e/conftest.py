"""End-to-end fixtures: the real control plane, the real databases, and the operator
as a separate process, driven only through the Kubernetes API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.rig.controlplane import ControlPlane
from tests.rig.operator import OperatorProcess

ISOLATED_KEY, ISOLATED_VALUE = "e2e-scope", "isolated"
ISOLATED = {ISOLATED_KEY: ISOLATED_VALUE}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.controlplane)
            item.add_marker(pytest.mark.databases)


@pytest.fixture(scope="package")
def operator(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """One cluster-wide operator for the end-to-end tests; each test has a namespace.
    Resources labelled `e2e-scope=isolated` are left to the operators a test starts.
    Package-scoped: it stops before other packages' tests use the control plane."""
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    args = [f"--label-selector={ISOLATED_KEY}!={ISOLATED_VALUE}"]
    process = OperatorProcess(control_plane.kubeconfig, log, args=args).start()
    try:
        yield process
    finally:
        process.stop()
