"""Schema states named the way Atlas names them: a database URL or `file://…`.

A database URL is inspected; a SQL file (or a directory of them, run in name
order) is loaded through the dev database. When no dev URL is given, SQLite
targets use an in-memory database; other drivers need one for SQL states.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from atlas_operator.engine.declarative import ApplyPolicy, load_hcl_on_dev, load_sql_on_dev
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.drivers.base import EngineError, Scope
from atlas_operator.engine.exclude import exclude_realm
from atlas_operator.engine.model import Realm
from atlas_operator.engine.urls import DatabaseURL, parse_url

FILE_SCHEME = "file://"


class StateError(EngineError):
    """A state reference that cannot be read."""


def is_file_state(ref: str) -> bool:
    return ref.startswith(FILE_SCHEME)


def read_sql_files(ref: str) -> tuple[str, str]:
    """The text of `file://x.sql`, `file://x.hcl` or `file://dir` (its .sql files in order)."""
    path = Path(ref[len(FILE_SCHEME) :])
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".sql")
        if not files:
            raise StateError(f"{ref}: the directory holds no .sql files")
        return "\n".join(p.read_text() for p in files), path.name
    if not path.exists():
        raise StateError(f"{ref}: no such file")
    if path.suffix.lower() not in (".sql", ".hcl"):
        raise StateError(f"{ref}: expected a .sql file or a directory of them")
    return path.read_text(), path.name


def default_dev_url(target: DatabaseURL | None) -> DatabaseURL:
    """SQLite gets an in-memory dev database; other drivers must be given one."""
    if target is not None and target.driver == "sqlite":
        return parse_url(f"sqlite://dev-{secrets.token_hex(4)}?mode=memory")
    raise StateError("--dev-url is required to load a SQL schema for this database")


def load_state(
    ref: str,
    *,
    dev_url: DatabaseURL | None,
    target: DatabaseURL | None,
    policy: ApplyPolicy,
) -> Realm:
    """The schema a state reference describes, in the scope of `target`."""
    if is_file_state(ref):
        text, source = read_sql_files(ref)
        dev = dev_url or default_dev_url(target)
        scope = scope_for(target or dev, policy)
        if source.lower().endswith(".hcl"):
            return load_hcl_on_dev(text, dev, scope, policy, target=target, source=source)
        return load_sql_on_dev(text, dev, scope, policy, source=source, target=target)
    url = parse_url(ref)
    driver = driver_for(url)
    scope = driver.scope_of(url, policy.schemas)
    with driver.open(url) as session:
        realm = driver.inspect(session, scope)
    return exclude_realm(realm, policy.exclude, scope.bound)


def scope_for(url: DatabaseURL, policy: ApplyPolicy) -> Scope:
    return driver_for(url).scope_of(url, policy.schemas)
