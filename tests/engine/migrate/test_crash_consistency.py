"""Exactly-once `migrate apply` under interruption, on real PostgreSQL, MariaDB and SQLite.

Seeded fault injection: the applier is SIGKILLed at random moments, its connections are
cut from another session, the PostgreSQL server is restarted under it. After reruns every
file must be applied exactly once — counted in rows of a log table that a repeated
INSERT would grow — and no database may be left stuck. `ATLAS_FAULT_KILLS` raises the
number of faults per case (the bench runs a longer mode).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Any

import pytest

from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.migrate.dir import MigrationDir
from atlas_operator.engine.migrate.executor import (
    InterruptedStatementError,
    MigrateOptions,
    TxMode,
    migrate_apply,
)
from atlas_operator.engine.migrate.revisions import RevisionStore
from atlas_operator.engine.migrate.runner import intent_message, statement_sums
from atlas_operator.engine.urls import DatabaseURL
from tests.engine.migrate.test_executor import directory, revisions, revisions_table
from tests.rig import faults
from tests.rig.databases import Databases, run

SEED = 12
FAULTS = int(os.environ.get("ATLAS_FAULT_KILLS", "20"))
FILES, ROWS = 3, 8


def seeding_files(kind: str, mode: str) -> dict[str, str]:
    """A log table, then files that create a table, fill it, alter and index it; every
    INSERT into `runs` is logged once, so a repeated statement shows as a duplicate row."""
    concurrently = "CONCURRENTLY " if kind == "postgres" and mode == "none" else ""
    files = {"1_runs.sql": "CREATE TABLE runs (f int, s int);\n"}
    for f in range(2, FILES + 2):
        lines = [f"CREATE TABLE m{f} (id int primary key, v int);"]
        for i in range(ROWS):
            lines += [
                f"INSERT INTO m{f} VALUES ({i}, {i});",
                f"INSERT INTO runs VALUES ({f}, {i});",
            ]
        lines += [
            f"ALTER TABLE m{f} ADD COLUMN w int;",
            f"CREATE INDEX {concurrently}m{f}_v ON m{f} (v);",
            f"INSERT INTO runs VALUES ({f}, 999);",
        ]
        files[f"{f}_fill.sql"] = "\n".join(lines) + "\n"
    return files


@dataclass
class Case:
    """One database under test; replaced by a fresh one after every completed episode."""

    dbs: Databases
    kind: str
    mode: TxMode
    url: DatabaseURL
    dir: MigrationDir

    @classmethod
    def new(cls, dbs: Databases, kind: str, mode: TxMode) -> Case:
        return cls(dbs, kind, mode, dbs.new(kind), directory(seeding_files(kind, mode)))

    def work(self) -> Callable[[], bool]:
        url, directory_, options = self.url, self.dir, MigrateOptions(tx_mode=self.mode)
        return lambda: migrate_apply(url, directory_, options).error is None

    def finish_and_verify(self) -> None:
        """Reruns until done (a stuck database fails here, with its message), checks every
        statement ran exactly once, then moves on to a fresh database."""
        result = migrate_apply(self.url, self.dir, MigrateOptions(tx_mode=self.mode))
        assert result.error is None, f"{self.kind}/{self.mode}: stuck: {result.error}"
        verify_exactly_once(self.url)
        self.url = self.dbs.new(self.kind)


def verify_exactly_once(url: DatabaseURL) -> None:
    rows = run(url, "SELECT f, s, COUNT(*) FROM runs GROUP BY f, s HAVING COUNT(*) > 1")
    assert rows == [], f"statements ran twice: {rows}"
    (total,) = run(url, "SELECT COUNT(*) FROM runs")[0]
    assert total == FILES * (ROWS + 1)
    for f in range(2, FILES + 2):
        assert run(url, f"SELECT COUNT(*), COUNT(w) FROM m{f}")[0] == (ROWS, 0)
    for revision in revisions(url):
        _, _, applied, total_, error, _, _ = revision
        assert (applied, error) == (total_, None), revision


Fault = Callable[[Case, float, Random], int | None]


def inject(case: Case, fault: Fault, rng: Random, count: int = FAULTS) -> dict[str, int]:
    """Injects `count` faults; an episode that completes is verified (a duplicate or a
    stuck database fails the test) and started afresh. Returns what happened."""
    window = faults.timed_run(case.work()) * 1.2
    verify_exactly_once(case.url)
    case.url = case.dbs.new(case.kind)
    injected = episodes = 0
    while injected < count:
        code = fault(case, window, rng)
        if code == faults.CHILD_OK:
            case.finish_and_verify()
            episodes += 1
        else:
            injected += 1
    case.finish_and_verify()
    return {"faults": injected, "episodes": episodes + 1, "duplicates": 0, "stuck": 0}


def sigkill(case: Case, window: float, rng: Random) -> int | None:
    return faults.kill_at_random(case.work(), window, rng)


def cut(case: Case, window: float, rng: Random) -> int | None:
    code = faults.cut_connections_at_random(case.work(), case.url, window, rng)
    return None if code != faults.CHILD_OK else code


def restart(case: Case, window: float, rng: Random) -> int | None:
    code = faults.restart_postgres_at_random(case.work(), window, rng)
    return None if code != faults.CHILD_OK else code


MODES: list[TxMode] = ["file", "all", "none"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["postgres", "mariadb", "sqlite"])
def test_sigkill_at_random_points_applies_every_statement_once(
    dbs: Databases, kind: str, mode: TxMode
) -> None:
    inject(Case.new(dbs, kind, mode), sigkill, Random(f"{SEED}-kill-{kind}-{mode}"))


@pytest.mark.parametrize("mode", ["file", "none"])
@pytest.mark.parametrize("kind", ["postgres", "mariadb"])
def test_connections_cut_at_random_points_apply_every_statement_once(
    dbs: Databases, kind: str, mode: TxMode
) -> None:
    inject(Case.new(dbs, kind, mode), cut, Random(f"{SEED}-cut-{kind}-{mode}"))


@pytest.mark.skipif(not faults.can_restart_postgres(), reason="needs root and the test server")
def test_postgres_restarted_mid_apply_applies_every_statement_once(dbs: Databases) -> None:
    rng = Random(f"{SEED}-restart")
    inject(Case.new(dbs, "postgres", "none"), restart, rng, count=max(5, FAULTS // 4))


# --- the decisions behind it, one by one ---------------------------------------------------


def write_intent(url: DatabaseURL, full: MigrationDir, applied: int, before: str | None) -> None:
    """Leaves the revision row as a run killed just before statement `applied + 1` would."""
    driver = driver_for(url)
    texts = [s.text for s in full.files[0].statements(driver.dialect)]
    with driver.open(url) as session:
        schema = "atlas_schema_revisions" if url.driver == "postgres" else (url.schema or "main")
        store = RevisionStore(session, driver, schema)
        revision = store.read("1")
        assert revision is not None
        revision.applied, revision.total = applied, len(texts)
        revision.partial_hashes = [statement_sums(texts)[applied - 1]] if applied else None
        revision.error = intent_message(applied + 1, before)
        revision.error_stmt = texts[applied]
        store.write(revision)


def intent_case(dbs: Databases, kind: str, texts: list[str]) -> tuple[DatabaseURL, MigrationDir]:
    """A database where file 1's first statement ran and the second was interrupted."""
    url = dbs.new(kind)
    first = directory({"1.sql": texts[0] + ";\n"})
    assert migrate_apply(url, first).error is None
    full = directory({"1.sql": "".join(t + ";\n" for t in texts)})
    return url, full


