"""One package per database family behind the `Driver` interface of `base`."""

from __future__ import annotations

from atlas_operator.engine.drivers.base import Driver
from atlas_operator.engine.urls import DatabaseURL


def driver_for(url: DatabaseURL) -> Driver:
    """The driver of a parsed URL (drivers are imported lazily: each needs its client)."""
    if url.driver == "sqlite":
        from atlas_operator.engine.drivers.sqlite import SQLiteDriver

        return SQLiteDriver()
    if url.driver == "postgres":
        from atlas_operator.engine.drivers.postgres import PostgresDriver

        return PostgresDriver()
    if url.driver == "mysql":
        from atlas_operator.engine.drivers.mysql import MySQLDriver

        return MySQLDriver(flavor=url.flavor)
    raise ValueError(f"no driver for {url.scheme!r}")
