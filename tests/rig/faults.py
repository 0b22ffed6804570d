"""Fault injection for the crash-consistency tests: run an engine call in a forked child
and kill it, cut its database connections, or restart the PostgreSQL test server at a
random moment.

Forking (rather than spawning the CLI) keeps each attempt cheap: the child starts with
every module already imported, so hundreds of kills fit in a CI run.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from random import Random

from atlas_operator.engine.urls import DatabaseURL
from tests.rig.databases import run

STATE_DIR = Path(os.environ.get("ATLAS_OPERATOR_STATE", "/var/tmp/atlas-operator-py"))
CHILD_OK, CHILD_FAILED, CHILD_RAISED = 0, 3, 4


def child_main(work: Callable[[], bool]) -> None:
    """The forked child: exit codes tell the parent how the run ended."""
    try:
        code = CHILD_OK if work() else CHILD_FAILED
    except BaseException:
        code = CHILD_RAISED
    os._exit(code)


def start_child(work: Callable[[], bool]) -> multiprocessing.process.BaseProcess:
    context = multiprocessing.get_context("fork")
    child = context.Process(target=child_main, args=(work,), daemon=True)
    child.start()
    return child


def run_child(work: Callable[[], bool], timeout: float = 120.0) -> int:
    child = start_child(work)
    child.join(timeout)
    if child.exitcode is None:
        child.kill()
        child.join()
        raise AssertionError(f"the run did not finish within {timeout:.0f}s")
    return int(child.exitcode)


def timed_run(work: Callable[[], bool]) -> float:
    """How long an uninterrupted run takes (the window kills are drawn from)."""
    started = time.monotonic()
    assert run_child(work) == CHILD_OK
    return time.monotonic() - started


def kill_at_random(work: Callable[[], bool], window: float, rng: Random) -> int | None:
    """Starts the work and SIGKILLs it after a random delay within `window`; the child's
    exit code when it finished first, None when it was killed."""
    child = start_child(work)
    child.join(rng.uniform(0.0, window))
    if child.exitcode is not None:
        return int(child.exitcode)
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    return None


def cut_connections_at_random(
    work: Callable[[], bool], url: DatabaseURL, window: float, rng: Random
) -> int:
    """Starts the work and terminates every server session on its database after a random
    delay (as a DBA's `pg_terminate_backend` / `KILL CONNECTION` would)."""
    child = start_child(work)
    child.join(rng.uniform(0.0, window))
    if child.exitcode is None:
        terminate_sessions(url)
    child.join(60)
    assert child.exitcode is not None, "the run hung after its connection was cut"
    return int(child.exitcode)


def terminate_sessions(url: DatabaseURL) -> None:
    if url.driver == "postgres":
        run(
            url.with_database("postgres"),
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = '{url.database}' AND pid <> pg_backend_pid()",
        )
        return
    rows = run(
        url,
        "SELECT ID FROM information_schema.PROCESSLIST"
        f" WHERE DB = '{url.schema}' AND ID <> CONNECTION_ID()",
    )
    for (session_id,) in rows:
        try:
            run(url, f"KILL CONNECTION {int(session_id)}")
        except Exception:  # it ended by itself in between
            continue


def postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    return found[-1] if found else None


def can_restart_postgres() -> bool:
    data = STATE_DIR / "postgres"
    return os.geteuid() == 0 and postgres_bin() is not None and (data / "PG_VERSION").exists()


def restart_postgres() -> None:
    """An immediate (crash-like) restart of the test server; waits until it accepts
    connections again."""
    bindir = postgres_bin()
    assert bindir is not None
    subprocess.run(
        ["runuser", "-u", "postgres", "--", str(bindir / "pg_ctl"), "-D",
         str(STATE_DIR / "postgres"), "-l", str(STATE_DIR / "pg-log" / "postgres.log"),
         "-m", "immediate", "-w", "-t", "60", "restart"],
        check=True, capture_output=True,
    )  # fmt: skip


def restart_postgres_at_random(work: Callable[[], bool], window: float, rng: Random) -> int:
    child = start_child(work)
    child.join(rng.uniform(0.0, window))
    if child.exitcode is None:
        restart_postgres()
    child.join(60)
    assert child.exitcode is not None, "the run hung across a server restart"
    return int(child.exitcode)