@pytest.mark.parametrize("ran", [True, False])
def test_mariadb_interrupted_ddl_is_settled_from_the_catalog(dbs: Databases, ran: bool) -> None:
    texts = ["CREATE TABLE a (id int)", "CREATE TABLE b (id int)", "INSERT INTO a VALUES (1)"]
    url, full = intent_case(dbs, "mariadb", texts)
    driver = driver_for(url)
    with driver.open(url) as session:
        before = driver.effect_fingerprint(session, texts[1])
    assert before is not None
    if ran:
        run(url, texts[1])
    write_intent(url, full, 1, before)
    result = migrate_apply(url, full)
    assert result.error is None
    assert run(url, "SELECT COUNT(*) FROM a") == [(1,)]
    assert run(url, "SELECT COUNT(*) FROM b") == [(0,)]
    assert revisions(url)[0][2:5] == (3, 3, None)


def test_an_undecidable_interrupted_statement_stops_and_names_the_way_out(
    dbs: Databases,
) -> None:
    texts = ["CREATE TABLE a (id int)", "CALL nothing()", "INSERT INTO a VALUES (1)"]
    url, full = intent_case(dbs, "mariadb", texts)
    write_intent(url, full, 1, None)
    with pytest.raises(InterruptedStatementError, match=r"statement 2 of \"1.sql\".*--interrupted"):
        migrate_apply(url, full)
    assert run(url, "SELECT COUNT(*) FROM a") == [(0,)]  # nothing more ran
    result = migrate_apply(url, full, MigrateOptions(interrupted="ran"))
    assert result.error is None
    assert run(url, "SELECT COUNT(*) FROM a") == [(1,)]


