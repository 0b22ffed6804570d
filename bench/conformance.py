"""Schema-diff conformance: drive real databases through the cases of other tools'
suites (`shared/conformance/`) and report pass rates per file and per group.

For each applicable case (shared/conformance/README.md, "How to run a case"):
1. a fresh target database; `current` runs statement by statement;
2. planning `current` against it must be empty (inspection round-trips);
3. planning `desired` and applying it must succeed, and re-planning must be empty;
4. reverse: planning `current` again, applying, re-planning must be empty
   (skipped when the case disables drops).

Usage: python bench/conformance.py [--dialect postgres|mariadb|sqlite]... [--case NAME]
Writes docs/conformance.md and bench/results/conformance.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from atlas_operator.engine.declarative import (  # noqa: E402
    ApplyPolicy,
    diff_states,
    run_in_dependency_order,
    schema_apply,
)
from atlas_operator.engine.drivers import driver_for  # noqa: E402
from atlas_operator.engine.drivers.base import EngineError  # noqa: E402
from atlas_operator.engine.statements import split_statements  # noqa: E402
from atlas_operator.engine.urls import DatabaseURL, parse_url  # noqa: E402

CONFORMANCE = Path(os.environ.get("ATLAS_CONFORMANCE_DIR", REPO.parent / "shared" / "conformance"))
# Object kinds of the cases' `needs` that the engine models (the rest are reported).
SUPPORTED_NEEDS = frozenset({"schema"})
# Roles the PostgreSQL privilege cases expect (shared/conformance/README.md).
PG_ROLES = [
    "readonly_user",
    "app_user",
    "admin_role",
    '"user-with-dash"',
    '"user.with.dot"',
    '"user with spaces"',
    '"CamelCaseUser"',
    '"UPPERCASE_USER"',
    "user1",
    "user2",
    "user3",
    "user4",
    '"My User"',
    "reader",
    "writer",
    "admin",
    "reader1",
    "reader2",
    "writer1",
    "writer2",
    "role1",
    "role2",
    "power_user",
    '"user@domain.com"',
    "psqldef_user LOGIN",
]
FILES = {
    "postgres": "sqldef_postgres.jsonl",
    "mariadb": "sqldef_mysql.jsonl",
    "sqlite": "sqldef_sqlite.jsonl",
}


@dataclass
class Result:
    dialect: str
    name: str
    groups: list[str]
    required: bool
    status: str  # pass | fail | n/a | unsupported
    step: str = ""
    cause: str = ""
    seconds: float = 0.0


@dataclass
class Backend:
    dialect: str
    admin: DatabaseURL | None = None
    version: str = ""
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="conformance-")))

    @contextmanager
    def fresh(
        self, *, realm: bool = False
    ) -> Iterator[tuple[DatabaseURL, DatabaseURL, DatabaseURL]]:
        """Fresh (target, dev, oracle) databases, dropped afterwards.

        PostgreSQL cases that use several schemas run at database (realm) scope, the
        others bound to `public`."""
        if self.dialect == "sqlite":
            name = uuid.uuid4().hex[:8]
            yield (
                parse_url(f"sqlite://{self.tmp / name}.db"),
                parse_url(f"sqlite://dev{name}?mode=memory"),
                parse_url(f"sqlite://{self.tmp / name}-oracle.db"),
            )
            return
        assert self.admin is not None
        if self.dialect == "mariadb":
            # The cases' views name `mysqldef_test`, so the target must be called that.
            names = ["mysqldef_test", "mysqldef_dev", "mysqldef_oracle"]
            self.sql(
                *[f"DROP DATABASE IF EXISTS {n}" for n in names],
                *[f"CREATE DATABASE {n}" for n in names],
            )
            try:
                target, dev, oracle = (self.admin.with_schema(n) for n in names)
                yield target, dev, oracle
            finally:
                self.sql(*[f"DROP DATABASE IF EXISTS {n}" for n in names])
            return
        suffix = uuid.uuid4().hex[:8]
        names = [f"conf_{suffix}", f"confdev_{suffix}", f"conforacle_{suffix}"]
        self.sql(*[f"CREATE DATABASE {n}" for n in names])
        try:
            target, dev, oracle = (
                self.admin.with_database(n)
                if realm
                else self.admin.with_database(n).with_schema("public")
                for n in names
            )
            yield target, dev, oracle
        finally:
            self.sql(*[f"DROP DATABASE IF EXISTS {n} WITH (FORCE)" for n in names])

    def sql(self, *statements: str) -> None:
        assert self.admin is not None
        driver = driver_for(self.admin)
        with driver.open(self.admin) as session:
            for statement in statements:
                session.execute(statement)


def run_raw(url: DatabaseURL, sql: str) -> None:
    driver = driver_for(url)
    with driver.open(url) as session:
        # sqldef's harness sorts statements by dependency; retrying does the same.
        statements = [s.text for s in split_statements(sql, driver.dialect)]
        run_in_dependency_order(session, statements, "case")


def plan(target: DatabaseURL, dev: DatabaseURL, sql: str, *, apply: bool) -> list[str]:
    report = schema_apply(target, sql, dev, ApplyPolicy(), dry_run=not apply)
    if report.error:
        raise EngineError(f"{report.error_stmt}: {report.error}")
    return report.applied if apply else report.pending


def compare(migrated: DatabaseURL, oracle: DatabaseURL) -> list[str]:
    """Statements that would turn the migrated database into the oracle (must be none)."""
    driver = driver_for(migrated)
    scope = driver.scope_of(migrated)
    with driver.open(migrated) as a, driver.open(oracle) as b:
        current, desired = driver.inspect(a, scope), driver.inspect(b, driver.scope_of(oracle))
    changes = diff_states(current, desired, scope, fold_case=driver.case_insensitive_names)
    return [s.sql for s in driver.plan(changes, scope)]


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(
        int(re.match(r"\d*", part).group() or 0)  # type: ignore[union-attr]
        for part in text.split("-")[0].split(".")
    )


def gate(case: dict[str, Any], backend: Backend) -> str | None:
    """Why a case does not apply to our server, or None."""
    flavor = case.get("flavor")
    server = {"mariadb": "mariadb", "postgres": "postgres", "sqlite": "sqlite"}[backend.dialect]
    if flavor:
        negated = flavor.startswith("!")
        name = flavor.lstrip("!")
        if negated == (name == server):
            return f"flavor {flavor}"
    if case.get("offline"):
        return "offline case"
    version = version_tuple(backend.version) if backend.version else ()
    if case.get("min_version") and version and version < version_tuple(case["min_version"]):
        return f"needs version >= {case['min_version']}"
    if case.get("max_version") and version and version > version_tuple(case["max_version"]):
        return f"needs version <= {case['max_version']}"
    return None


def verbatim(case: dict[str, Any], dialect: str) -> dict[str, Any]:
    table = VERBATIM.get(FILES[dialect].removesuffix(".jsonl"), {})
    server = {"postgres": "postgres", "mariadb": "mariadb", "sqlite": "sqlite"}[dialect]
    entry: dict[str, Any] = table.get(case["name"], {}).get(server, {})
    return entry


def run_case(case: dict[str, Any], backend: Backend) -> Result:
    groups = ["plain_tables"] if case["plain_tables"] else list(case["needs"])
    specific = list(case.get("sqldef_specific") or [])
    reason = gate(case, backend)
    required = case["plain_tables"] and not specific and reason is None
    result = Result(backend.dialect, case["name"], groups, bool(required), "n/a")
    if reason:
        result.cause = reason
        return result
    if case.get("error"):
        result.cause = "expects an error from sqldef"
        return result
    unsupported = sorted(set(case["needs"]) - SUPPORTED_NEEDS)
    if unsupported:
        result.status = "unsupported"
        result.cause = f"needs {', '.join(unsupported)}: not modelled by the engine yet"
        return result
    known = verbatim(case, backend.dialect)
    if known and not (known.get("current_ok") and known.get("desired_ok")):
        result.cause = "the case's SQL does not run on this server: " + known.get("error", "")[:120]
        return result
    started = time.monotonic()
    step = "setup"
    try:
        with backend.fresh(realm="schema" in case["features"]) as (target, dev, oracle):
            run_raw(target, case["current"])
            step = "inspect round trip"
            leftover = plan(target, dev, case["current"], apply=False)
            if leftover:
                return finish(result, "fail", step, "; ".join(leftover), started)
            step = "apply desired"
            plan(target, dev, case["desired"], apply=True)
            step = "re-plan desired"
            leftover = plan(target, dev, case["desired"], apply=False)
            if leftover:
                return finish(result, "fail", step, "; ".join(leftover), started)
            if known.get("desired_ok", True):
                step = "oracle (desired run directly)"
                run_raw(oracle, case["desired"])
                difference = compare(target, oracle)
                if difference:
                    return finish(result, "fail", step, "; ".join(difference), started)
            if case.get("enable_drop", True):
                step = "apply current (reverse)"
                plan(target, dev, case["current"], apply=True)
                step = "re-plan current"
                leftover = plan(target, dev, case["current"], apply=False)
                if leftover:
                    return finish(result, "fail", step, "; ".join(leftover), started)
    except Exception as err:
        return finish(result, "fail", step, f"{type(err).__name__}: {err}", started)
    return finish(result, "pass", "", "", started)


def finish(result: Result, status: str, step: str, cause: str, started: float) -> Result:
    result.status, result.step = status, step
    result.cause = re.sub(r"\s+", " ", cause)[:300]
    result.seconds = round(time.monotonic() - started, 3)
    return result


def make_backend(dialect: str) -> Backend:
    if dialect == "sqlite":
        import sqlite3

        return Backend("sqlite", version=sqlite3.sqlite_version)
    from tests.rig.services import service_urls

    urls = service_urls()
    admin = parse_url(urls.mariadb if dialect == "mariadb" else urls.postgres)
    backend = Backend(dialect, admin=admin)
    if dialect == "postgres":
        backend.sql(
            *[
                f"DO $$ BEGIN CREATE ROLE {role}; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
                for role in PG_ROLES
            ]
        )
    driver = driver_for(admin)
    with driver.open(admin) as session:
        backend.version = str(
            session.query("SELECT VERSION()" if dialect == "mariadb" else "SHOW server_version")[0][
                0
            ]
        )
    return backend


def summarize(results: list[Result]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for dialect in sorted({r.dialect for r in results}):
        mine = [r for r in results if r.dialect == dialect]
        # A required case whose SQL does not run on our server is listed as n/a, not counted.
        required = [r for r in mine if r.required and r.status != "n/a"]
        passed = sum(r.status == "pass" for r in required)
        groups: dict[str, Counter[str]] = defaultdict(Counter)
        for r in mine:
            for g in r.groups:
                groups[g][r.status] += 1
        summary[dialect] = {
            "required": len(required),
            "required_passed": passed,
            "required_rate": round(100 * passed / len(required), 1) if required else None,
            "all": dict(Counter(r.status for r in mine)),
            "groups": {g: dict(c) for g, c in sorted(groups.items())},
        }
    return summary


def write_report(results: list[Result], summary: dict[str, Any], seconds: float) -> None:
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores)"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    (out / "conformance.json").write_text(
        json.dumps(
            {
                "date": stamp,
                "machine": machine,
                "summary": summary,
                "results": [asdict(r) for r in results],
            },
            indent=1,
        )
    )
    lines = [
        "# Conformance report",
        "",
        f"Generated by `make conformance` on {stamp}, {machine}, in {seconds:.0f} s.",
        "Cases: `shared/conformance/` (sqldef's suites). *Required*: `plain_tables` cases",
        "with no `sqldef_specific` reason and no flavor/version gate that excludes our",
        "servers (PostgreSQL 15, MariaDB 10.11, SQLite 3).",
        "",
        "*unsupported*: the case needs objects (views, functions, triggers, …) that the",
        "engine does not model yet; *n/a*: the case does not apply to our servers.",
        "",
        "| dialect | required passed | rate | all (pass / fail / unsupported / n/a) |",
        "|---|---|---|---|",
    ]
    for dialect, s in summary.items():
        a = s["all"]
        lines.append(
            f"| {dialect} | {s['required_passed']}/{s['required']} | "
            f"{s['required_rate']}% | {a.get('pass', 0)} / {a.get('fail', 0)} / "
            f"{a.get('unsupported', 0)} / {a.get('n/a', 0)} |"
        )
    lines += [
        "",
        "## Per group",
        "",
        "| dialect | group | pass | fail | unsupported | n/a |",
        "|---|---|---|---|---|---|",
    ]
    for dialect, s in summary.items():
        for group, c in s["groups"].items():
            lines.append(
                f"| {dialect} | {group} | {c.get('pass', 0)} | {c.get('fail', 0)} | "
                f"{c.get('unsupported', 0)} | {c.get('n/a', 0)} |"
            )
    lines += [
        "",
        "## Failures",
        "",
        "| dialect | case | required | step | cause |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        if r.status == "fail":
            cause = r.cause.replace("|", "\\|")
            lines.append(
                f"| {r.dialect} | {r.name} | {'yes' if r.required else 'no'} | {r.step} | {cause} |"
            )
    lines += ["", "## Not applicable", "", "| dialect | case | why |", "|---|---|---|"]
    for r in results:
        if r.status == "n/a":
            lines.append(f"| {r.dialect} | {r.name} | {r.cause.replace('|', '/')} |")
    (REPO / "docs").mkdir(exist_ok=True)
    (REPO / "docs" / "conformance.md").write_text("\n".join(lines) + "\n")


VERBATIM: dict[str, Any] = {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialect", action="append", choices=sorted(FILES))
    parser.add_argument("--case", action="append", help="run only these case names")
    parser.add_argument("--no-report", action="store_true", help="print, do not write the report")
    args = parser.parse_args()
    VERBATIM.update(json.loads((CONFORMANCE / "verbatim_apply.json").read_text()))
    started = time.monotonic()
    results = []
    for dialect in args.dialect or sorted(FILES):
        backend = make_backend(dialect)
        for line in (CONFORMANCE / FILES[dialect]).read_text().splitlines():
            case = json.loads(line)
            if args.case and case["name"] not in args.case:
                continue
            result = run_case(case, backend)
            results.append(result)
            if result.status == "fail":
                print(f"FAIL {dialect} {case['name']} [{result.step}] {result.cause[:200]}")
    summary = summarize(results)
    print(json.dumps(summary, indent=1))
    if not args.no_report:
        write_report(results, summary, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
