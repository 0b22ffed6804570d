"""Fixtures the driver test modules share (the PostgreSQL databases of test_postgres)."""

from tests.engine.drivers.test_postgres import admin, new_db

__all__ = ["admin", "new_db"]
