"""`migrate down` and `migrate lint` with real dev databases."""

from __future__ import annotations

import pytest

from atlas_operator.engine.migrate.down import migrate_down
from atlas_operator.engine.migrate.executor import migrate_apply
from atlas_operator.engine.migrate.lint import is_widening, migrate_lint
from tests.engine.migrate.test_executor import directory, revisions, tables
from tests.rig.databases import KINDS, Databases

THREE = {
    "1_users.sql": "create table users (id int primary key, name varchar(50));",
    "2_posts.sql": "create table posts (id int primary key, user_id int);",
    "3_email.sql": "alter table users add column email varchar(100);",
}


@pytest.mark.parametrize("kind", KINDS)
def test_down_reverts_to_an_earlier_version(dbs: Databases, kind: str) -> None:
    url, dev = dbs.new(kind), dbs.new(kind)
    files = directory(THREE)
    assert migrate_apply(url, files).error is None
    planned = migrate_down(url, files, "1", dev, dry_run=True)
    assert planned.reverted == []
    assert any("DROP TABLE" in s and "posts" in s for s in planned.planned)
    assert tables(url) == {"users", "posts"}
    result = migrate_down(url, files, "1", dev)
    assert result.error is None
    assert result.reverted == ["3", "2"]
    assert tables(url) == {"users"}
    assert [row[0] for row in revisions(url)] == ["1"]
    # Applying the directory again brings the reverted files back.
    assert [f.file.name for f in migrate_apply(url, files).files] == ["2_posts.sql", "3_email.sql"]
    assert migrate_down(url, files, "3", dev).reverted == []


def lint_codes(
    dbs: Databases, kind: str, files: dict[str, str], latest: int = 1, *, hazards: bool = False
) -> list[str]:
    """The diagnostics' codes; the hazard analyzer's (HZ1xx) only when `hazards`."""
    report = migrate_lint(directory(files), dbs.new(kind), latest)
    assert not any(f.error for f in report.files), [f.error for f in report.files]
    return [
        d.code for f in report.files for d in f.diagnostics if hazards or d.analyzer != "hazard"
    ]


BASE = {
    "1.sql": (
        "create table users (id int primary key, name varchar(50), nick varchar(50));\n"
        "create table posts (id int primary key, user_id int,"
        " constraint posts_user foreign key (user_id) references users (id));"
    )
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("new", "codes"),
    [
        ("drop table posts;", ["DS102"]),
        ("alter table users drop column nick;", ["DS103"]),
        ("create unique index users_name on users (name);", ["MF101"]),
        ("create table tmp (id int);\ndrop table tmp;", []),
        ("-- atlas:nolint DS102\ndrop table posts;", []),
        ("-- atlas:nolint destructive\ndrop table posts;", []),
        ("-- atlas:nolint\n\ndrop table posts;", []),
        ("-- atlas:nolint MF101\ndrop table posts;", ["DS102"]),
    ],
)
def test_lint_analyzers(dbs: Databases, kind: str, new: str, codes: list[str]) -> None:
    assert lint_codes(dbs, kind, {**BASE, "2.sql": new}) == codes


@pytest.mark.parametrize(
    ("kind", "new", "codes"),
    [
        ("postgres", "alter table users add column age int not null;", ["MF103"]),
        ("mariadb", "alter table users add column age int not null;", ["MY101"]),
        ("postgres", "alter table users alter column name set not null;", ["MF104"]),
        ("mariadb", "alter table users modify name varchar(50) not null;", ["MF104"]),
        ("postgres", "alter table users alter column name type varchar(10);", ["MF105"]),
        ("postgres", "alter table users alter column name type varchar(100);", []),
        ("postgres", "alter table posts drop constraint posts_user;", ["CD101"]),
        ("postgres", "drop schema public cascade;", ["DS101"]),
    ],
)
def test_driver_specific_analyzers(dbs: Databases, kind: str, new: str, codes: list[str]) -> None:
    assert lint_codes(dbs, kind, {**BASE, "2.sql": new}) == codes


@pytest.mark.parametrize(
    ("kind", "new", "codes"),
    [
        # DS102 reports the lost rows: HZ101 (DeletesData) is not repeated.
        ("postgres", "drop table posts;", ["DS102"]),
        ("postgres", "create index users_name on users (name);", ["HZ103", "HZ106"]),
        ("postgres", "create index concurrently users_name on users (name);", ["HZ106", "HZ108"]),
        (
            "postgres",
            "alter table users alter column nick type int using 0;",
            ["MF105", "HZ102", "HZ105"],
        ),
        ("postgres", "alter table users alter column name type varchar(100);", []),
        ("postgres", "alter table users alter column name type text;", []),
        ("postgres", "alter table users add column note text default 'x';", []),
        ("postgres", "alter table users add column t float default random();", ["HZ102", "HZ105"]),
        (
            "postgres",
            "alter table users alter column name type varchar(10);",
            ["MF105", "HZ110", "HZ102", "HZ105"],
        ),
        (
            "postgres",
            "create table tags (id int primary key, user_id int);\n"
            "alter table tags add constraint tags_user foreign key (user_id) references users;",
            [],
        ),
        (
            "postgres",
            "alter table posts drop constraint posts_user;\n"
            "alter table posts add constraint posts_user foreign key (user_id) references users;",
            ["CD101", "HZ104"],
        ),
        ("mariadb", "create index users_name on users (name);", ["HZ106"]),
        (
            "mariadb",
            "alter table users modify name varchar(10);",
            ["MF105", "HZ101", "HZ105", "HZ108"],
        ),
        ("sqlite", "create index users_name on users (name);", ["HZ106"]),
    ],
)
def test_lint_reports_hazards(dbs: Databases, kind: str, new: str, codes: list[str]) -> None:
    assert lint_codes(dbs, kind, {**BASE, "2.sql": new}, hazards=True) == codes


def test_lint_reports_a_file_that_fails(dbs: Databases) -> None:
    report = migrate_lint(
        directory({**BASE, "2.sql": "create tabel x (id int);"}), dbs.new("postgres")
    )
    assert report.failed
    assert report.files[0].error is not None
    assert "create tabel x" in report.files[0].error


@pytest.mark.parametrize(
    ("before", "after", "widening"),
    [
        ("int", "bigint", True),
        ("bigint", "int", False),
        ("varchar(10)", "varchar(20)", True),
        ("character varying(20)", "character varying(10)", False),
        ("varchar(10)", "text", True),
        ("numeric(10,2)", "numeric(12,2)", True),
        ("numeric(10,2)", "numeric(10,1)", False),
        ("text", "integer", False),
    ],
)
def test_is_widening(before: str, after: str, widening: bool) -> None:
    assert is_widening(before, after) is widening
