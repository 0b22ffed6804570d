"""Schema states named the way Atlas names them: a database URL or `file://…`.

A database URL is inspected; a SQL file (or a directory of them, run in name
order) is loaded through the dev database. When no dev URL is given, SQLite
targets use an in-memory database; other drivers need one for SQL states.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
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


def check_state_refs(refs: Sequence[str], flag: str = "to") -> None:
    """Atlas's rules for a repeated state flag (`selectScheme`, `FilesExt`): one kind of
    source only, and only `file://` sources may be given more than once."""
    if not refs:
        raise StateError(f"at least one --{flag} url is required")
    scheme = ""
    for ref in refs:
        current = ref.split("://", 1)[0] if "://" in ref else ""
        if not current:
            raise StateError(f"{ref}: missing scheme. See: https://atlasgo.io/url")
        if not scheme:
            scheme = current
        elif current != scheme:
            raise StateError(
                f"got mixed --{flag} url schemes: {scheme!r} and {current!r}, the desired state"
                " must be provided from a single kind of source"
            )
        elif current != "file":
            raise StateError(
                f"got multiple --{flag} urls of scheme {current!r}, only multiple 'file://' urls"
                " are supported"
            )
    if scheme == "file":
        kinds = {ref: file_kind(ref) for ref in refs}
        sql = [ref for ref, kind in kinds.items() if kind == ".sql"]
        hcl = [ref for ref, kind in kinds.items() if kind == ".hcl"]
        if sql and hcl:
            raise StateError(
                f"ambiguous schema: both SQL and HCL files found: {sql[0]!r}, {hcl[0]!r}"
            )


def file_kind(ref: str) -> str:
    """`.hcl` for an HCL file; `.sql` for anything else (SQL files and directories)."""
    return ".hcl" if ref.lower().endswith(".hcl") else ".sql"


def read_state_files(refs: Sequence[str]) -> tuple[str, str]:
    """The text of several `file://` states read as one, in the order given (Atlas reads
    repeated `--to file://…` sources together), and the names of the files."""
    parts = [read_sql_files(ref) for ref in refs]
    return "\n".join(text for text, _ in parts), ", ".join(source for _, source in parts)


def load_state(
    ref: str | Sequence[str],
    *,
    dev_url: DatabaseURL | None,
    target: DatabaseURL | None,
    policy: ApplyPolicy,
    flag: str = "to",
) -> Realm:
    """The schema a state reference (or several `file://` ones, read together) describes,
    in the scope of `target`."""
    refs = [ref] if isinstance(ref, str) else list(ref)
    check_state_refs(refs, flag)
    ref = refs[0]
    if is_file_state(ref):
        text, source = read_state_files(refs)
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
