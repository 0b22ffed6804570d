"""Session fixtures for the real services the tests run against."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rig.controlplane import ControlPlane, start_control_plane
from tests.rig.databases import Databases
from tests.rig.services import ServiceURLs, service_urls


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
