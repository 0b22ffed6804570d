"""PostgreSQL: a psycopg 3 session, inspection from pg_catalog, planning, dev cleaning.

Inspection reads a whole scope with a fixed number of catalog queries (schemas,
tables, columns, indexes, constraints), whatever the number of tables. Values are
kept as the server prints them (`format_type` for types, `pg_get_expr` for defaults
and predicates, `pg_get_constraintdef` for checks), so a desired state run on a dev
database and the target compare equal when they mean the same.

As in Atlas (reference §6.3), an integer column whose default draws from a sequence
the column owns is reported as `serial`/`bigserial`/`smallserial` without a default:
that is how `serial` columns are stored, and reporting them as such lets a plan
create them (the model has no standalone sequences). A default that draws from a
sequence the column does not own (`create sequence s; … default nextval('s')`)
stays an integer with its `nextval('s'::regclass)` default.

Planning follows Atlas's PostgreSQL planner: names are qualified only in realm
scope; a table's changes are one `ALTER TABLE` (constraint drops first) with
`DROP INDEX` before it and `CREATE INDEX`, comments and sequence drops after it.
"""

from __future__ import annotations

from atlas_operator.engine.drivers.postgres.driver import PostgresDriver
from atlas_operator.engine.drivers.postgres.plan import Planner
from atlas_operator.engine.drivers.postgres.session import PostgresSession

__all__ = ["Planner", "PostgresDriver", "PostgresSession"]
