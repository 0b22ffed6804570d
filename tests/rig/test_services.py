"""The test databases are real servers reachable through the URLs the script prints."""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg
import pymysql
import pytest

from tests.rig.services import ServiceURLs

pytestmark = pytest.mark.databases


def test_postgres_accepts_the_printed_url(databases: ServiceURLs) -> None:
    with psycopg.connect(databases.postgres.replace("postgres://", "postgresql://", 1)) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()
    assert version is not None
    assert int(version[0]) >= 150000


@pytest.mark.parametrize("scheme", ["mariadb", "mysql"])
def test_mariadb_accepts_the_printed_url(databases: ServiceURLs, scheme: str) -> None:
    url = urlsplit(databases.mariadb if scheme == "mariadb" else databases.mysql)
    assert url.scheme == scheme
    conn = pymysql.connect(
        host=url.hostname, port=url.port or 3306, user=url.username, password=url.password or ""
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            row = cursor.fetchone()
    finally:
        conn.close()
    assert row is not None
    assert "MariaDB" in row[0]
