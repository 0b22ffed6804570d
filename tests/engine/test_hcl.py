"""Atlas HCL desired states: evaluation, errors, and applies on real databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from atlas_operator.engine.declarative import (
    ApplyPolicy,
    execute_plan,
    load_hcl_on_dev,
    plan_apply,
)
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.hcl import HCLError, parse_hcl
from atlas_operator.engine.model import Column, ForeignKey, IndexPart
from atlas_operator.engine.states import default_dev_url, load_state
from atlas_operator.engine.urls import DatabaseURL, parse_url
from tests.rig.services import ServiceURLs

USERS = """
schema "{schema}" {{}}
table "users" {{
  schema = schema.{schema}
  column "id" {{
    type = int
  }}
  column "name" {{
    type = varchar(255)
    default = "anon"
  }}
  column "bio" {{
    type = sql("varchar(100)")
    null = true
  }}
  primary_key {{
    columns = [column.id]
  }}
  index "users_name" {{
    unique = true
    columns = [column.name]
  }}
}}
table "posts" {{
  schema = schema.{schema}
  column "id" {{
    type = int
  }}
  column "user_id" {{
    type = int
  }}
  primary_key {{
    columns = [column.id]
  }}
  foreign_key "posts_user" {{
    columns = [column.user_id]
    ref_columns = [table.users.column.id]
    on_delete = CASCADE
  }}
}}
"""


def test_hcl_evaluates_columns_keys_and_references() -> None:
    realm = parse_hcl(USERS.format(schema="public"))
    (schema,) = realm.schemas
    users = schema.table("users")
    assert users is not None
    assert users.column("id") == Column("id", "int", nullable=False)
    assert users.column("name") == Column("name", "varchar(255)", nullable=False, default="'anon'")
    assert users.column("bio") == Column("bio", "varchar(100)", nullable=True)
    assert users.indexes[0].parts == (IndexPart(column="name"),)
    posts = schema.table("posts")
    assert posts is not None
    assert posts.foreign_keys == (
        ForeignKey("posts_user", ("user_id",), "users", ("id",), on_delete="CASCADE"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'table "t" {\n  schema = schema.nope\n  column "a" {\n    type = int\n  }\n}\n',
            'schema "nope" is not defined',
        ),
        (
            'schema "s" {}\ntable "t" {\n  schema = schema.s\n  column "a" {\n'
            "    type = enum.status\n  }\n}\n",
            'schema.hcl: table "t": column "a": attribute "type": enum "status" is not defined',
        ),
        (
            'schema "s" {}\ntable "t" {\n  schema = schema.s\n  column "a" {\n    null = true\n'
            "  }\n}\n",
            "the type attribute is required",
        ),
        ('view "v" {\n  as = "select 1"\n}\n', 'view "v": the schema attribute is required'),
        ('event_trigger "e" {\n  on = table_rewrite\n}\n', "event_trigger are not supported yet"),
        (
            'schema "s" {}\ntable "users" {\n  schema = schema.s\n  column "id" {\n'
            '    type = int\n    null = "yes"\n  }\n}\n',
            'schema.hcl: table "users": column "id": attribute "null" must be a bool, '
            'got string "yes"',
        ),
        (
            'schema "s" {}\ntable "t" {\n  schema = schema.s\n  column "a" {\n'
            '    type = int\n    unique = "x"\n  }\n}\n',
            'column "a": unknown attribute "unique"',
        ),
        (
            'schema "s" {}\ntable "t" {\n  schema = schema.s\n}\n'
            'table "t" {\n  schema = schema.s\n}\n',
            'table "t": defined twice in schema "s"',
        ),
        ('schema "s" {\n  comment = "a"\n  comment = "b"\n}\n', 'attribute "comment" is defined'),
        ("table {", "schema.hcl:"),
    ],
)
def test_unsupported_or_broken_hcl_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(HCLError, match=message):
        parse_hcl(text)


def test_schema_bound_target_needs_the_same_schema_name(tmp_path: Path) -> None:
    target = parse_url(f"sqlite://{tmp_path / 'a.db'}")
    driver = driver_for(target)
    with pytest.raises(HCLError, match="exactly one schema"):
        load_hcl_on_dev(
            USERS.format(schema="main") + 'schema "other" {}\n',
            default_dev_url(target),
            driver.scope_of(target),
            ApplyPolicy(),
        )


@pytest.fixture
def server_databases(
    databases: ServiceURLs, request: pytest.FixtureRequest
) -> Iterator[tuple[DatabaseURL, DatabaseURL]]:
    """(target, dev) databases on the server named by the test's parameter."""
    server = request.param
    admin = parse_url(getattr(databases, server))
    driver = driver_for(admin)
    names = [f"hcl_{uuid.uuid4().hex[:8]}", f"hcldev_{uuid.uuid4().hex[:8]}"]
    with driver.open(admin) as session:
        for name in names:
            session.execute(f"CREATE DATABASE {name}")
    try:
        if server == "postgres":
            yield tuple(admin.with_database(n).with_schema("public") for n in names)  # type: ignore[misc]
        else:
            yield tuple(admin.with_schema(n) for n in names)  # type: ignore[misc]
    finally:
        with driver.open(admin) as session:
            for name in names:
                force = " WITH (FORCE)" if server == "postgres" else ""
                session.execute(f"DROP DATABASE IF EXISTS {name}{force}")


@pytest.mark.parametrize("server_databases", ["postgres", "mariadb"], indirect=True)
def test_hcl_applies_and_replans_empty(
    server_databases: tuple[DatabaseURL, DatabaseURL], tmp_path: Path
) -> None:
    target, dev = server_databases
    assert target.schema is not None
    hcl_file = tmp_path / "schema.hcl"
    hcl_file.write_text(USERS.format(schema=target.schema))
    driver = driver_for(target)

    def apply(dry_run: bool) -> list[str]:
        desired = load_state(f"file://{hcl_file}", dev_url=dev, target=target, policy=ApplyPolicy())
        with driver.open(target) as session:
            plan = plan_apply(session, driver, desired, ApplyPolicy())
            if dry_run:
                return plan.sql
            report = execute_plan(session, driver, plan, "file")
            assert report.error is None
            return report.applied

    applied = apply(dry_run=False)
    assert sum("CREATE TABLE" in s for s in applied) == 2
    assert apply(dry_run=True) == []
