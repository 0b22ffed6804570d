"""Fresh, empty databases of every kind for tests (the `dbs` fixture), dropped afterwards."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.urls import DatabaseURL, parse_url
from tests.rig.services import ServiceURLs

KINDS = ("postgres", "mariadb", "sqlite")


class Databases:
    """Creates empty databases: PostgreSQL at realm scope (as the seed's URL), MariaDB
    bound to a database of its own, SQLite in a temporary file."""

    def __init__(self, services: ServiceURLs, tmp: Path) -> None:
        self.postgres = parse_url(services.postgres)
        self.mariadb = parse_url(services.mariadb)
        self.tmp = tmp
        self.created: list[tuple[str, str]] = []

    def new(self, kind: str) -> DatabaseURL:
        name = f"m_{secrets.token_hex(5)}"
        if kind == "sqlite":
            return parse_url(f"sqlite://{self.tmp / name}.db")
        if kind == "postgres":
            run(self.postgres, f"CREATE DATABASE {name}")
            self.created.append((kind, name))
            return self.postgres.with_database(name)
        run(self.mariadb, f"CREATE DATABASE `{name}`")
        self.created.append((kind, name))
        return self.mariadb.with_schema(name)

    def drop_all(self) -> None:
        for kind, name in self.created:
            if kind == "postgres":
                run(self.postgres, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                run(self.mariadb, f"DROP DATABASE IF EXISTS `{name}`")


def run(url: DatabaseURL, *statements: str) -> list[tuple[Any, ...]]:
    """Runs statements on their own connection; returns the last one's rows."""
    with driver_for(url).open(url) as session:
        rows: list[tuple[Any, ...]] = []
        for statement in statements:
            rows = session.query(statement)
        return rows


def url_text(url: DatabaseURL) -> str:
    """The URL with its password, for the CLI's command line (loopback test servers)."""
    text = url.redacted()
    if url.password is None:
        return text
    return text.replace(":xxxxx@", f":{quote(url.password, safe='')}@", 1)
