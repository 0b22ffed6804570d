"""A disk cache of normalised desired states, so a one-shot CLI re-plan (or an operator
restart) needs only the target inspection.

Loading a desired state means running it on a dev database and inspecting the result
(engine/declarative.py `normalise_on_dev`): seconds for a large schema. The result
depends only on the input and on the database that normalised it, so it is stored
under a key made of everything that shapes it:

- the exact SQL as loaded (after HCL translation and `Driver.unqualify`) and as
  written, by sha256 (declarative.py `desired_digest`);
- the driver name and the dev database's identity: the redacted dev URL (scheme, user,
  host, port, database, parameters; never the password). An in-memory SQLite dev
  database is named randomly per run, so its identity is just "in-memory";
- the dev server's identity as the server reports it (`Driver.server_identity`: the
  version string and the settings that change what inspection prints: MySQL's default
  engine, charset, collation and sql_mode, PostgreSQL's encoding and collation);
- the scope (the bound schema or the `schemas` policy: the only policy part that
  reaches `normalise_on_dev`; `exclude` is applied after the cache, as in memory);
- the engine: the package version, a digest of the engine's source files (a changed
  inspector or model invalidates every entry, also between releases) and `FORMAT`.

The server identity needs a connection to the dev database. We pay it: one connect and
one query (about 10 ms on a local server) instead of trusting a URL whose server may
have been upgraded behind it, which would serve a state normalised by another version.
On a hit nothing else touches the dev database (no lock, no load, no clean); a miss
loads as before and stores the result. A dev database that cannot be reached fails as
before, so the cache never hides a broken `--dev-url`.

Entries are JSON (no pickle: a file someone else planted can at worst be a wrong
realm, and the directory is private to the user), one file per key, written to a
temporary file and renamed into place, mode 0600 in a 0700 directory the user owns.
An entry that cannot be read, parsed or rebuilt, or that names another key or format,
is a miss and is overwritten. The directory is bounded (`MAX_ENTRIES`, `MAX_BYTES`):
the least recently used entries are evicted after a write.

Where it lives: the CLI uses `$XDG_CACHE_HOME/atlas-operator/desired` (or
`~/.cache/…`); `--no-cache` or `ATLAS_OPERATOR_NO_CACHE=1` turns it off. The operator
uses `$DATA_DIR/desired-cache` when `DATA_DIR` is set. Without `configure` (library
use, tests) there is no disk cache; the in-memory cache in declarative.py stays in
front of this one either way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import threading
import types
import typing
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from atlas_operator.engine import model
from atlas_operator.engine.drivers.base import DatabaseError, Driver, Scope
from atlas_operator.engine.model import Realm
from atlas_operator.engine.urls import DatabaseURL

FORMAT = 1
"""Bumped when the entry layout (not the model: that is in the engine digest) changes."""
MAX_ENTRIES = 64
MAX_BYTES = 256 * 1024 * 1024
NO_CACHE_ENV = "ATLAS_OPERATOR_NO_CACHE"
SUFFIX = ".json"


# --- lossless serialisation of the model -------------------------------------------------


def to_full_json(value: Any) -> Any:
    """A model element as JSON data with every field, also those `==` ignores
    (`Realm.dependencies`, `SchemaObject.source`), unlike `model.to_json`. Fields that
    hold their default are left out: `from_json` restores them."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item != model.field_default(f):
                out[f.name] = to_full_json(item)
        return out
    if isinstance(value, tuple):
        return [to_full_json(item) for item in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise TypeError(f"cannot serialise {type(value).__name__} in a realm")


def from_json(data: Any) -> Realm:
    """The Realm `to_full_json` wrote; ValueError when the data does not fit the model."""
    realm = decoder(Realm)(data)
    assert isinstance(realm, Realm)
    return realm


Decoder = Callable[[Any], Any]


@cache
def decoder(hint: Any) -> Decoder:
    """A function that rebuilds a value of type `hint` (a model type hint), checking
    every value against it, so a damaged entry fails instead of becoming a wrong realm."""
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return dataclass_decoder(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return optional_decoder(args)
    if origin is tuple:
        return tuple_decoder(args)
    if hint in (str, int, bool):
        return scalar_decoder(hint)
    raise TypeError(f"no decoder for {hint!r}")


def dataclass_decoder(cls: type[Any]) -> Decoder:
    hints = typing.get_type_hints(cls, vars(model))
    fields = {f.name: decoder(hints[f.name]) for f in dataclasses.fields(cls)}

    def decode(data: Any) -> Any:
        if not isinstance(data, dict) or not data.keys() <= fields.keys():
            raise ValueError(f"not a {cls.__name__}: {str(data)[:80]}")
        return cls(**{name: fields[name](item) for name, item in data.items()})

    return decode


def optional_decoder(args: tuple[Any, ...]) -> Decoder:
    others = [a for a in args if a is not type(None)]
    if len(others) != 1 or len(args) != 2:
        raise TypeError(f"only `X | None` unions are supported, not {args!r}")
    inner = decoder(others[0])
    return lambda data: None if data is None else inner(data)


def tuple_decoder(args: tuple[Any, ...]) -> Decoder:
    if len(args) == 2 and args[1] is Ellipsis:
        item = decoder(args[0])

        def decode_many(data: Any) -> tuple[Any, ...]:
            if not isinstance(data, list):
                raise ValueError(f"expected a list, got {str(data)[:80]}")
            return tuple(item(x) for x in data)

        return decode_many
    items = [decoder(a) for a in args]

    def decode_fixed(data: Any) -> tuple[Any, ...]:
        if not isinstance(data, list) or len(data) != len(items):
            raise ValueError(f"expected {len(items)} items, got {str(data)[:80]}")
        return tuple(f(x) for f, x in zip(items, data, strict=True))

    return decode_fixed


def scalar_decoder(kind: type[Any]) -> Decoder:
    def decode(data: Any) -> Any:
        # bool is an int in Python: an int field must not accept true, nor the reverse.
        if type(data) is not kind:
            raise ValueError(f"expected {kind.__name__}, got {str(data)[:80]}")
        return data

    return decode


# --- keys --------------------------------------------------------------------------------


@cache
def engine_version() -> str:
    """The package version and a digest of the engine's source: any change to the code
    that normalises or models a state (even without a release) is another engine."""
    from atlas_operator import __version__

    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return f"{__version__}+{digest.hexdigest()[:16]}"


def dev_identity(url: DatabaseURL) -> str:
    """The dev database as the key sees it: the redacted URL (no password), except for an
    in-memory SQLite database, whose random name says nothing about how it normalises."""
    if url.driver == "sqlite" and url.memory:
        return "sqlite:in-memory"
    return url.redacted()


def cache_key(
    *,
    desired: str,
    driver: str,
    dev: str,
    server: str,
    scope: Scope,
    engine: str,
) -> str:
    """The entry's name: a sha256 over every input that shapes a normalised state."""
    parts = {
        "format": FORMAT,
        "engine": engine,
        "driver": driver,
        "dev": dev,
        "server": server,
        "scope": [scope.bound, list(scope.schemas)],
        "desired": desired,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def key_for(driver: Driver, dev_url: DatabaseURL, scope: Scope, desired: str) -> str | None:
    """The key of the desired state whose digest is `desired`, loaded on `dev_url` in
    `scope`; None when the driver cannot say which server
    it is (no caching then). Connects to read the server's identity; a dev database that
    cannot be reached raises as loading would."""
    with driver.open(dev_url) as session:
        server = driver.server_identity(session)
    if server is None:
        return None
    return cache_key(
        desired=desired,
        driver=driver.name,
        dev=dev_identity(dev_url),
        server=server,
        scope=scope,
        engine=engine_version(),
    )


# --- the store ---------------------------------------------------------------------------


class StateCache:
    """One directory of entries, `<key>.json` each."""

    def __init__(
        self, directory: Path, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES
    ) -> None:
        self.directory = directory
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._ready = False
        self._lock = threading.Lock()

    def path(self, key: str) -> Path:
        return self.directory / f"{key}{SUFFIX}"

    def get(self, key: str) -> Realm | None:
        """The entry's realm, or None when it is missing or unusable (a miss)."""
        if not self.ready():
            return None
        path = self.path(key)
        try:
            data = json.loads(path.read_bytes())
            if data.get("format") != FORMAT or data.get("key") != key:
                return None
            realm = from_json(data["realm"])
            os.utime(path)  # recently used: evicted last
        except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
            return None
        return realm

    def put(self, key: str, realm: Realm) -> None:
        """Stores the entry atomically; a cache that cannot be written is skipped quietly
        (the state was loaded, only the next run will load it again)."""
        if not self.ready():
            return
        try:
            text = json.dumps(
                {"format": FORMAT, "key": key, "realm": to_full_json(realm)},
                separators=(",", ":"),
            )
        except (TypeError, ValueError):
            return  # a value the format cannot hold (a model change it missed): no entry
        try:
            fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=SUFFIX)
            try:
                with os.fdopen(fd, "w") as out:  # mkstemp creates it 0600
                    out.write(text)
                os.replace(temp, self.path(key))
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
            self.evict()
        except OSError:
            return

    def ready(self) -> bool:
        """Creates the directory 0700 on first use; False when it is not a directory of
        this user's (entries anyone else can write could plant a state)."""
        with self._lock:
            if not self._ready:
                try:
                    self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                    info = self.directory.stat()
                    if info.st_uid != os.getuid():
                        return False
                    if info.st_mode & 0o077:
                        self.directory.chmod(0o700)
                except OSError:
                    return False
                self._ready = True
            return True

    def evict(self) -> None:
        """Removes the least recently used entries beyond the bounds (concurrent writers
        may remove the same file: a vanished one is already gone)."""
        entries: list[tuple[float, int, Path]] = []
        for path in self.directory.glob(f"*{SUFFIX}"):
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            entries.append((info.st_mtime, info.st_size, path))
        entries.sort(reverse=True)
        total = 0
        for index, (_, size, path) in enumerate(entries):
            total += size
            if index >= self.max_entries or total > self.max_bytes:
                path.unlink(missing_ok=True)


_active: StateCache | None = None


def configure(directory: Path | None) -> None:
    """Turns the disk cache on (in `directory`) or off (None) for this process."""
    global _active
    _active = StateCache(directory) if directory is not None else None


def active() -> StateCache | None:
    return _active


def disabled_by_env(env: Mapping[str, str]) -> bool:
    return env.get(NO_CACHE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def user_cache_dir(env: Mapping[str, str]) -> Path:
    """`$XDG_CACHE_HOME/atlas-operator/desired`, or `~/.cache/…` (XDG base directories:
    a relative XDG_CACHE_HOME is ignored)."""
    base = env.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "atlas-operator" / "desired"


def cached_normalise(
    driver: Driver,
    desired: str,
    dev_url: DatabaseURL,
    scope: Scope,
    normalise: Callable[[], Realm],
) -> Realm:
    """`normalise()`'s realm, from the active disk cache when an entry for the desired
    state (`desired`: its digest) matches."""
    store = active()
    if store is None:
        return normalise()
    try:
        key = key_for(driver, dev_url, scope, desired)
    except DatabaseError:
        return normalise()  # it reports the unreachable dev database as it always did
    if key is None:
        return normalise()
    realm = store.get(key)
    if realm is None:
        realm = normalise()
        store.put(key, realm)
    return realm
