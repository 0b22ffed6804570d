"""Session fixtures for the real services the tests run against."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from atlas_operator.engine import statecache
from tests.rig.controlplane import ControlPlane, start_control_plane
from tests.rig.databases import Databases
from tests.rig.kubelet import FakeKubelet
from tests.rig.operator import Kube
from tests.rig.services import ServiceURLs, service_urls


@pytest.fixture(autouse=True)
def private_state_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI runs cache normalised desired states in $XDG_CACHE_HOME (engine/statecache.py):
    each test gets its own, so no test reuses another's entries or writes to $HOME."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("ATLAS_OPERATOR_NO_CACHE", raising=False)
    # A CLI verb run in-process turns the disk cache on for the process: off again
    # between tests, so a later library-level test loads on its dev database.
    monkeypatch.setattr(statecache, "_active", None)


@pytest.fixture(scope="session")
def databases() -> ServiceURLs:
    """The PostgreSQL and MariaDB test servers, started when not running."""
    return service_urls()


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """etcd + kube-apiserver on loopback with our CRDs installed."""
    plane = start_control_plane(tmp_path_factory.mktemp("control-plane"))
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture
def dbs(databases: ServiceURLs, tmp_path: Path) -> Iterator[Databases]:
    """Fresh databases on demand: `dbs.new("postgres" | "mariadb" | "sqlite")`."""
    made = Databases(databases, tmp_path)
    yield made
    made.drop_all()


def new_namespace(plane: ControlPlane) -> str:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    plane.kubectl("create", "namespace", name)
    return name


@pytest.fixture
def kube(control_plane: ControlPlane) -> Kube:
    return Kube(control_plane, new_namespace(control_plane))


@pytest.fixture
def kubelet(control_plane: ControlPlane, dbs: Databases, kube: Kube) -> Iterator[FakeKubelet]:
    """Runs dev-database pods for the test's namespace (see tests/rig/kubelet.py)."""
    fake = FakeKubelet(control_plane, dbs)
    fake.serve(kube.namespace)
    try:
        yield fake
    finally:
        fake.stop()
