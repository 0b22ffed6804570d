"""Schema-diff conformance: drive real databases through the cases of other tools'
suites (`shared/conformance/`) and report pass rates per file and per group.

For each applicable case (shared/conformance/README.md, "How to run a case"):
1. a fresh target database; `current` runs statement by statement;
2. planning `current` against it must be empty (inspection round-trips);
3. planning `desired` and applying it must succeed, and re-planning must be empty;
4. oracle: the server's own rendering of the migrated schema (pg_dump, SHOW CREATE,
   sqlite_master; bench/oracle.py normalises it) must equal that of a fresh database
   on which `desired` ran as written through the server's own client (psql, mariadb,
   sqlite3), where verbatim_apply.json says it runs so. The engine's inspection takes
   no part in it; the former oracle (an engine plan between the two databases) still
   runs, so the report can list the cases it passed and the new one fails;
5. reverse: planning `current` again, applying, re-planning must be empty
   (skipped when the case disables drops).
A case fails when any step fails or raises.

Usage: python bench/conformance.py [--dialect postgres|mariadb|sqlite]... [--case NAME]
       [--only-supported] [--jobs N] [--no-report]
Writes docs/conformance.md and bench/results/conformance.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
import pymysql  # noqa: E402

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
from bench.oracle import (  # noqa: E402
    diff_summary,
    normalise_mariadb,
    normalise_pg_dump,
    normalise_sqlite,
)

CONFORMANCE = Path(os.environ.get("ATLAS_CONFORMANCE_DIR", REPO.parent / "shared" / "conformance"))
FILES = {
    "postgres": ["sqldef_postgres.jsonl", "migra.jsonl"],
    "mariadb": ["sqldef_mysql.jsonl"],
    "sqlite": ["sqldef_sqlite.jsonl"],
}
# The server names verbatim_apply.json uses.
VERBATIM_SERVER = {"postgres": "postgresql", "mariadb": "mariadb", "sqlite": "sqlite"}
# Every `needs` tag (shared/conformance/README.md).
ALL_NEEDS = frozenset(
    [
        "view",
        "materialized_view",
        "function",
        "procedure",
        "trigger",
        "event",
        "partition",
        "type",
        "domain",
        "extension",
        "sequence",
        "policy",
        "privilege",
        "schema",
        "vector",
        "exclusion",
        "aggregate",
        "rule",
        "inheritance",
        "default_privilege",
    ]
)
# The `needs` each dialect's cases may have and still run; the others are reported
# as *unsupported* and skipped. PostgreSQL runs everything (its objects are in the
# engine, or failures say which are not); SQLite runs its views and triggers (the
# objects it has); MariaDB its views, triggers, routines, events and partitions, and
# the VECTOR cases (MariaDB 11.7+: on an older server they are n/a, `current` or
# `desired` rejected by the server).
SUPPORTED_NEEDS: dict[str, frozenset[str]] = {
    "postgres": ALL_NEEDS,
    "mariadb": frozenset(
        {"schema", "partition", "view", "trigger", "event", "function", "procedure", "vector"}
    ),
    "sqlite": frozenset({"schema", "view", "trigger"}),
}
# Privileges stay out of the desired state (a GRANT is refused by the sandbox): cases
# that manage them do not apply (they also need sqldef's role setup).
PRIVILEGE_NEEDS = frozenset({"privilege", "default_privilege"})
# --only-supported: the former behaviour, plain tables and schemas only, every dialect.
ONLY_SUPPORTED = frozenset({"schema"})
# Roles the PostgreSQL privilege cases expect (shared/conformance/README.md), and those
# migra's fixtures grant to (its own test role, and `postgres`, the superuser it assumes).
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
    "schemainspect_test_role",
    "postgres",
]
STEP_ORACLE = "oracle (server's schema dump)"
TOOL_TIMEOUT = 120


class OracleError(Exception):
    """A server tool (pg_dump, psql, mariadb) failed; the message is one line."""


@dataclass
class Result:
    dialect: str
    file: str
    name: str
    groups: list[str]
    required: bool
    status: str  # pass | fail | n/a | unsupported
    specific: list[str] = field(default_factory=list)
    step: str = ""
    cause: str = ""
    # The two oracles: pass | fail | error, or "" when the step was not reached,
    # "skipped" when `desired` does not run as written on this server.
    new_oracle: str = ""
    old_oracle: str = ""
    oracle_diff: str = ""  # first differing normalised line of each side
    old_oracle_diff: str = ""  # the statements the engine plan found, or its error
    seconds: float = 0.0
    attempts: int = 1  # > 1: re-run because the server went away under the case


@dataclass(frozen=True)
class Context:
    verbatim: dict[str, Any]
    supported: dict[str, frozenset[str]]


@dataclass
class Databases:
    target: DatabaseURL
    dev: DatabaseURL
    oracle: DatabaseURL


@dataclass
class Backend:
    dialect: str
    admin: DatabaseURL | None = None
    version: str = ""
    pg_bin: Path | None = None
    # PostgreSQL: (name, version) of every extension the server can install.
    extensions: frozenset[tuple[str, str]] = frozenset()
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="conformance-")))

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.admin.password,) if self.admin and self.admin.password else ()

    @contextmanager
    def fresh(self, *, realm: bool = False) -> Iterator[Databases]:
        """Fresh target, dev and oracle databases, dropped afterwards.

        PostgreSQL cases that use several schemas run at database (realm) scope, the
        others bound to `public`. Each PostgreSQL case has databases of its own, so
        cases can run side by side; MariaDB's names are fixed (the cases' views name
        `mysqldef_test`), so its cases run one at a time."""
        if self.dialect == "sqlite":
            name = uuid.uuid4().hex[:8]
            try:
                yield Databases(
                    parse_url(f"sqlite://{self.tmp / name}.db"),
                    parse_url(f"sqlite://dev{name}?mode=memory"),
                    parse_url(f"sqlite://{self.tmp / name}-oracle.db"),
                )
            finally:
                for path in self.tmp.glob(f"{name}*"):
                    path.unlink()
            return
        assert self.admin is not None
        if self.dialect == "mariadb":
            names = ["mysqldef_test", "mysqldef_dev", "mysqldef_oracle"]
            self.sql(
                *[f"DROP DATABASE IF EXISTS {n}" for n in names],
                *[f"CREATE DATABASE {n}" for n in names],
            )
            try:
                target, dev, oracle = (self.admin.with_schema(n) for n in names)
                yield Databases(target, dev, oracle)
            finally:
                self.drop(*[f"DROP DATABASE IF EXISTS {n}" for n in names])
            return
        suffix = uuid.uuid4().hex[:8]
        names = [f"conf_{suffix}", f"confdev_{suffix}", f"conforacle_{suffix}"]
        try:
            # Side by side: copying the template is most of a small case's time.
            with ThreadPoolExecutor(len(names)) as threads:
                list(threads.map(self.sql, [f"CREATE DATABASE {n}" for n in names]))
            target, dev, oracle = (
                self.admin.with_database(n)
                if realm
                else self.admin.with_database(n).with_schema("public")
                for n in names
            )
            yield Databases(target, dev, oracle)
        finally:
            self.drop(*[f"DROP DATABASE IF EXISTS {n} WITH (FORCE)" for n in names])

    def drop(self, *statements: str) -> None:
        """Drops a case's databases; when the server went away meanwhile, once it is
        back (so that a restart by another suite leaves nothing behind)."""
        try:
            self.sql(*statements)
        except Exception as err:
            if not SERVER_GONE.search(str(err)):
                raise
            self.wait_until_up()
            self.sql(*statements)

    def wait_until_up(self, stable: float = 5, seconds: float = 180) -> None:
        """Returns once the server has accepted connections for `stable` seconds in a
        row (fault-injecting suites restart it several times within a minute), or after
        `seconds`."""
        if self.admin is None:
            return
        deadline = time.monotonic() + seconds
        up_since: float | None = None
        while time.monotonic() < deadline:
            try:
                self.sql("SELECT 1")
                up_since = up_since or time.monotonic()
                if time.monotonic() - up_since >= stable:
                    return
            except Exception:
                up_since = None
            time.sleep(0.5)

    def sql(self, *statements: str) -> None:
        assert self.admin is not None
        driver = driver_for(self.admin)
        with driver.open(self.admin) as session:
            for statement in statements:
                session.execute(statement)

    # -- the oracle: the servers' own clients and schema renderings, not the engine --

    def build_oracle(self, desired: str, dbs: Databases) -> list[str]:
        """Runs `desired` as written on a fresh database; returns its normalised schema.

        Also leaves `dbs.oracle` holding that schema, for the former oracle. MariaDB
        builds it in the target's own database first (views name `mysqldef_test`),
        takes the snapshot and empties that database again for the case, after the
        former oracle's copy is built (its views name `mysqldef_test`'s tables too)."""
        if self.dialect == "mariadb":
            self.run_client(dbs.target, desired)
            expected = self.snapshot(dbs.target)
            self.run_client(dbs.oracle, desired)
            self.sql("DROP DATABASE mysqldef_test", "CREATE DATABASE mysqldef_test")
            return expected
        self.run_client(dbs.oracle, desired)
        return self.snapshot(dbs.oracle)

    def run_client(self, url: DatabaseURL, sql: str) -> None:
        """`sql` through the server's own client, in file order, stopping at an error."""
        if self.dialect == "sqlite":
            with sqlite3.connect(url.sqlite_target()[0]) as conn:
                conn.executescript(sql)
            conn.close()
            return
        if self.dialect == "postgres":
            assert self.pg_bin is not None
            args = [str(self.pg_bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"]
            run_tool(args, pg_env(url), sql)
            return
        args = [
            shutil.which("mariadb") or "mysql",
            f"--host={url.host}",
            f"--port={url.effective_port}",
            f"--user={url.user}",
            "--default-character-set=utf8mb4",
            str(url.database),
        ]
        run_tool(args, tool_env({"MYSQL_PWD": url.password or ""}), sql)

    def snapshot(self, url: DatabaseURL) -> list[str]:
        if self.dialect == "sqlite":
            with sqlite3.connect(url.sqlite_target()[0]) as conn:
                rows = conn.execute(
                    "SELECT type, name, tbl_name, sql FROM sqlite_master"
                ).fetchall()
            conn.close()
            return normalise_sqlite(rows)
        if self.dialect == "postgres":
            return self.pg_snapshot(url)
        return normalise_mariadb(mariadb_objects(url))

    def pg_snapshot(self, url: DatabaseURL) -> list[str]:
        assert self.pg_bin is not None
        args = [str(self.pg_bin / "pg_dump"), "--schema-only", "--no-owner", "--no-privileges"]
        lines = normalise_pg_dump(run_tool(args, pg_env(url), None))
        # pg_dump writes `CREATE EXTENSION x` without the version installed.
        with psycopg.connect(url.dsn_for_psycopg(), connect_timeout=10) as conn:
            rows = conn.execute("SELECT extname, extversion FROM pg_extension").fetchall()
        return sorted(lines + [f"-- extension {name} version {version}" for name, version in rows])


def tool_env(extra: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
    return base | extra


def pg_env(url: DatabaseURL) -> dict[str, str]:
    """libpq's environment for `url`: the password stays out of argv and messages."""
    return tool_env(
        {
            "PGHOST": url.host or "",
            "PGPORT": str(url.effective_port),
            "PGUSER": url.user or "",
            "PGPASSWORD": url.password or "",
            "PGDATABASE": url.database or "",
            "PGSSLMODE": url.params.get("sslmode", "prefer"),
            "PGCONNECT_TIMEOUT": "10",
            "PGOPTIONS": "-c client_min_messages=warning",
        }
    )


def run_tool(args: list[str], env: dict[str, str], stdin: str | None) -> str:
    try:
        done = subprocess.run(
            args,
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=TOOL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise OracleError(f"{Path(args[0]).name}: {type(err).__name__}") from err
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if "ERROR" in line or "error" in line]
        message = (errors or lines or [f"exit status {done.returncode}"])[0]
        raise OracleError(f"{Path(args[0]).name}: {message}")
    return done.stdout


def mariadb_objects(url: DatabaseURL) -> list[tuple[str, str, str]]:
    """(kind, name, SHOW CREATE text) of every object of the database, listed from
    information_schema."""
    schema = url.database
    kwargs = url.pymysql_kwargs()
    kwargs.setdefault("connect_timeout", 10)
    conn = pymysql.connect(**kwargs)
    objects: list[tuple[str, str, str]] = []
    try:
        with conn.cursor() as cur:
            listings = [
                (
                    "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES"
                    " WHERE TABLE_SCHEMA = %s",
                    {"BASE TABLE": "TABLE", "SYSTEM VERSIONED": "TABLE"},
                ),
                (
                    "SELECT TRIGGER_NAME, 'TRIGGER' FROM information_schema.TRIGGERS"
                    " WHERE TRIGGER_SCHEMA = %s",
                    {},
                ),
                (
                    "SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES"
                    " WHERE ROUTINE_SCHEMA = %s",
                    {},
                ),
                (
                    "SELECT EVENT_NAME, 'EVENT' FROM information_schema.EVENTS"
                    " WHERE EVENT_SCHEMA = %s",
                    {},
                ),
            ]
            found: list[tuple[str, str]] = []
            for query, kinds in listings:
                cur.execute(query, (schema,))
                found += [(kinds.get(kind, kind), name) for name, kind in cur.fetchall()]
            for kind, name in found:
                quoted = "`" + name.replace("`", "``") + "`"
                cur.execute(f"SHOW CREATE {kind} {quoted}")
                columns = [d[0] for d in cur.description]
                row = cur.fetchone()
                index = next(
                    i
                    for i, c in enumerate(columns)
                    if c.startswith("Create ") or c == "SQL Original Statement"
                )
                objects.append((kind, name, str(row[index])))
    finally:
        conn.close()
    return objects


# -- the engine's steps -------------------------------------------------------------


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
    """The former oracle, through the engine's own inspection: statements that would
    turn the migrated database into the oracle (must be none). Kept only to report
    the cases it passed and the server-side oracle fails."""
    driver = driver_for(migrated)
    scope = driver.scope_of(migrated)
    with driver.open(migrated) as a, driver.open(oracle) as b:
        current, desired = driver.inspect(a, scope), driver.inspect(b, driver.scope_of(oracle))
    changes = diff_states(current, desired, scope, driver)
    return [s.sql for s in driver.plan(changes, scope)]


# -- applicability --------------------------------------------------------------------


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(
        int(re.match(r"\d*", part).group() or 0)  # type: ignore[union-attr]
        for part in text.split("-")[0].split(".")
    )


_EXTENSION = re.compile(
    r"\bcreate\s+extension\s+(?:if\s+not\s+exists\s+)?(\"?)([\w-]+)\1"
    r"(?:\s+with)?(?:\s+schema\s+\S+)?(?:\s+version\s+'([^']+)')?",
    re.I,
)


def gate(case: dict[str, Any], backend: Backend) -> str | None:
    """Why a case does not apply to our server, or None."""
    flavor = case.get("flavor")
    server = backend.dialect
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
    if case.get("user"):
        return (
            f"runs as login role {case['user']} with search_path foo, public and a schema "
            "foo it owns (set up by sqldef's harness)"
        )
    if server == "postgres":
        names = {name for name, _ in backend.extensions}
        for match in _EXTENSION.finditer(case["current"] + "\n" + case["desired"]):
            name, wanted = match.group(2), match.group(3)
            if name not in names:
                return f"needs extension {name}, not available on this server"
            if wanted and (name, wanted) not in backend.extensions:
                return f"needs extension {name} version {wanted}, not available on this server"
    return None


def verbatim(case: dict[str, Any], file: str, dialect: str, ctx: Context) -> dict[str, Any]:
    table = ctx.verbatim.get(file.removesuffix(".jsonl"), {})
    entry: dict[str, Any] = table.get(case["name"], {}).get(VERBATIM_SERVER[dialect], {})
    return entry


# -- one case -------------------------------------------------------------------------

_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.I)
_PASSWORD_ITEMS = re.compile(
    r"\b((?:password|passwd|pwd|pgpassword|mysql_pwd)\s*=\s*)\S+|"
    r"\b((?:PASSWORD|IDENTIFIED\s+BY)\s+)'(?:[^']|'')*'",
    re.I,
)


def one_line(text: str, secrets: Sequence[str] = (), limit: int = 300) -> str:
    """`text` on one line, at most `limit` characters, with no password in it."""
    text = _URL_CREDENTIALS.sub(r"\1xxxxx@", text)
    text = _PASSWORD_ITEMS.sub(lambda m: (m.group(1) or m.group(2)) + "xxxxx", text)
    for secret in secrets:
        text = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", "xxxxx", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def classify(
    case: dict[str, Any], file: str, backend: Backend, ctx: Context
) -> tuple[Result, dict[str, Any]]:
    """The case's result as far as it is known before running it (status `run` when
    it must run) and its verbatim_apply.json entry."""
    groups = ["plain_tables"] if case["plain_tables"] else list(case["needs"])
    specific = list(case.get("sqldef_specific") or [])
    reason = gate(case, backend)
    required = bool(case["plain_tables"] and not specific and reason is None)
    result = Result(backend.dialect, file, case["name"], groups, required, "n/a", specific)
    known = verbatim(case, file, backend.dialect, ctx)
    if reason:
        result.cause = reason
    elif case.get("error"):
        result.cause = "expects an error from sqldef"
    elif backend.dialect == "postgres" and PRIVILEGE_NEEDS & set(case["needs"]):
        result.cause = (
            "manages privileges (GRANT/REVOKE, roles): not part of a desired schema here"
            " (README, Databases)"
        )
    elif unsupported := sorted(set(case["needs"]) - ctx.supported[backend.dialect]):
        result.status = "unsupported"
        result.cause = f"needs {', '.join(unsupported)}: skipped for this dialect"
    elif known and not known.get("current_ok"):
        result.cause = "the case's `current` does not run on this server: " + known.get("error", "")
    else:
        result.status = "run"
    result.cause = one_line(result.cause, backend.secrets)
    return result, known


def run_case(case: dict[str, Any], file: str, backend: Backend, ctx: Context) -> Result:
    result, known = classify(case, file, backend, ctx)
    if result.status != "run":
        return result
    started = time.monotonic()
    step = "setup"
    try:
        with backend.fresh(realm="schema" in case["features"]) as dbs:
            expected: list[str] | None = None
            if known.get("desired_ok", True):
                step = "oracle: desired run as written"
                expected = backend.build_oracle(case["desired"], dbs)
            else:
                result.new_oracle = result.old_oracle = "skipped"
            step = "apply current"
            run_raw(dbs.target, case["current"])
            step = "inspect round trip"
            leftover = plan(dbs.target, dbs.dev, case["current"], apply=False)
            if leftover:
                return finish(result, "fail", step, "; ".join(leftover), started, backend)
            step = "apply desired"
            plan(dbs.target, dbs.dev, case["desired"], apply=True)
            step = "re-plan desired"
            leftover = plan(dbs.target, dbs.dev, case["desired"], apply=False)
            if leftover:
                return finish(result, "fail", step, "; ".join(leftover), started, backend)
            if expected is not None:
                step = STEP_ORACLE
                difference = diff_summary(backend.snapshot(dbs.target), expected)
                result.new_oracle = "fail" if difference else "pass"
                result.oracle_diff = one_line(difference or "", backend.secrets, 400)
                run_old_oracle(result, dbs, backend)
                if difference:
                    return finish(result, "fail", step, difference, started, backend)
            if case.get("enable_drop", True):
                step = "apply current (reverse)"
                plan(dbs.target, dbs.dev, case["current"], apply=True)
                step = "re-plan current"
                leftover = plan(dbs.target, dbs.dev, case["current"], apply=False)
                if leftover:
                    return finish(result, "fail", step, "; ".join(leftover), started, backend)
    except Exception as err:
        if step == STEP_ORACLE and not result.new_oracle:
            result.new_oracle = "error"
        cause = f"{type(err).__name__}: {err}"
        if type(err).__name__ == "SandboxError" and DATA_STATEMENT.search(str(err)):
            # Rows inserted to exercise a trigger, a query: by design a desired state
            # only defines schema objects (README, "A sandboxed desired state").
            return finish(result, "n/a", step, HOLDS_DATA + cause, started, backend)
        if step == "apply desired" and not known.get("desired_ok", True):
            # The server itself rejects the desired SQL as written (verbatim_apply.json):
            # no engine that loads it on a dev database can apply it. A pass still counts.
            return finish(result, "n/a", step, NOT_LOADABLE + cause, started, backend)
        return finish(result, "fail", step, cause, started, backend)
    return finish(result, "pass", "", "", started, backend)


HOLDS_DATA = "the case's SQL holds data statements, refused in a desired state: "
DATA_STATEMENT = re.compile(
    r"desired state: statement \d+ \(line \d+\): (?:INSERT|UPDATE|DELETE|SELECT|COPY|TRUNCATE)"
    r" is not allowed"
)
NOT_LOADABLE = "desired SQL does not run on the server as written (verbatim_apply.json): "


def run_old_oracle(result: Result, dbs: Databases, backend: Backend) -> None:
    try:
        difference = compare(dbs.target, dbs.oracle)
    except Exception as err:
        result.old_oracle = "error"
        result.old_oracle_diff = one_line(f"{type(err).__name__}: {err}", backend.secrets)
        return
    result.old_oracle = "fail" if difference else "pass"
    result.old_oracle_diff = one_line("; ".join(difference), backend.secrets)


def finish(
    result: Result, status: str, step: str, cause: str, started: float, backend: Backend
) -> Result:
    result.status, result.step = status, step
    result.cause = one_line(cause, backend.secrets)
    result.seconds = round(time.monotonic() - started, 3)
    return result


# A failure that says the server went away rather than refused something: other
# test suites sharing these servers restart them (tests/rig/faults.py).
SERVER_GONE = re.compile(
    r"Connection refused|the database system is (?:starting up|shutting down|in recovery"
    r"|not yet accepting)|server closed the connection unexpectedly|terminating connection"
    r" due to (?:administrator command|unexpected postmaster exit)|server conn crashed"
    r"|Lost connection to (?:MySQL|MariaDB) server|Can't connect to (?:MySQL|MariaDB) server"
    r"|(?:MySQL|MariaDB) server has gone away|Server shutdown in progress"
    # psycopg, on a connection the server terminated (pg_terminate_backend) meanwhile:
    r"|the connection is (?:closed|lost)",
    re.I,
)
ATTEMPTS = 4


def safe_run(case: dict[str, Any], file: str, backend: Backend, ctx: Context) -> Result:
    """run_case, with a failure of the harness itself reported as the case's failure.

    A case that failed because the server went away is run again from scratch once the
    server is back (at most ATTEMPTS times in all; `attempts` records it)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            result = run_case(case, file, backend, ctx)
        except Exception as err:
            groups = ["plain_tables"] if case.get("plain_tables") else list(case.get("needs", []))
            result = Result(backend.dialect, file, str(case.get("name")), groups, False, "fail")
            finish(result, "fail", "harness", f"{type(err).__name__}: {err}", 0, backend)
        result.attempts = attempt
        if result.status != "fail" or not SERVER_GONE.search(result.cause):
            break
        if attempt < ATTEMPTS:
            backend.wait_until_up(stable=10 * attempt)
    return result


_WORKER: dict[str, Any] = {}


def _init_worker(backend: Backend, ctx: Context) -> None:
    _WORKER["backend"], _WORKER["ctx"] = backend, ctx


def _run_in_worker(item: tuple[dict[str, Any], str]) -> Result:
    case, file = item
    return safe_run(case, file, _WORKER["backend"], _WORKER["ctx"])


# -- servers --------------------------------------------------------------------------


def make_backend(dialect: str) -> Backend:
    if dialect == "sqlite":
        return Backend("sqlite", version=sqlite3.sqlite_version)
    from tests.rig.services import service_urls

    urls = service_urls()
    admin = parse_url(urls.mariadb if dialect == "mariadb" else urls.postgres)
    backend = Backend(dialect, admin=admin)
    driver = driver_for(admin)
    with driver.open(admin) as session:
        if dialect == "mariadb":
            backend.version = str(session.query("SELECT VERSION()")[0][0])
            return backend
        for role in PG_ROLES:
            session.execute(
                f"DO $$ BEGIN CREATE ROLE {role}; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            )
        backend.version = str(session.query("SHOW server_version")[0][0])
        rows = session.query("SELECT name, version FROM pg_available_extension_versions")
        backend.extensions = frozenset((str(n), str(v)) for n, v in rows)
    backend.pg_bin = pg_bin_for(backend.version)
    return backend


def pg_bin_for(server_version: str) -> Path:
    """Debian's client programs of the server's major version (pg_dump refuses newer
    servers, and an older pg_dump renders some objects differently)."""
    major = server_version.split(".")[0]
    path = Path(f"/usr/lib/postgresql/{major}/bin")
    if not (path / "pg_dump").exists():
        raise SystemExit(f"no pg_dump for PostgreSQL {major}: expected {path}/pg_dump")
    return path


# -- summary and report ---------------------------------------------------------------


def rate(counts: Counter[str]) -> float | None:
    ran = counts["pass"] + counts["fail"]
    return round(100 * counts["pass"] / ran, 1) if ran else None


def counts_of(results: Sequence[Result]) -> dict[str, Any]:
    counts = Counter(r.status for r in results)
    return {
        "pass": counts["pass"],
        "fail": counts["fail"],
        "unsupported": counts["unsupported"],
        "n/a": counts["n/a"],
        "rate": rate(counts),
    }


def summarize(results: list[Result]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for dialect in sorted({r.dialect for r in results}):
        mine = [r for r in results if r.dialect == dialect]
        required = [r for r in mine if r.required and r.status in ("pass", "fail")]
        groups: dict[str, list[Result]] = defaultdict(list)
        for r in mine:
            for g in r.groups:
                groups[g].append(r)
        compared = [r for r in mine if r.new_oracle in ("pass", "fail")]
        summary[dialect] = {
            "applicable": counts_of(mine),
            "required": len(required),
            "required_passed": sum(r.status == "pass" for r in required),
            "required_rate": rate(Counter(r.status for r in required)),
            "files": {f: counts_of([r for r in mine if r.file == f]) for f in FILES[dialect]},
            "groups": {
                g: counts_of(rs)
                for g, rs in sorted(groups.items(), key=lambda kv: (kv[0] != "plain_tables", kv))
            },
            "sqldef_specific": counts_of([r for r in mine if r.specific]),
            "rerun_after_server_restart": sum(r.attempts > 1 for r in mine),
            "oracle": {
                "compared": len(compared),
                "new_fails": sum(r.new_oracle == "fail" for r in compared),
                "old_passed_new_fails": sum(
                    r.old_oracle == "pass" and r.new_oracle == "fail" for r in compared
                ),
                "new_passed_old_did_not": sum(
                    r.new_oracle == "pass" and r.old_oracle in ("fail", "error") for r in compared
                ),
            },
        }
    return summary


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value}%"


def write_report(
    results: list[Result], summary: dict[str, Any], seconds: float, args: argparse.Namespace
) -> None:
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores)"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    old_pass_new_fail = [r for r in results if r.old_oracle == "pass" and r.new_oracle == "fail"]
    new_pass_old_not = [
        r for r in results if r.new_oracle == "pass" and r.old_oracle in ("fail", "error")
    ]
    (out / "conformance.json").write_text(
        json.dumps(
            {
                "date": stamp,
                "machine": machine,
                "seconds": round(seconds),
                "only_supported": args.only_supported,
                "summary": summary,
                "old_oracle_passed_new_fails": [
                    {"dialect": r.dialect, "file": r.file, "name": r.name, "diff": r.oracle_diff}
                    for r in old_pass_new_fail
                ],
                "results": [asdict(r) for r in results],
            },
            indent=1,
        )
        + "\n"
    )
    skipped = (
        "plain tables and schemas only (`--only-supported`)"
        if args.only_supported
        else (
            "every PostgreSQL case whatever its `needs`, SQLite cases with views and "
            "triggers; MariaDB and SQLite skip the cases needing other objects (*unsupported*)"
        )
    )
    lines = [
        "# Conformance report",
        "",
        f"Generated by `make conformance` on {stamp}, {machine}, in {seconds:.0f} s.",
        "Cases: `shared/conformance/` (sqldef's suites, and migra's fixtures for PostgreSQL),",
        f"run as `bench/conformance.py` describes; {skipped}.",
        "",
        "A case passes when every step succeeds: `current` applied, an empty plan for",
        "`current`, `desired` planned and applied, an empty re-plan, the **oracle**, and",
        "the reverse migration back to `current` with an empty re-plan.",
        "",
        "The oracle sits outside the engine: the migrated database must render the same",
        "schema as a fresh database on which `desired` ran as written through the server's",
        "own client (psql, mariadb, sqlite3), where `verbatim_apply.json` says it runs so.",
        "PostgreSQL compares `pg_dump --schema-only --no-owner --no-privileges` (plus the",
        "installed extension versions, which pg_dump leaves out), MariaDB `SHOW CREATE …`",
        "of every object information_schema lists, SQLite `sqlite_master`. The",
        "normalisation (`bench/oracle.py`) sorts objects, compares a table's columns and",
        "constraints as a set (PostgreSQL and SQLite append added columns; the engine, like",
        "Atlas, does not position MariaDB columns), and folds names the server generates,",
        "AUTO_INCREMENT counters, DEFINERs, SET lines and dump comments. Privileges and",
        "owners are not part of it.",
        "",
        "migra's fixtures run like sqldef's: `current`, then `desired` as the whole target",
        "state of the database; migra's per-fixture scoping options (`schema`,",
        "`exclude_schema`, `create_extensions_only`) and its `additions` are not applied.",
        "",
        "*Applicable*: every case that ran (pass + fail). *Required*: `plain_tables` cases",
        "with no `sqldef_specific` reason and no flavor/version gate that excludes our",
        "servers (PostgreSQL 15, MariaDB 10.11, SQLite 3). *n/a*: the case does not apply",
        "to our servers (flavor, version, extension, sqldef's role setup, expected",
        "sqldef error, `current` rejected by the server). *unsupported*: skipped, the",
        "dialect's objects are not in scope yet.",
        "",
        "| dialect | applicable passed | rate | required passed | rate "
        "| pass / fail / unsupported / n/a |",
        "|---|---|---|---|---|---|",
    ]
    for dialect, s in summary.items():
        a = s["applicable"]
        lines.append(
            f"| {dialect} | {a['pass']}/{a['pass'] + a['fail']} | {pct(a['rate'])} | "
            f"{s['required_passed']}/{s['required']} | {pct(s['required_rate'])} | "
            f"{a['pass']} / {a['fail']} / {a['unsupported']} / {a['n/a']} |"
        )
    reruns = {d: s["rerun_after_server_restart"] for d, s in summary.items()}
    if any(reruns.values()):
        lines += [
            "",
            "Re-run from scratch because the server was restarted under them (other test "
            "suites share the servers): "
            + ", ".join(f"{d} {n}" for d, n in reruns.items() if n)
            + " case(s); `attempts` in the JSON results.",
        ]
    if "postgres" in summary:
        a = summary["postgres"]["applicable"]
        lines += [
            "",
            f"**Applicable PostgreSQL cases: {a['pass']}/{a['pass'] + a['fail']} pass "
            f"({pct(a['rate'])}).**",
        ]
    lines += [
        "",
        "## Per file",
        "",
        "| dialect | file | pass | fail | rate | unsupported | n/a |",
        "|---|---|---|---|---|---|---|",
    ]
    for dialect, s in summary.items():
        for file, c in s["files"].items():
            lines.append(
                f"| {dialect} | {file} | {c['pass']} | {c['fail']} | {pct(c['rate'])} | "
                f"{c['unsupported']} | {c['n/a']} |"
            )
    lines += [
        "",
        "## Per group",
        "",
        "A case counts in `plain_tables` when it needs nothing beyond tables, else in each",
        "of its `needs` tags. Cases leaning on sqldef-only behaviour (`sqldef_specific`)",
        "are counted in their groups and, apart, in the last row of each dialect.",
        "",
        "| dialect | group | pass | fail | rate | unsupported | n/a |",
        "|---|---|---|---|---|---|---|",
    ]
    for dialect, s in summary.items():
        rows = [*s["groups"].items(), ("*sqldef_specific*", s["sqldef_specific"])]
        for group, c in rows:
            lines.append(
                f"| {dialect} | {group} | {c['pass']} | {c['fail']} | {pct(c['rate'])} | "
                f"{c['unsupported']} | {c['n/a']} |"
            )
    lines += [
        "",
        "## Cases the former oracle passed and the new one fails",
        "",
        "The former oracle planned, through the engine's own inspection, the changes",
        "between the migrated database and the fresh one; it saw only what the engine",
        "models. Below, the first normalised line only the migrated database has and the",
        "first only the fresh `desired` database has.",
        "",
    ]
    if old_pass_new_fail:
        lines += ["| dialect | case | difference |", "|---|---|---|"]
        lines += [f"| {r.dialect} | {r.name} | {cell(r.oracle_diff)} |" for r in old_pass_new_fail]
    else:
        lines.append("None.")
    if new_pass_old_not:
        lines += [
            "",
            "Cases the new oracle passed and the former failed or could not compare (its",
            "inspection raised):",
            "",
        ]
        lines += [f"- {r.dialect} {r.name}: {cell(r.old_oracle_diff)}" for r in new_pass_old_not]
    else:
        lines += ["", "No case passed the new oracle and failed the former one."]
    lines += [
        "",
        "## Failures",
        "",
        "| dialect | file | case | required | step | cause |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.status == "fail":
            lines.append(
                f"| {r.dialect} | {r.file} | {r.name} | {'yes' if r.required else 'no'} | "
                f"{r.step} | {cell(r.cause)} |"
            )
    lines += ["", "## Not applicable", "", "| dialect | file | case | why |", "|---|---|---|---|"]
    for r in results:
        if r.status == "n/a":
            lines.append(f"| {r.dialect} | {r.file} | {r.name} | {cell(r.cause)} |")
    lines += ["", "## Unsupported (skipped)", "", "| dialect | case | needs |", "|---|---|---|"]
    for r in results:
        if r.status == "unsupported":
            lines.append(f"| {r.dialect} | {r.name} | {cell(r.cause)} |")
    (REPO / "docs").mkdir(exist_ok=True)
    (REPO / "docs" / "conformance.md").write_text("\n".join(lines) + "\n")


# -- main -----------------------------------------------------------------------------


def load_cases(dialect: str, names: Sequence[str] | None) -> list[tuple[dict[str, Any], str]]:
    cases = []
    for file in FILES[dialect]:
        for line in (CONFORMANCE / file).read_text().splitlines():
            case = json.loads(line)
            if not names or case["name"] in names:
                cases.append((case, file))
    return cases


def report_progress(result: Result) -> None:
    if result.status == "fail":
        print(f"FAIL {result.dialect} {result.name} [{result.step}] {result.cause[:200]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dialect", action="append", choices=sorted(FILES))
    parser.add_argument("--case", action="append", help="run only these case names")
    parser.add_argument(
        "--only-supported",
        action="store_true",
        help="skip cases needing objects other than schemas in every dialect (former behaviour)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=3,
        help="PostgreSQL cases run in this many worker processes (each case has databases "
        "of its own); MariaDB and SQLite run one case at a time alongside them. "
        "1: no pool, everything in order",
    )
    parser.add_argument("--no-report", action="store_true", help="print, do not write the report")
    args = parser.parse_args()
    supported = {
        d: (ONLY_SUPPORTED if args.only_supported else s) for d, s in SUPPORTED_NEEDS.items()
    }
    ctx = Context(json.loads((CONFORMANCE / "verbatim_apply.json").read_text()), supported)
    started = time.monotonic()
    dialects = args.dialect or sorted(FILES)
    results: dict[str, list[Result]] = {}
    pool: ProcessPoolExecutor | None = None
    pending: list[Future[Result]] = []
    try:
        if "postgres" in dialects and args.jobs > 1:  # --jobs 1: no worker processes
            backend = make_backend("postgres")
            pool = ProcessPoolExecutor(
                args.jobs,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(backend, ctx),
            )
            pending = [
                pool.submit(_run_in_worker, item) for item in load_cases("postgres", args.case)
            ]
        for dialect in dialects:
            if dialect == "postgres" and pool is not None:
                continue
            backend = make_backend(dialect)
            results[dialect] = []
            for case, file in load_cases(dialect, args.case):
                result = safe_run(case, file, backend, ctx)
                report_progress(result)
                results[dialect].append(result)
        if pool is not None:
            results["postgres"] = []
            for future in pending:
                result = future.result()
                report_progress(result)
                results["postgres"].append(result)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    ordered = [r for d in dialects for r in results.get(d, [])]
    summary = summarize(ordered)
    print(json.dumps({d: {k: s[k] for k in ("applicable", "oracle")} for d, s in summary.items()}))
    if not args.no_report:
        write_report(ordered, summary, time.monotonic() - started, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