def test_postgres_invalid_index_of_an_interrupted_concurrent_build_is_rebuilt(
    dbs: Databases,
) -> None:
    texts = [
        "CREATE TABLE t (a int)",
        "CREATE UNIQUE INDEX CONCURRENTLY t_a ON t (a)",
        "INSERT INTO t VALUES (3)",
    ]
    url, full = intent_case(dbs, "postgres", texts)
    # A concurrent build that fails half-way leaves an INVALID index behind.
    run(url, "INSERT INTO t VALUES (1), (1)")
    with pytest.raises(Exception, match="could not create unique index"):
        run(url, texts[1])
    run(url, "DELETE FROM t")
    write_intent(url, full, 1, "sha256:0")
    result = migrate_apply(url, full, MigrateOptions(tx_mode="none"))
    assert result.error is None
    assert run(url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_a'::regclass") == [
        (True,)
    ]


def test_progress_records_grow_linearly(dbs: Databases, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each progress write is O(1): no list of every statement's hash rewritten each time."""
    written: list[int] = []
    original = RevisionStore.write

    def counting(self: RevisionStore, revision: Any) -> None:
        written.append(len(json.dumps(revision.partial_hashes)))
        original(self, revision)

    monkeypatch.setattr(RevisionStore, "write", counting)
    statements = 2000
    body = "CREATE TABLE t (a int);\n" + "INSERT INTO t VALUES (1);\n" * (statements - 1)
    url = dbs.new("sqlite")
    assert (
        migrate_apply(url, directory({"1.sql": body}), MigrateOptions(tx_mode="none")).error is None
    )
    assert run(url, "SELECT COUNT(*) FROM t") == [(statements - 1,)]
    assert sum(written) < 100 * statements


def test_a_statement_failure_leaves_atlas_full_hash_list(dbs: Databases) -> None:
    """Atlas resumes a failed file by checking one hash per applied statement. (In `file`
    mode the two INSERTs would share a transaction, and the failure would undo both.)"""
    url = dbs.new("mariadb")
    texts = ["CREATE TABLE a (id int)", "INSERT INTO a VALUES (1)", "INSERT INTO nope VALUES (1)"]
    full = directory({"1.sql": "".join(t + ";\n" for t in texts)})
    result = migrate_apply(url, full, MigrateOptions(tx_mode="none"))
    assert result.error is not None
    (row,) = run(url, f"SELECT applied, partial_hashes FROM {revisions_table(url)}")
    assert row[0] == 2
    stored = [s.text for s in full.files[0].statements(driver_for(url).dialect)]
    assert json.loads(row[1]) == statement_sums(stored)[:2]


@pytest.mark.parametrize("broken", ["INSERT INTO t VALUES (1)", "INSERT INTO t VALUS (1)"])
@pytest.mark.parametrize("kind", ["postgres", "mariadb"])
def test_autocommit_batches_stop_at_the_failing_statement_and_name_it(
    dbs: Databases, kind: str, broken: str
) -> None:
    """In `--tx-mode none` many one-statement transactions travel in one round trip; a
    failure (a duplicate key, or a syntax error that makes the server refuse the whole
    batch) leaves exactly the statements before it committed and names the failing one."""
    url = dbs.new(kind)
    lines = ["CREATE TABLE t (id int PRIMARY KEY);"]
    lines += [f"INSERT INTO t VALUES ({i});" for i in range(1, 5)] + [broken + ";"]
    lines += [f"INSERT INTO t VALUES ({i});" for i in range(10, 14)]
    options = MigrateOptions(tx_mode="none")
    result = migrate_apply(url, directory({"1.sql": "\n".join(lines) + "\n"}), options)
    assert result.error is not None
    assert result.files[0].error_stmt == broken + ";"
    assert run(url, "SELECT COUNT(*) FROM t") == [(4,)]
    assert revisions(url)[0][2] == 5
    lines[5] = "INSERT INTO t VALUES (5);"
    fixed = migrate_apply(url, directory({"1.sql": "\n".join(lines) + "\n"}), options)
    assert fixed.error is None
    assert run(url, "SELECT COUNT(*) FROM t") == [(9,)]
