"""Dev databases that heal: a run that dies never blocks the next one (issue 12, item 3).

A desired state is loaded into the dev database, inspected, and cleaned away again.
A run killed in between (SIGKILL, an OOM kill, an evicted pod) used to leave its
objects behind, and every later run refused the dev database as "not clean" until a
person emptied it. Atlas's refusal is right for content that is not ours; for our own
leftovers it is not. So each run proves what it leaves behind is its own:

* **The lock.** A run holds a session-scoped lock on the dev database for as long as
  it uses it (load + inspect + clean): a PostgreSQL advisory lock (local to the
  database, so one per dev database, whatever the scope), a MySQL `GET_LOCK` named
  after the bound dev database (`atlas_dev:<db>`, or the server-wide `atlas_dev` in
  realm scope, where the desired state creates databases anywhere on the server), a
  SQLite `flock` per database file (in-memory ones too: they are shared between the
  threads of a process). The server drops the lock with the session, so a dead run
  never holds it. Concurrent runs on one dev database take turns: two loads can never
  see each other's objects, and a live run is never cleaned under. A run that cannot
  get the lock within `DEV_LOCK_TIMEOUT` fails with `DevDatabaseBusyError` (the
  operator waits and requeues; see operator/atlasschema.py).
* **The marker.** Under the lock, before loading anything, a run writes a marker and
  commits it; it removes the marker only after everything else is cleaned (so a run
  killed part-way through the clean is still recognised). In a bound dev schema the
  marker is a table `atlas_dev_marker` in that schema (the one place a schema-bound
  user can surely write); in realm scope it is a schema (MySQL: database)
  `atlas_dev_marker` of its own, since the desired state may drop and recreate any
  schema it names. The name is reserved: `clean` and `is_clean` leave the marker out,
  and inspections of the dev database drop it (`without_marker`).

A run that gets the lock finds one of three things:

1. nothing in scope: it marks and loads;
2. content and the marker: the marker was written by a run that held this lock, and
   since we hold it now that run is gone — its leftovers are cleaned, then we load;
3. content and no marker: foreign content, refused with Atlas's message unchanged
   ("the dev database … is not clean: it must be empty before use").

In realm scope a run starts only from a realm with nothing in scope, so everything in
scope while the marker is there came from the marked run. Mixing a realm-scoped and a
schema-bound dev URL on one MySQL server is not supported (as with Atlas, a realm dev
database must hold nothing else).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace

from atlas_operator.engine.drivers.base import (
    DEV_LOCK_TIMEOUT,
    DEV_MARKER,
    Driver,
    EngineError,
    LockTimeoutError,
    Scope,
    Session,
)
from atlas_operator.engine.model import Realm
from atlas_operator.engine.urls import DatabaseURL


class DevDatabaseBusyError(LockTimeoutError):
    """Another live run kept the dev database for longer than the wait allows."""


def not_clean_message(dev_url: DatabaseURL) -> str:
    """Atlas's refusal, word for word."""
    return f"the dev database {dev_url.redacted()} is not clean: it must be empty before use"


@contextmanager
def dev_session(
    driver: Driver,
    dev_url: DatabaseURL,
    scope: Scope,
    error: Callable[[str], EngineError] = EngineError,
    timeout: float = DEV_LOCK_TIMEOUT,
) -> Iterator[Session]:
    """A dev database session that this run owns: locked, healed of dead runs' leftovers,
    marked; cleaned and unmarked afterwards. Foreign content raises `error` with Atlas's
    "not clean" message."""
    with driver.open(dev_url) as dev, held(driver, dev, dev_url, scope, timeout):
        claim(driver, dev, dev_url, scope, error)
        try:
            yield dev
        finally:
            driver.clean(dev, scope)
            driver.unmark_dev(dev, scope)


@contextmanager
def held(
    driver: Driver, dev: Session, dev_url: DatabaseURL, scope: Scope, timeout: float
) -> Iterator[None]:
    """The dev lock. Releasing it on a session that broke (the error that broke it is
    the one worth reporting) is left to the session's end."""
    name = driver.dev_lock_name(dev_url, scope)
    lock = driver.lock(dev, name, timeout)
    try:
        lock.__enter__()
    except LockTimeoutError:
        raise DevDatabaseBusyError(
            f"the dev database {dev_url.redacted()} is in use by another run"
            f" (lock {name!r} held for more than {timeout:.0f}s)"
        ) from None
    try:
        yield
    except BaseException as exc:
        with suppress(EngineError):
            lock.__exit__(type(exc), exc, exc.__traceback__)
        raise
    lock.__exit__(None, None, None)


def claim(
    driver: Driver,
    dev: Session,
    dev_url: DatabaseURL,
    scope: Scope,
    error: Callable[[str], EngineError],
) -> None:
    """Under the dev lock: heal a dead run's leftovers or refuse foreign content, then
    mark the dev database as ours."""
    marked = driver.has_dev_marker(dev, scope)
    if not driver.is_clean(dev, scope):
        if not marked:
            raise error(not_clean_message(dev_url))
        driver.clean(dev, scope)  # the marking run is gone: we hold its lock
    if not marked:
        driver.mark_dev(dev, scope)


def without_marker(realm: Realm) -> Realm:
    """An inspection of a dev database minus the dev-run marker."""
    schemas = tuple(
        replace(schema, tables=tuple(t for t in schema.tables if t.name != DEV_MARKER))
        for schema in realm.schemas
        if schema.name != DEV_MARKER
    )
    return replace(realm, schemas=schemas)


def inspect_dev(driver: Driver, dev: Session, scope: Scope) -> Realm:
    """`driver.inspect` of a dev database in use, without the marker."""
    return without_marker(driver.inspect(dev, scope))
