"""A killed `schema apply` never blocks the next one (issue 12, item 3), on real MariaDB
and PostgreSQL.

Seeded fault injection: `schema_apply` runs in a forked child that is SIGKILLed at a
random moment — while the desired state loads on the dev database, while it is
inspected or cleaned, while the plan runs on the target. Every run that finishes must
succeed (a dev database left "not clean" would fail it), and after the last kill a
rerun brings the target to the desired state and leaves the dev database empty and
unmarked. `ATLAS_FAULT_KILLS` sets the number of kills per server (default 20).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from random import Random

import pytest

from atlas_operator.engine import declarative
from atlas_operator.engine.declarative import ApplyPolicy, plan_apply, schema_apply
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.urls import DatabaseURL
from tests.engine.test_devrun import load, settled
from tests.rig import faults
from tests.rig.databases import Databases

SEED = 12
FAULTS = int(os.environ.get("ATLAS_FAULT_KILLS", "20"))
TABLES = 6


def desired_sql() -> str:
    """Tables that reference each other, with indexes and checks: enough statements for
    kills to land inside the load, the inspection, the clean and the apply."""
    parts = ["CREATE TABLE t0 (id int PRIMARY KEY, name varchar(40) NOT NULL);"]
    for i in range(1, TABLES):
        parts.append(
            f"CREATE TABLE t{i} (id int PRIMARY KEY, parent int NOT NULL,"
            f" v int CHECK (v > 0), note varchar(80),"
            f" CONSTRAINT t{i}_parent FOREIGN KEY (parent) REFERENCES t{i - 1} (id));"
        )
        parts.append(f"CREATE INDEX t{i}_v ON t{i} (v, note);")
    return "\n".join(parts)


def work(target: DatabaseURL, dev: DatabaseURL) -> Callable[[], bool]:
    sql = desired_sql()

    def apply() -> bool:
        declarative.NORMALISED_CACHE.clear()  # every run loads on the dev database
        return schema_apply(target, sql, dev, ApplyPolicy()).error is None

    return apply


def at_desired_state(target: DatabaseURL, dev: DatabaseURL) -> bool:
    driver = driver_for(target)
    desired = load(dev, desired_sql())
    with driver.open(target) as session:
        return not plan_apply(session, driver, desired, ApplyPolicy()).statements


@pytest.mark.parametrize("kind", ["mariadb", "postgres"])
def test_sigkill_of_schema_apply_never_leaves_the_dev_database_blocking(
    dbs: Databases, kind: str
) -> None:
    rng = Random(f"{SEED}-{kind}")
    dev = dbs.new(kind)
    target = dbs.new(kind)
    window = faults.timed_run(work(target, dev)) * 1.2
    assert settled(dev)
    target = dbs.new(kind)
    kills = leftovers = 0
    while kills < FAULTS:
        code = faults.kill_at_random(work(target, dev), window, rng)
        if code is None:
            kills += 1
            leftovers += not settled(dev)
            continue
        # A run that was not killed must have worked: leftovers of the killed runs
        # before it were ours, and were cleaned.
        assert code == faults.CHILD_OK, f"{kind}: a run after {kills} kills failed"
        assert at_desired_state(target, dev)
        target = dbs.new(kind)  # kills land in the apply of a fresh target, too
    assert faults.run_child(work(target, dev)) == faults.CHILD_OK
    assert at_desired_state(target, dev)
    assert settled(dev), f"{kind}: the dev database was left with content or a marker"
    print(f"{kind}: {kills} kills, {leftovers} left the dev database with content or a marker")
    assert leftovers or FAULTS < 5, "no kill left anything to heal: the test proves nothing"
