"""The disk cache of normalised desired states (engine/statecache.py): a lossless round
trip of realms normalised by the real servers, keys that never match across inputs,
and a store that treats anything unusable as a miss."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from atlas_operator.engine import declarative, statecache
from atlas_operator.engine.declarative import ApplyPolicy, load_sql_on_dev
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.drivers.base import Scope
from atlas_operator.engine.model import (
    Column,
    Dependency,
    ObjectRef,
    Realm,
    Schema,
    SchemaObject,
    Table,
)
from atlas_operator.engine.statecache import StateCache, cache_key, from_json, to_full_json
from atlas_operator.engine.urls import parse_url
from tests.rig.databases import Databases, run

POSTGRES_SQL = """
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE SEQUENCE counter START 5;
CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, feeling mood DEFAULT 'happy');
CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY, at date NOT NULL,
  user_id int REFERENCES users (id)) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE VIEW happy AS SELECT id, name FROM users WHERE feeling = 'happy';
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RETURN NEW;  -- as written
END $$;
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();
CREATE INDEX users_name ON users (lower(name)) WHERE id > 0;
"""

MARIADB_SQL = """
CREATE TABLE users (id int PRIMARY KEY, name varchar(20) NOT NULL COMMENT 'who',
  joined date NOT NULL, KEY name_idx (name(10))) ENGINE=InnoDB;
CREATE TABLE visits (id int NOT NULL, d date NOT NULL, PRIMARY KEY (id, d))
  PARTITION BY RANGE (year(d)) (PARTITION p2023 VALUES LESS THAN (2024) COMMENT 'old',
  PARTITION pmax VALUES LESS THAN MAXVALUE);
CREATE TABLE shards (id int NOT NULL, d date) PARTITION BY LIST COLUMNS (id)
  SUBPARTITION BY KEY (id) (PARTITION p0 VALUES IN (1, 2)
  (SUBPARTITION s0, SUBPARTITION s1));
