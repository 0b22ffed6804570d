"""atlas.sum and directory parsing, pinned to vectors reproduced from Atlas."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas_operator.engine.migrate.dir import (
    ChecksumError,
    HashFile,
    MigrateError,
    MigrationDir,
    MigrationFile,
)

SEED_FILE = (
    "create sequence users_seq;\n"
    "create table users (\n"
    "  id int not null default nextval ('users_seq'),\n"
    "  name varchar(255) not null,\n"
    "  email varchar(255) unique not null,\n"
    "  short_bio varchar(255) not null,\n"
    "  primary key (id)\n"
    ");\n"
)
SEED_SUM = (
    "h1:FwM0ApKo8xhcZFrSlpa6dYjvi0fnDPo/aZSzajtbHLc=\n"
    "20230316085611.sql h1:ldFr73m6ZQzNi8q9dVJsOU/ZHmkBo4Sax03AaL0VUUs=\n"
)


def test_seed_directory_hashes_byte_for_byte() -> None:
    directory = MigrationDir.from_mapping({"20230316085611.sql": SEED_FILE})
    assert directory.computed_sum().marshal() == SEED_SUM.encode()


def test_seed_directory_validates() -> None:
    MigrationDir.from_mapping({"20230316085611.sql": SEED_FILE, "atlas.sum": SEED_SUM}).validate()


def test_empty_directory() -> None:
    assert (
        MigrationDir.from_mapping({}).computed_sum().marshal()
        == b"h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    )


def test_two_files_without_trailing_newlines() -> None:
    directory = MigrationDir.from_mapping(
        {
            "1_initial.up.sql": "CREATE TABLE t(c int);",
            "1_initial.down.sql": "DROP TABLE IF EXISTS t;",
        }
    )
    assert directory.computed_sum().marshal() == (
        b"h1:M74RrNK69S2pj6C541LR1ew5O32/i0WoyNgsJmyuiUk=\n"
        b"1_initial.down.sql h1:0zypK43rgPbgvVUgVJABGN25VgM1QSeU+LJDBb8cEQI=\n"
        b"1_initial.up.sql h1:hFhs5XhRml4KTWGF5td6h1s7xNqAFnaEBbC5Y/NF7i4=\n"
    )


def test_ignored_file_hashes_its_name_but_gets_no_line() -> None:
    with_ignored = MigrationDir.from_mapping(
        {"a.sql": "x", "b.sql": "-- atlas:sum ignore\ny", "c.sql": "z"}
    ).computed_sum()
    without = MigrationDir.from_mapping({"a.sql": "x", "c.sql": "z"}).computed_sum()
    assert [name for name, _ in with_ignored.entries] == ["a.sql", "c.sql"]
    assert (
        with_ignored.hash_of(
            "c.sql",
        )
        is not None
    )
    assert str(with_ignored.hash_of("c.sql")).startswith("26PpQRfD")
    assert str(with_ignored.hash_of("c.sql")).endswith("b44Sw=")
    assert str(without.hash_of("c.sql")).startswith("UesPzNcZ")


def test_only_sql_files_count_and_sort_byte_wise(tmp_path: Path) -> None:
    for name in ("b.sql", "B.sql", "a.SQL", "notes.txt", ".hidden.sql"):
        (tmp_path / name).write_text("select 1;")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.sql").write_text("select 1;")
    names = [f.name for f in MigrationDir.from_path(tmp_path).files]
    assert names == [".hidden.sql", "B.sql", "b.sql"]


@pytest.mark.parametrize(
    ("name", "version", "description"),
    [
        ("20230316085611.sql", "20230316085611", ""),
        ("1_initial.up.sql", "1", "initial.up"),
        ("2.10.x-20_description.sql", "2.10.x-20", "description"),
    ],
)
def test_versions_and_descriptions(name: str, version: str, description: str) -> None:
    f = MigrationFile(name, b"")
    assert (f.version, f.description) == (version, description)


def edited(files: dict[str, str], **changes: str | None) -> MigrationDir:
    """A directory whose atlas.sum was made for `files`, with `changes` applied after."""
    summed = MigrationDir.from_mapping(files).computed_sum().marshal()
    now: dict[str, str | bytes] = {**files}
    for name, content in changes.items():
        if content is None:
            del now[name.replace("__", ".")]
        else:
            now[name.replace("__", ".")] = content
    return MigrationDir.from_mapping({**now, "atlas.sum": summed})


FILES = {"1.sql": "create table a (id int);", "2.sql": "create table b (id int);"}


@pytest.mark.parametrize(
    ("changes", "line", "file", "reason"),
    [
        ({"2__sql": "create table b (id bigint);"}, 3, "2.sql", "edited"),
        ({"1__sql": "create table a (id bigint);"}, 2, "1.sql", "edited"),
        ({"3__sql": "select 1;"}, 4, "3.sql", "added"),
        ({"0__sql": "select 1;"}, 2, "0.sql", "added"),
        ({"2__sql": None}, 3, "2.sql", "removed"),
    ],
)
def test_checksum_mismatch_names_the_file(
    changes: dict[str, str | None], line: int, file: str, reason: str
) -> None:
    with pytest.raises(ChecksumError) as err:
        edited(FILES, **changes).validate()
    assert (err.value.line, err.value.file, err.value.reason) == (line, file, reason)
    assert f"L{line}: {file} was {reason}" in str(err.value)


def test_missing_sum_is_an_error_only_with_files() -> None:
    MigrationDir.from_mapping({}).validate()
    with pytest.raises(MigrateError, match="checksum file not found"):
        MigrationDir.from_mapping(FILES).validate()


def test_hand_edited_sum_is_rejected() -> None:
    content = MigrationDir.from_mapping(FILES).computed_sum().marshal().replace(b"2.sql", b"3.sql")
    with pytest.raises(MigrateError, match="checksum mismatch"):
        HashFile.parse(content)
    with pytest.raises(MigrateError, match="format invalid"):
        HashFile.parse(b"h1:x\nno hash here\n")


@pytest.mark.parametrize(
    ("content", "txmode", "checkpoint"),
    [
        ("-- atlas:txmode none\n\ncreate index concurrently i on t (c);", "none", False),
        ("-- atlas:txmode none\ncreate index concurrently i on t (c);", None, False),
        ("# atlas:txmode file\n-- atlas:checkpoint v1\n\nselect 1;", "file", True),
        ("select 1; -- atlas:txmode none\n\n", None, False),
    ],
)
def test_file_directives(content: str, txmode: str | None, checkpoint: bool) -> None:
    f = MigrationFile("1.sql", content.encode())
    assert f.tx_mode() == txmode
    assert f.is_checkpoint is checkpoint


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("-- atlas:txmode all\n\nselect 1;", "unknown txmode"),
        ("-- atlas:txmode none\n-- atlas:txmode file\n\nselect 1;", "multiple txmode"),
    ],
)
def test_bad_txmode_directives(content: str, message: str) -> None:
    with pytest.raises(MigrateError, match=message):
        MigrationFile("1.sql", content.encode()).tx_mode()


def test_duplicate_versions_are_refused_by_validate_and_on_read(tmp_path: Path) -> None:
    files = {"1_a.sql": "SELECT 1;", "1_b.sql": "SELECT 2;"}
    summed = MigrationDir.from_mapping(files).computed_sum().marshal()
    message = 'duplicate migration version "1": 1_a.sql and 1_b.sql'
    with pytest.raises(MigrateError, match=message):
        MigrationDir.from_mapping({**files, "atlas.sum": summed}).validate()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(MigrateError, match=message):
        MigrationDir.from_path(tmp_path)


def test_a_dangling_symlink_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "1.sql").symlink_to(tmp_path / "gone.sql")
    with pytest.raises(MigrateError, match=r"1\.sql: cannot read: a dangling symbolic link"):
        MigrationDir.from_path(tmp_path)


def test_a_directory_named_like_a_migration_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "1.sql").mkdir()
    with pytest.raises(MigrateError, match=r"1\.sql: is a directory, not a migration file"):
        MigrationDir.from_path(tmp_path)
