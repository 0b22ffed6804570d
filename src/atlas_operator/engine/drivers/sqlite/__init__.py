"""SQLite: inspection from `sqlite_master` and the table-valued pragmas, and planning
with the table-rebuild procedure where `ALTER TABLE` cannot make a change.

SQLite keeps the original `CREATE TABLE` text and nothing else for checks,
constraint names, AUTOINCREMENT and generated expressions, so those are read from
that text; everything the pragmas describe comes from the pragmas.
"""

from __future__ import annotations

from atlas_operator.engine.drivers.sqlite.driver import SQLiteDriver
from atlas_operator.engine.drivers.sqlite.session import SQLiteSession

__all__ = ["SQLiteDriver", "SQLiteSession"]
