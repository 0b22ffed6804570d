"""`migrate apply` and `migrate status` on real PostgreSQL, MariaDB and SQLite."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from atlas_operator.engine.migrate.dir import ChecksumError, MigrateError, MigrationDir
from atlas_operator.engine.migrate.executor import (
    HistoryChangedError,
    HistoryNonLinearError,
    MigrateOptions,
    NotCleanError,
    migrate_apply,
    migrate_status,
)
from atlas_operator.engine.urls import DatabaseURL
from tests.engine.migrate.test_dir import SEED_FILE, SEED_SUM
from tests.rig.databases import KINDS, Databases, run

# The seed's directory, and the same users table for MySQL and SQLite.
USERS = {
    "postgres": SEED_FILE,
    "mariadb": (
        "create table users (\n  id int not null auto_increment,\n  name varchar(255) not null,\n"
        "  email varchar(255) unique not null,\n  short_bio varchar(255) not null,\n"
        "  primary key (id)\n);\n"
    ),
    "sqlite": (
        "create table users (\n  id integer not null primary key autoincrement,\n"
        "  name varchar(255) not null,\n  email varchar(255) unique not null,\n"
        "  short_bio varchar(255) not null\n);\n"
    ),
}
VERSION = "20230316085611"


def directory(files: dict[str, str]) -> MigrationDir:
    """A directory with a correct atlas.sum."""
    summed = MigrationDir.from_mapping(files).computed_sum().marshal()
    return MigrationDir.from_mapping({**files, "atlas.sum": summed})


def revisions_table(url: DatabaseURL) -> str:
    if url.driver == "postgres":
        return "atlas_schema_revisions.atlas_schema_revisions"
    return "atlas_schema_revisions"


def revisions(url: DatabaseURL) -> list[tuple[Any, ...]]:
    return run(
        url,
        "SELECT version, type, applied, total, error, error_stmt, hash"
        f" FROM {revisions_table(url)} ORDER BY version",
    )


def tables(url: DatabaseURL) -> set[str]:
    if url.driver == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    elif url.driver == "postgres":
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    else:
        sql = (
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{url.schema}'"
        )
    return {str(row[0]) for row in run(url, sql)} - {"atlas_schema_revisions"}


def test_seed_directory_applies_to_postgres_as_the_seed_shows(dbs: Databases) -> None:
    url = dbs.new("postgres")
    seed = MigrationDir.from_mapping({f"{VERSION}.sql": SEED_FILE, "atlas.sum": SEED_SUM})
    result = migrate_apply(url, seed)
    assert result.error is None
    assert result.message == f"Migrated to version {VERSION} (1 migrations in total)"
    columns = run(
        url,
        "SELECT column_name, data_type, character_maximum_length, is_nullable, column_default"
        " FROM information_schema.columns WHERE table_name = 'users' ORDER BY ordinal_position",
    )
    assert columns == [
        ("id", "integer", None, "NO", "nextval('users_seq'::regclass)"),
        ("name", "character varying", 255, "NO", None),
        ("email", "character varying", 255, "NO", None),
        ("short_bio", "character varying", 255, "NO", None),
    ]
    indexes = run(url, "SELECT indexname FROM pg_indexes WHERE tablename = 'users' ORDER BY 1")
    assert indexes == [("users_email_key",), ("users_pkey",)]
    assert revisions(url) == [
        (VERSION, 2, 2, 2, None, None, "ldFr73m6ZQzNi8q9dVJsOU/ZHmkBo4Sax03AaL0VUUs=")
    ]
    assert migrate_apply(url, seed).message == "No migration files to execute"


@pytest.mark.parametrize("kind", ["mariadb", "sqlite"])
def test_flavoured_seed_directory_applies(dbs: Databases, kind: str) -> None:
    url = dbs.new(kind)
    result = migrate_apply(url, directory({f"{VERSION}.sql": USERS[kind]}))
    assert result.error is None
    assert tables(url) == {"users"}
    assert [row[:4] for row in revisions(url)] == [(VERSION, 2, 1, 1)]
    status = migrate_status(url, directory({f"{VERSION}.sql": USERS[kind]}))
    assert (status.status, status.current, status.next) == (
        "OK",
        VERSION,
        "Already at latest version",
    )


@pytest.mark.parametrize("kind", KINDS)
def test_checksum_mismatch_applies_nothing(dbs: Databases, kind: str) -> None:
    url = dbs.new(kind)
    files = {"1.sql": "create table a (id int);", "2.sql": "create table b (id int);"}
    summed = MigrationDir.from_mapping(files).computed_sum().marshal()
    edited = MigrationDir.from_mapping(
        {**files, "2.sql": "create table c (id int);", "atlas.sum": summed}
    )
    with pytest.raises(ChecksumError, match=re.escape("L3: 2.sql was edited")):
        migrate_apply(url, edited)
    assert tables(url) == set()


@pytest.mark.parametrize("kind", KINDS)
def test_file_edited_after_it_was_applied_is_refused(dbs: Databases, kind: str) -> None:
    url = dbs.new(kind)
    migrate_apply(url, directory({"1.sql": "create table a (id int);"}))
    rehashed = directory(
        {"1.sql": "create table a (id bigint);", "2.sql": "create table b (id int);"}
    )
    with pytest.raises(
        HistoryChangedError, match=re.escape('"1.sql" was changed after it was applied')
    ):
        migrate_apply(url, rehashed)
    assert tables(url) == {"a"}


FIVE = [
    "create table t1 (id int);",
    "create table t2 (id int);",
    "create tabel t3 (id int);",
    "create table t4 (id int);",
    "create table t5 (id int);",
]


@pytest.mark.parametrize("kind", ["postgres", "mariadb"])
def test_failing_third_statement_is_recorded_then_fixed_and_resumed(
    dbs: Databases, kind: str
) -> None:
    url = dbs.new(kind)
    first = directory({"1.sql": "create table base (id int);", "2.sql": "\n".join(FIVE)})
    result = migrate_apply(url, first)
    assert result.error is not None
    assert result.error.startswith('sql/migrate: executing statement "create tabel t3 (id int);"')
    [failed] = [r for r in result.files if r.error]
    assert failed.error_stmt == "create tabel t3 (id int);"
    rows = revisions(url)
    assert rows[0][:4] == ("1", 2, 1, 1)
    version, _, applied, total, error, error_stmt, _ = rows[1]
    assert (version, total, error_stmt) == ("2", 5, "create tabel t3 (id int);")
    assert error
    if kind == "postgres":
        # Transactional DDL: the file's transaction was rolled back as a whole.
        assert applied == 0
        assert tables(url) == {"base"}
    else:
        # MySQL commits each DDL statement: two statements ran and stay recorded.
        assert applied == 2
        assert tables(url) == {"base", "t1", "t2"}
    status = migrate_status(url, first)
    assert status.last_error is not None
    assert status.pending[0].name == "2.sql"

    fixed_text = "\n".join(FIVE).replace("tabel", "table")
    fixed = directory({"1.sql": "create table base (id int);", "2.sql": fixed_text})
    resumed = migrate_apply(url, fixed)
    assert resumed.error is None
    assert tables(url) == {"base", "t1", "t2", "t3", "t4", "t5"}
    assert [row[:6] for row in revisions(url)] == [
        ("1", 2, 1, 1, None, None),
        ("2", 2, 5, 5, None, None),
    ]


def test_editing_a_statement_that_already_ran_is_history_changed(dbs: Databases) -> None:
    url = dbs.new("mariadb")
    migrate_apply(url, directory({"1.sql": "\n".join(FIVE)}))
    edited = "\n".join(FIVE).replace("tabel", "table").replace("t1 (id int)", "t1 (id bigint)")
    with pytest.raises(
        HistoryChangedError, match=re.escape('statement 1 from file "1.sql" changed')
    ):
        migrate_apply(url, directory({"1.sql": edited}))


@pytest.mark.parametrize("kind", KINDS)
def test_dirty_database_needs_a_baseline(dbs: Databases, kind: str) -> None:
    url = dbs.new(kind)
    run(url, "create table users (id int)")
    files = directory(
        {"1_init.sql": "create table users (id int);", "2_next.sql": "create table b (id int);"}
    )
    with pytest.raises(NotCleanError, match='connected database is not clean: found table "users"'):
        migrate_apply(url, files)
    result = migrate_apply(url, files, MigrateOptions(baseline="1"))
    assert result.error is None
    assert [f.file.name for f in result.files] == ["2_next.sql"]
    assert [row[:4] for row in revisions(url)] == [("1", 1, 0, 0), ("2", 2, 1, 1)]
    assert migrate_apply(url, files).message == "No migration files to execute"


@pytest.mark.parametrize("kind", KINDS)
def test_exec_orders(dbs: Databases, kind: str) -> None:
    url = dbs.new(kind)
    migrate_apply(
        url, directory({"1.sql": "create table a (id int);", "3.sql": "create table c (id int);"})
    )
    late = directory(
        {
            "1.sql": "create table a (id int);",
            "2.sql": "create table b (id int);",
            "3.sql": "create table c (id int);",
        }
    )
    with pytest.raises(
        HistoryNonLinearError, match=re.escape("migration file 2.sql was added out of order")
    ):
        migrate_apply(url, late)
    status = migrate_status(url, late)
    assert [f.name for f in status.out_of_order] == ["2.sql"]
    skipped = migrate_apply(url, late, MigrateOptions(exec_order="linear-skip"))
    assert skipped.pending == []
    assert tables(url) == {"a", "c"}
    applied = migrate_apply(url, late, MigrateOptions(exec_order="non-linear"))
    assert [f.file.name for f in applied.files] == ["2.sql"]
    assert tables(url) == {"a", "b", "c"}


@pytest.mark.parametrize("kind", KINDS)
def test_two_concurrent_appliers_apply_once(dbs: Databases, kind: str) -> None:
    url = dbs.new(kind)
    slow = {
        "postgres": "select pg_sleep(1);",
        "mariadb": "select sleep(1);",
        "sqlite": "create table slow (id int);",
    }[kind]
    files = directory(
        {"1.sql": "create table a (id int);\n" + slow, "2.sql": "create table b (id int);"}
    )
    results: list[Any] = []

    def apply() -> None:
        try:
            results.append(migrate_apply(url, files, MigrateOptions(lock_timeout=20)))
        except Exception as err:  # collected and asserted below
            results.append(err)

    threads = [threading.Thread(target=apply) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(not isinstance(r, Exception) and r.error is None for r in results), results
    assert sorted(len(r.files) for r in results) == [0, 2]
    assert [row[:4] for row in revisions(url)] == [("1", 2, 2, 2), ("2", 2, 1, 1)]


@pytest.mark.parametrize("kind", ["postgres", "sqlite"])
def test_tx_mode_all_rolls_back_every_file(dbs: Databases, kind: str) -> None:
    url = dbs.new(kind)
    files = directory({"1.sql": "create table a (id int);", "2.sql": "create tabel b (id int);"})
    result = migrate_apply(url, files, MigrateOptions(tx_mode="all"))
    assert result.error is not None
    assert tables(url) == set()
    assert revisions(url) == []


def test_txmode_none_directive_runs_outside_a_transaction(dbs: Databases) -> None:
    url = dbs.new("postgres")
    files = directory(
        {
            "1.sql": "create table a (id int);",
            "2.sql": "-- atlas:txmode none\n\ncreate index concurrently a_id on a (id);",
        }
    )
    assert migrate_apply(url, files).error is None
    assert run(url, "SELECT indexname FROM pg_indexes WHERE tablename = 'a'") == [("a_id",)]
    with pytest.raises(Exception, match='cannot set txmode directive to "none"'):
        migrate_apply(dbs.new("postgres"), files, MigrateOptions(tx_mode="all"))


def test_status_of_a_fresh_database_creates_nothing(dbs: Databases) -> None:
    url = dbs.new("postgres")
    files = directory({"1.sql": "create table a (id int);"})
    status = migrate_status(url, files)
    assert (status.status, status.current, status.next) == (
        "PENDING",
        "No migration applied yet",
        "1",
    )
    assert run(url, "SELECT 1 FROM pg_namespace WHERE nspname = 'atlas_schema_revisions'") == []


def test_revisions_schema_placement(dbs: Databases) -> None:
    url = dbs.new("postgres")
    bound = url.with_schema("public")
    migrate_apply(bound, directory({"1.sql": "create table a (id int);"}))
    assert run(url, "SELECT count(*) FROM public.atlas_schema_revisions") == [(1,)]
    custom = dbs.new("postgres")
    migrate_apply(
        custom,
        directory({"1.sql": "create table a (id int);"}),
        MigrateOptions(revisions_schema="audit"),
    )
    assert run(custom, "SELECT count(*) FROM audit.atlas_schema_revisions") == [(1,)]


def test_fresh_database_starts_at_the_last_checkpoint(dbs: Databases) -> None:
    url = dbs.new("sqlite")
    files = directory(
        {
            "1.sql": "create table a (id int);",
            "2.sql": "-- atlas:checkpoint\n\ncreate table a (id int);\ncreate table b (id int);",
            "3.sql": "create table c (id int);",
        }
    )
    result = migrate_apply(url, files)
    assert [f.file.name for f in result.files] == ["2.sql", "3.sql"]
    assert tables(url) == {"a", "b", "c"}


def test_schema_bound_url_next_to_a_revisions_schema_is_ambiguous(dbs: Databases) -> None:
    url = dbs.new("postgres")
    files = directory({"1.sql": "create table a (id int);"})
    migrate_apply(url, files)  # realm scope: revisions in schema atlas_schema_revisions
    with pytest.raises(MigrateError, match="ambiguous revision table"):
        migrate_apply(url.with_schema("public"), files)
    options = MigrateOptions(revisions_schema="atlas_schema_revisions")
    assert migrate_apply(url.with_schema("public"), files, options).pending == []


def test_removing_a_file_that_failed_and_rolled_back_is_allowed(dbs: Databases) -> None:
    url = dbs.new("postgres")
    broken = directory({"1.sql": "create table a (id int);", "2.sql": "create tabel b (id int);"})
    assert migrate_apply(url, broken).error is not None
    fixed = directory({"1.sql": "create table a (id int);", "3.sql": "create table c (id int);"})
    assert migrate_status(url, fixed).next == "3"
    result = migrate_apply(url, fixed)
    assert result.error is None
    assert [row[0] for row in revisions(url)] == ["1", "3"]


def atlas_resumed(url: DatabaseURL, version: str, first_attempt: MigrationDir) -> None:
    """Rewrites a completed row the way Atlas leaves a file it resumed after a fix: the
    hash of the first attempt's directory, error and partial hashes cleared, its own
    operator version."""
    old = dict(first_attempt.computed_sum().entries)[f"{version}.sql"]
    run(
        url,
        f"UPDATE {revisions_table(url)} SET hash = '{old}', error = '', error_stmt = '',"
        " partial_hashes = NULL, operator_version = 'Atlas CLI v0.36.1'"
        f" WHERE version = '{version}'",
    )


@pytest.mark.parametrize("kind", KINDS)
def test_file_fixed_and_resumed_by_atlas_keeps_its_old_hash(dbs: Databases, kind: str) -> None:
    url = dbs.new(kind)
    base = {"1.sql": "create table a (id int);"}
    broken = directory({**base, "2.sql": "create table b (id int);\ncreate tabel c (id int);"})
    fixed = {**base, "2.sql": "create table b (id int);\ncreate table c (id int);"}
    assert migrate_apply(url, directory(fixed)).error is None
    atlas_resumed(url, "2", broken)
    # Atlas carries on with such a row; so do we.
    assert migrate_apply(url, directory(fixed)).message == "No migration files to execute"
    assert migrate_status(url, directory(fixed)).status == "OK"
    more = {**fixed, "3.sql": "create table d (id int);"}
    assert migrate_apply(url, directory(more)).error is None
    assert tables(url) == {"a", "b", "c", "d"}
    # Our row for 3.sql was written after the fix: editing 2.sql now is provably an edit
    # of a fully applied file.
    edited = {**more, "2.sql": "create table b (id bigint);\ncreate table c (id int);"}
    with pytest.raises(
        HistoryChangedError, match=re.escape('"2.sql" was changed after it was applied')
    ):
        migrate_apply(url, directory(edited))


@pytest.mark.parametrize("kind", ["postgres", "sqlite"])
def test_stale_hash_in_our_own_row_is_still_refused(dbs: Databases, kind: str) -> None:
    url = dbs.new(kind)
    base = {"1.sql": "create table a (id int);"}
    broken = directory({**base, "2.sql": "create tabel b (id int);"})
    fixed = {**base, "2.sql": "create table b (id int);"}
    assert migrate_apply(url, directory(fixed)).error is None
    atlas_resumed(url, "2", broken)
    run(url, f"UPDATE {revisions_table(url)} SET operator_version = 'atlas-operator-py v0.1.0'")
    with pytest.raises(
        HistoryChangedError, match=re.escape('"2.sql" was changed after it was applied')
    ):
        migrate_apply(url, directory(fixed))
