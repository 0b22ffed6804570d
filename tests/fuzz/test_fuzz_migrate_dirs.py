"""Migration directories through `migrate hash` and `migrate validate` in-process: exit 0,
or exit 1 with one line; duplicate versions and unreadable files are errors."""

from __future__ import annotations

import os
import random
import shutil
from functools import partial
from pathlib import Path

import pytest

from atlas_operator.engine.migrate.dir import MigrateError, MigrationDir
from tests.fuzz.common import expect_only, iterations, mutate, pick, run_cli

CONTENTS = [
    b"CREATE TABLE t (id int);\n",
    b"-- atlas:txmode none\n\nCREATE INDEX CONCURRENTLY i ON t (id);\n",
    b"-- atlas:sum ignore\nSELECT 1;\n",
    b"-- atlas:checkpoint\n\nCREATE TABLE c (id int);\n",
    b"\xff\xfe not utf-8",
    b"",
    "CREATE TABLE ñandú (id int);\n".encode(),
    b"-- atlas:delimiter //\nSELECT 1//\n",
    b"-- atlas:txmode bogus\n\nSELECT 1;\n",
    b"SELECT (1;\n",
]
NAMES = ["1_init.sql", "2_users.sql", "2_other.sql", "10.sql", "3.sql", "20240101_x.sql", "a.sql"]


def populate(directory: Path, rng: random.Random) -> None:
    for name in rng.sample(NAMES, rng.randint(0, 4)):
        content = pick(rng, CONTENTS)
        if rng.random() < 0.3:
            content = mutate(content.decode(errors="replace"), rng).encode(errors="surrogatepass")
        (directory / name).write_bytes(content)
    roll = rng.random()
    if roll < 0.1:
        (directory / "9_dangling.sql").symlink_to(directory / "missing.sql")
    elif roll < 0.2:
        (directory / "8_dir.sql").mkdir()
    if rng.random() < 0.5:
        files = {p.name: p.read_bytes() for p in directory.glob("*.sql") if p.is_file()}
        try:
            summed = MigrationDir.from_mapping(files).computed_sum().marshal()
        except MigrateError:
            summed = b"h1:broken\n"
        if rng.random() < 0.3:
            summed = mutate(summed.decode(), rng).encode()
        (directory / "atlas.sum").write_bytes(summed)


def validate_path(directory: Path) -> None:
    MigrationDir.from_path(directory).validate()


def test_hash_and_validate_never_crash(tmp_path: Path) -> None:
    rng = random.Random("migrate-dirs")
    for round_ in range(iterations(150)):
        directory = tmp_path / f"d{round_}"
        directory.mkdir()
        populate(directory, rng)
        listing = sorted(os.listdir(directory))
        verb = pick(rng, ["hash", "validate"])
        run_cli(["migrate", verb, "--dir", f"file://{directory}"], f"{verb} {listing}")
        expect_only(partial(validate_path, directory), (MigrateError,), str(listing))
        shutil.rmtree(directory)


@pytest.mark.parametrize("verb", ["hash", "validate"])
def test_duplicate_versions_are_refused(tmp_path: Path, verb: str) -> None:
    (tmp_path / "1_a.sql").write_text("CREATE TABLE a (id int);\n")
    (tmp_path / "1_b.sql").write_text("CREATE TABLE b (id int);\n")
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    (tmp_path / "atlas.sum").write_bytes(MigrationDir.from_mapping(files).computed_sum().marshal())
    code, stderr = run_cli(["migrate", verb, "--dir", f"file://{tmp_path}"], verb)
    assert code == 1
    assert 'duplicate migration version "1": 1_a.sql and 1_b.sql' in stderr


@pytest.mark.parametrize("kind", ["dangling symlink", "directory"])
def test_unreadable_entries_are_errors_naming_the_path(tmp_path: Path, kind: str) -> None:
    (tmp_path / "1.sql").write_text("CREATE TABLE a (id int);\n")
    bad = tmp_path / "2.sql"
    if kind == "directory":
        bad.mkdir()
    else:
        bad.symlink_to(tmp_path / "gone.sql")
    code, stderr = run_cli(["migrate", "hash", "--dir", f"file://{tmp_path}"], kind)
    assert code == 1
    assert str(bad) in stderr
