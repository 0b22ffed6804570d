"""AtlasSchema status details: `observed_hash` depends on the desired state only, never
on the dev database that normalised it; the apply report names Atlas's driver."""

from __future__ import annotations

import pytest

from atlas_operator.engine.declarative import ApplyPolicy, load_sql_on_dev
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.urls import parse_url
from atlas_operator.operator.atlasschema import desired_hash
from tests.rig.databases import Databases, run

SQL = (
    "create table parent (id int primary key, name varchar(20) not null);\n"
    "create table child (id int primary key, parent_id int references parent (id));\n"
    "create index child_parent on child (parent_id);\n"
)


@pytest.mark.parametrize("kind", ["mariadb", "postgres"])
def test_same_desired_state_on_two_dev_databases_has_one_hash(dbs: Databases, kind: str) -> None:
    target = dbs.new(kind)
    devs = [dbs.new(kind), dbs.new(kind)]
    if kind == "postgres":  # schema scope, with dev schemas of their own names
        target = target.with_schema("public")
        names = ("dev_one", "dev_two")
        for name, dev in zip(names, devs, strict=True):
            run(dev, f"CREATE SCHEMA {name}")
        devs = [dev.with_schema(name) for name, dev in zip(names, devs, strict=True)]
    scope = driver_for(target).scope_of(target)
    assert scope.bound is not None
    hashes = set()
    for dev in devs:
        desired = load_sql_on_dev(SQL, dev, scope, ApplyPolicy(), target=target)
        assert desired.schemas[0].name != scope.bound  # the dev database's own name
        hashes.add(desired_hash(desired, scope))
    assert len(hashes) == 1
    other = load_sql_on_dev(SQL + "create table extra (id int);", devs[0], scope, ApplyPolicy())
    assert desired_hash(other, scope) not in hashes


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite://file.db", "sqlite3"),
        ("sqlite3://file.db", "sqlite3"),
        ("mysql://u@h/db", "mysql"),
        ("mariadb://u@h/db", "mariadb"),
        ("maria://u@h/db", "mariadb"),
        ("postgresql://u@h/db", "postgres"),
    ],
)
def test_apply_report_names_atlas_driver(url: str, driver: str) -> None:
    assert parse_url(url).atlas_driver == driver


def test_every_engine_skip_key_is_a_resource_field() -> None:
    """`policy.diff.skip` takes upstream's keys and one per object kind and change."""
    from atlas_operator.engine.changes import SKIP_KEYS
    from atlas_operator.operator.resources import SkipChanges

    assert set(SkipChanges.model_fields) == set(SKIP_KEYS)
    assert {"drop_view", "modify_function", "add_event_trigger"} <= set(SKIP_KEYS)