CREATE VIEW names AS SELECT id, name FROM users;
CREATE TRIGGER users_bi BEFORE INSERT ON users FOR EACH ROW SET NEW.name = TRIM(NEW.name);
CREATE FUNCTION twice(x int) RETURNS int DETERMINISTIC RETURN x * 2;
"""

SQLITE_SQL = """
CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL DEFAULT 'x') STRICT;
CREATE TABLE posts (id integer PRIMARY KEY, user_id int REFERENCES users (id));
CREATE INDEX posts_user ON posts (user_id);
CREATE VIEW names AS SELECT name FROM users;
CREATE TRIGGER posts_ai AFTER INSERT ON posts BEGIN SELECT 1; END;
"""

SQL = {"postgres": POSTGRES_SQL, "mariadb": MARIADB_SQL, "sqlite": SQLITE_SQL}


@pytest.fixture(autouse=True)
def no_memory_cache() -> Iterator[None]:
    """Each test loads on the dev database or the disk cache, never from memory."""
    declarative.NORMALISED_CACHE.clear()
    yield
    declarative.NORMALISED_CACHE.clear()
    statecache.configure(None)


def assert_same(restored: Realm, realm: Realm) -> None:
    """Equal, and equal in the fields `==` ignores."""
    assert restored == realm
    assert restored.dependencies == realm.dependencies
    before = [(o.key, o.source) for s in realm.schemas for o in s.objects]
    after = [(o.key, o.source) for s in restored.schemas for o in s.objects]
    assert after == before
    assert [(o.key, o.source) for o in restored.objects] == [
        (o.key, o.source) for o in realm.objects
    ]


@pytest.mark.parametrize("kind", ["postgres", "mariadb", "sqlite"])
def test_realms_normalised_by_real_servers_round_trip(dbs: Databases, kind: str) -> None:
    dev = dbs.new(kind)
    driver = driver_for(dev)
    realm = load_sql_on_dev(SQL[kind], dev, driver.scope_of(dev), ApplyPolicy())
    assert any(s.objects for s in realm.schemas)
    assert realm.dependencies
    if kind == "mariadb":
        assert any(t.partitioning for s in realm.schemas for t in s.tables)
        assert any(o.source for s in realm.schemas for o in s.objects)
    # Through JSON text, as the file holds it.
    restored = from_json(json.loads(json.dumps(to_full_json(realm))))
    assert_same(restored, realm)


def test_compare_false_fields_survive() -> None:
    ref = ObjectRef("table", "s", "t")
    obj = SchemaObject("function", "f()", definition="x", source=(("body", "as written"),))
    realm = Realm(
        schemas=(
            Schema("s", tables=(Table("t", columns=(Column("id", "int"),)),), objects=(obj,)),
        ),
        dependencies=(Dependency(ObjectRef("function", "s", "f()"), ref),),
    )
    restored = from_json(to_full_json(realm))
    assert_same(restored, realm)
    # model.to_json drops them: the disk format must not.
    assert "dependencies" not in realm.to_json()


@pytest.mark.parametrize(
    "data",
    [
        {"schemas": [{"name": 1}]},
        {"schemas": [{"name": "s", "tables": [{"name": "t", "columns": [{"name": "c"}]}]}]},
        {"schemas": [{"name": "s", "unknown": True}]},
        {"attrs": [["a"]]},
        {"schemas": "s"},
        [],
    ],
)
def test_data_that_does_not_fit_the_model_is_refused(data: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        from_json(data)


KEY = {
    "desired": "ab12",
    "driver": "postgres",
    "dev": "postgres://u:xxxxx@db:5432/dev?search_path=public",
    "server": "PostgreSQL 16.2",
    "scope": Scope(bound="public"),
    "engine": "0.1.0+abc",
}


@pytest.mark.parametrize(
    "change",
    [
        {"desired": "ab13"},
        {"driver": "mysql"},
        {"dev": "postgres://u:xxxxx@db:5433/dev?search_path=public"},
        {"dev": "postgres://v:xxxxx@db:5432/dev?search_path=public"},
        {"server": "PostgreSQL 16.3"},
        {"scope": Scope(bound="app")},
        {"scope": Scope(schemas=("public",))},
        {"engine": "0.1.0+abd"},
        {"engine": "0.2.0+abc"},
    ],
)
def test_any_changed_input_is_another_key(change: dict[str, object]) -> None:
    assert cache_key(**KEY) == cache_key(**KEY)  # type: ignore[arg-type]
    assert cache_key(**{**KEY, **change}) != cache_key(**KEY)  # type: ignore[arg-type]


def test_the_desired_digest_covers_the_sql_as_written_and_as_loaded() -> None:
    digest = declarative.desired_digest
    assert digest("CREATE TABLE t (id int);", "CREATE TABLE t (id int);") != digest(
        "CREATE TABLE t (id int); ", "CREATE TABLE t (id int); "
    )
    loaded = "CREATE TABLE t (id int);"
    assert digest("CREATE TABLE app.t (id int);", loaded) != digest(loaded, loaded)


def test_the_key_never_holds_the_password() -> None:
    url = parse_url("postgres://u:s3cret@db:5432/dev?sslmode=disable")
    assert "s3cret" not in statecache.dev_identity(url)
    other = parse_url("postgres://u:other@db:5432/dev?sslmode=disable")
    assert statecache.dev_identity(url) == statecache.dev_identity(other)


def test_an_in_memory_sqlite_dev_database_is_one_identity() -> None:
    first = parse_url("sqlite://dev-1234?mode=memory")
    second = parse_url("sqlite://dev-9876?mode=memory")
    assert statecache.dev_identity(first) == statecache.dev_identity(second)
    assert statecache.dev_identity(parse_url("sqlite:///tmp/dev.db")) != statecache.dev_identity(
        first
    )


def test_the_engine_version_names_the_package_and_the_source() -> None:
    from atlas_operator import __version__

    assert statecache.engine_version().startswith(f"{__version__}+")


SMALL = Realm(schemas=(Schema("main", tables=(Table("t", columns=(Column("id", "int"),)),)),))


def test_store_permissions_and_hit(tmp_path: Path) -> None:
    store = StateCache(tmp_path / "cache" / "desired")
    store.put("k1", SMALL)
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.path("k1").stat().st_mode) == 0o600
    assert store.get("k1") == SMALL
    assert store.get("k2") is None
    assert [p.name for p in store.directory.iterdir()] == ["k1.json"]  # no temporary left


def test_a_group_readable_directory_is_made_private(tmp_path: Path) -> None:
    directory = tmp_path / "desired"
    directory.mkdir(mode=0o755)
    StateCache(directory).put("k", SMALL)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b'{"format": 1, "key": "k", "realm": {"schemas": [{"name": 5}]}}',
        b'{"format": 999, "key": "k", "realm": {}}',
        b'{"format": 1, "key": "other", "realm": {}}',
        b"[]",
        b"\xff\xfe",
    ],
)
def test_a_corrupt_entry_is_a_miss_and_is_overwritten(tmp_path: Path, content: bytes) -> None:
    store = StateCache(tmp_path)
    store.path("k").write_bytes(content)
    assert store.get("k") is None
    store.put("k", SMALL)
    assert store.get("k") == SMALL


def test_an_unreadable_entry_is_a_miss(tmp_path: Path) -> None:
    store = StateCache(tmp_path)
    store.put("k", SMALL)
    store.path("k").chmod(0)
    if os.access(store.path("k"), os.R_OK):
        pytest.skip("running as a user who reads any file")
    assert store.get("k") is None


def test_the_oldest_entries_are_evicted(tmp_path: Path) -> None:
    store = StateCache(tmp_path, max_entries=3)
    for number in range(5):
        store.put(f"k{number}", SMALL)
        os.utime(store.path(f"k{number}"), (1000 + number, 1000 + number))
    store.evict()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k2.json", "k3.json", "k4.json"]
    size = store.path("k4").stat().st_size
    StateCache(tmp_path, max_bytes=size).evict()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k4.json"]


def test_load_uses_the_disk_cache_and_skips_the_dev_database(
    dbs: Databases, tmp_path: Path
) -> None:
    """A hit needs only the server identity: a dev database that is not clean (which a
    load refuses) is not touched otherwise. A changed SQL or server is a miss."""
    statecache.configure(tmp_path / "cache")
    dev = dbs.new("postgres")
    scope = driver_for(dev).scope_of(dev)
    first = load_sql_on_dev(POSTGRES_SQL, dev, scope, ApplyPolicy())
    entries = list((tmp_path / "cache").iterdir())
    assert len(entries) == 1
    run(dev, "CREATE TABLE public.leftover (id int)")
    declarative.NORMALISED_CACHE.clear()
    again = load_sql_on_dev(POSTGRES_SQL, dev, scope, ApplyPolicy())
    assert_same(again, first)
    # Another SQL text loads on the dev database (which now refuses: not clean).
    declarative.NORMALISED_CACHE.clear()
    with pytest.raises(declarative.DevDatabaseError):
        load_sql_on_dev(POSTGRES_SQL + "\n-- changed\n", dev, scope, ApplyPolicy())


def test_another_server_identity_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    statecache.configure(tmp_path / "cache")
    dev = parse_url("sqlite://dev?mode=memory")
    driver = driver_for(dev)
    loads: list[str] = []
    original = declarative.normalise_on_dev

    def counting(*args: object) -> Realm:
        loads.append("load")
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(declarative, "normalise_on_dev", counting)

    def load() -> Realm:
        declarative.NORMALISED_CACHE.clear()
        return load_sql_on_dev(SQLITE_SQL, dev, driver.scope_of(dev), ApplyPolicy())

    first = load()
    assert load() == first
    assert len(loads) == 1
    monkeypatch.setattr(type(driver), "server_identity", lambda self, session: "sqlite 9.9.9")
    assert load() == first
    assert len(loads) == 2
    # No identity: nothing is cached, every load runs.
    monkeypatch.setattr(type(driver), "server_identity", lambda self, session: None)
    load()
    load()
    assert len(loads) == 4


def test_without_configure_there_is_no_disk_cache(tmp_path: Path) -> None:
    assert statecache.active() is None
    statecache.configure(tmp_path)
    active = statecache.active()
    assert active is not None
    assert active.directory == tmp_path
    statecache.configure(None)
    assert statecache.active() is None


def test_user_cache_dir_and_opt_out() -> None:
    assert statecache.user_cache_dir({"XDG_CACHE_HOME": "/x/c"}) == Path(
        "/x/c/atlas-operator/desired"
    )
    assert statecache.user_cache_dir({"XDG_CACHE_HOME": "rel"}).is_relative_to(Path.home())
    assert statecache.disabled_by_env({"ATLAS_OPERATOR_NO_CACHE": "1"})
    assert statecache.disabled_by_env({"ATLAS_OPERATOR_NO_CACHE": "true"})
    assert not statecache.disabled_by_env({"ATLAS_OPERATOR_NO_CACHE": "0"})
    assert not statecache.disabled_by_env({})


def test_every_model_type_has_a_decoder() -> None:
    from atlas_operator.engine import model

    for value in vars(model).values():
        if dataclasses.is_dataclass(value) and isinstance(value, type):
            statecache.decoder(value)


def test_the_operator_caches_in_data_dir_only_when_it_is_set(tmp_path: Path) -> None:
    from atlas_operator.operator.manager import configure_desired_cache
    from atlas_operator.operator.settings import OperatorSettings

    env = {"DATA_DIR": str(tmp_path)}
    configure_desired_cache(env, OperatorSettings.from_env(env))
    active = statecache.active()
    assert active is not None
    assert active.directory == tmp_path / "desired-cache"
    configure_desired_cache({}, OperatorSettings.from_env({}))
    assert statecache.active() is None
    env["ATLAS_OPERATOR_NO_CACHE"] = "1"
    configure_desired_cache(env, OperatorSettings.from_env(env))
    assert statecache.active() is None
