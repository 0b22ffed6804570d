"""MySQL and MariaDB: inspection from information_schema (a fixed number of queries
for the whole scope, never one per table) and planning with MySQL's ALTER TABLE.

One thing the catalog does not tell: whether an index's `USING BTREE` (or `USING HASH`)
and its own KEY_BLOCK_SIZE were written, which SHOW CREATE TABLE prints then. It is read
from SHOW CREATE TABLE (showcreate.py), only for the tables that have a B-tree or hash
secondary index: on MariaDB in batches of 500 tables per compound statement, one round
trip each; on MySQL, which has no compound statements outside stored programs, one query
per such table. The planner writes `USING` only where the model has it, so B-tree, the
default, is written only when the desired state wrote it. The same batch reads the
partitioning of the tables TABLES.CREATE_OPTIONS marks `partitioned` (partitions.py:
the catalog's PARTITIONS table loses part of it); engine/diff_partitions.py turns a
change into ADD / DROP / REORGANIZE / COALESCE PARTITION where the server allows it.

One driver serves both flavours. The URL's scheme (`mysql://`, `mariadb://`) is only
a first guess: the server's `VERSION()` decides, because a `mysql://` URL that
reaches a MariaDB server must be inspected and planned with MariaDB's rules.

Inspected values are put in one normal form whatever the flavour or version:
- types are `COLUMN_TYPE` lower-cased outside quotes, as the server prints them
  (`int(11)` on MariaDB, `int` on MySQL 8);
- defaults are SQL text (`'abc'`, `0`, `current_timestamp()`, `(expr)`), None when
  there is none: MariaDB prints them that way, MySQL 8 prints string literals bare;
- a column's charset/collation are kept only when they differ from its table's, a
  table's only when they differ from its schema's, and a schema's only when they
  differ from the server's: databases created with other defaults then compare equal
  and a plan never pins a collation nobody asked for;
- MariaDB's JSON alias (LONGTEXT, utf8mb4_bin and an implicit `json_valid` check
  named after the column) reads as `json`, and its check does not leak out.

DDL commits implicitly on both flavours, so a failing plan leaves the statements
before the failure applied (`transactional_ddl = False`).
"""

from __future__ import annotations

from atlas_operator.engine.drivers.mysql.driver import MySQLDriver
from atlas_operator.engine.drivers.mysql.inspect import (
    ColumnRow,
    IndexRow,
    TableBuild,
    column_from_row,
    index_from_rows,
    normalize_default,
)
from atlas_operator.engine.drivers.mysql.plan import Planner
from atlas_operator.engine.drivers.mysql.session import MARIADB, MYSQL, MySQLSession, ServerInfo

__all__ = [
    "MARIADB",
    "MYSQL",
    "ColumnRow",
    "IndexRow",
    "MySQLDriver",
    "MySQLSession",
    "Planner",
    "ServerInfo",
    "TableBuild",
    "column_from_row",
    "index_from_rows",
    "normalize_default",
]
