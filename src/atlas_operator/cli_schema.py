"""`atlas-operator schema inspect|diff|apply`, mirroring the Atlas CLI verbs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from atlas_operator.engine.changes import SKIP_KEYS
from atlas_operator.engine.declarative import (
    ApplyPolicy,
    ApplyReport,
    Plan,
    apply_lock,
    check_policy,
    execute_plan,
    plan_apply,
)
from atlas_operator.engine.diff import diff_realms
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.drivers.base import PlannedStatement
from atlas_operator.engine.model import Realm
from atlas_operator.engine.statecache import (
    NO_CACHE_ENV,
    configure,
    disabled_by_env,
    user_cache_dir,
)
from atlas_operator.engine.states import load_state, scope_for
from atlas_operator.engine.urls import DatabaseURL, parse_url

SYNCED = "Schema is synced, no changes to be made"


def add_schema_commands(verbs: Any) -> None:
    schema = verbs.add_parser("schema", help="inspect, diff and apply schemas")
    actions = schema.add_subparsers(dest="action", metavar="ACTION", required=True)

    inspect = actions.add_parser("inspect", help="print a database's schema")
    inspect.add_argument("-u", "--url", required=True)
    add_scope_flags(inspect)
    inspect.add_argument("--format", choices=["sql", "json"], default="sql")
    inspect.set_defaults(run=cmd_inspect)

    diff = actions.add_parser("diff", help="print the statements that turn one state into another")
    diff.add_argument(
        "-f", "--from", dest="source", **state_flag(), help="URL or file://schema.sql (repeatable)"
    )
    diff.add_argument("--to", **state_flag(), help="URL or file://schema.sql (repeatable)")
    diff.add_argument("--dev-url")
    add_cache_flag(diff)
    add_scope_flags(diff)
    diff.add_argument("--format", choices=["sql", "json"], default="sql")
    diff.set_defaults(run=cmd_diff)

    apply = actions.add_parser("apply", help="plan and apply a desired schema")
    apply.add_argument("-u", "--url", required=True)
    apply.add_argument(
        "--to", **state_flag(), help="file://schema.sql (repeatable: read together) or a URL"
    )
    apply.add_argument("--dev-url")
    add_cache_flag(apply)
    apply.add_argument("--dry-run", action="store_true")
    apply.add_argument("--auto-approve", action="store_true")
    apply.add_argument("--tx-mode", choices=["file", "all", "none"], default="file")
    add_scope_flags(apply)
    apply.add_argument("--skip", action="append", default=[], choices=SKIP_KEYS, metavar="KIND")
    apply.add_argument("--concurrent-index", action="store_true")
    apply.add_argument("--lint-destructive-error", action="store_true")
    apply.add_argument("--format", choices=["sql", "json"], default="sql")
    apply.set_defaults(run=cmd_apply)


def state_flag() -> dict[str, Any]:
    """`--from`/`--to` as Atlas's string slices: repeatable, comma-separated, and several
    `file://` sources are read together as one state."""
    return {"action": "extend", "type": comma_list, "required": True, "metavar": "URL"}


def add_cache_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="load the desired state on the dev database even when a normalised copy is"
        f" cached (also: {NO_CACHE_ENV}=1); the cache is in $XDG_CACHE_HOME/atlas-operator",
    )


def use_cache(args: argparse.Namespace) -> None:
    """Keeps normalised desired states between runs (engine/statecache.py), unless
    `--no-cache` or the environment says not to."""
    if args.no_cache or disabled_by_env(os.environ):
        configure(None)
    else:
        configure(user_cache_dir(os.environ))


def add_scope_flags(parser: argparse.ArgumentParser) -> None:
    # Atlas's string slices: repeatable, and each value is split on commas.
    parser.add_argument(
        "-s", "--schema", action="extend", type=comma_list, default=[], metavar="S[,S…]"
    )
    parser.add_argument(
        "--exclude", action="extend", type=comma_list, default=[], metavar="GLOB[,GLOB…]"
    )


def comma_list(text: str) -> list[str]:
    """A string-slice flag value, as pflag reads it: comma-separated, blanks dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def policy_from(args: argparse.Namespace) -> ApplyPolicy:
    return ApplyPolicy(
        schemas=tuple(args.schema),
        exclude=tuple(args.exclude),
        skip=frozenset(getattr(args, "skip", ())),
        concurrent_create=getattr(args, "concurrent_index", False),
        concurrent_drop=getattr(args, "concurrent_index", False),
        lint_destructive_error=getattr(args, "lint_destructive_error", False),
        tx_mode=getattr(args, "tx_mode", "file"),
    )


def optional_url(text: str | None) -> DatabaseURL | None:
    return parse_url(text) if text else None


def cmd_inspect(args: argparse.Namespace) -> None:
    url = parse_url(args.url)
    policy = policy_from(args)
    realm = load_state(args.url, dev_url=None, target=url, policy=policy)
    if args.format == "json":
        print(json.dumps(realm.to_json(), indent=2, sort_keys=True))
        return
    print_statements(creation_statements(url, realm, policy))


def creation_statements(url: DatabaseURL, realm: Realm, policy: ApplyPolicy) -> list[str]:
    """The DDL that creates `realm` from nothing, in the URL's scope."""
    driver = driver_for(url)
    scope = scope_for(url, policy)
    empty = (
        Realm(schemas=tuple(type(s)(s.name) for s in realm.schemas)) if scope.is_schema else Realm()
    )
    from atlas_operator.engine.dependencies import link_changes

    changes = link_changes(
        diff_realms(empty, realm), empty, realm, driver.dependency_rules(), bound=scope.is_schema
    )
    return [s.sql for s in driver.plan(changes, scope)]


def cmd_diff(args: argparse.Namespace) -> None:
    use_cache(args)
    policy = policy_from(args)
    dev = optional_url(args.dev_url)
    target = target_url(args.source, args.to)
    current = load_state(args.source, dev_url=dev, target=target, policy=policy, flag="from")
    desired = load_state(args.to, dev_url=dev, target=target, policy=policy)
    reference = target or dev
    if reference is None:
        raise ValueError("schema diff needs a database URL on one side or --dev-url")
    driver = driver_for(reference)
    scope = scope_for(reference, policy)
    from atlas_operator.engine.declarative import diff_states

    changes = diff_states(current, desired, scope, driver)
    statements = driver.plan(changes, scope)
    if args.format == "json":
        print(json.dumps(diff_json(statements), indent=2))
    else:
        print_diff(statements)


def target_url(*sides: list[str]) -> DatabaseURL | None:
    for ref in (ref for refs in sides for ref in refs):
        if not ref.startswith("file://"):
            return parse_url(ref)
    return None


def cmd_apply(args: argparse.Namespace) -> None:
    use_cache(args)
    url = parse_url(args.url)
    policy = policy_from(args)
    dev = optional_url(args.dev_url)
    if not (args.dry_run or args.auto_approve) and not sys.stdin.isatty():
        raise ValueError("refusing to apply without a terminal: pass --auto-approve or --dry-run")
    desired = load_state(args.to, dev_url=dev, target=url, policy=policy)
    warn_unmanaged(desired, bound=url.schema is not None)
    driver = driver_for(url)
    # The lock covers inspect, plan and apply, so two appliers never plan the same change.
    scope = driver.scope_of(url, policy.schemas)
    with driver.open(url) as session, apply_lock(driver, session, scope, desired):
        plan = plan_apply(session, driver, desired, policy)
        check_policy(plan, policy)
        if not plan.statements or args.dry_run:
            report = ApplyReport(plan=plan, pending=list(plan.sql))
            output_plan(args, plan, report, applied=False)
            return
        text = args.format != "json"
        if text or not args.auto_approve:
            print_plan(plan)  # once: the prompt and the applied report refer to it
        if not args.auto_approve and not confirm():
            return  # as Atlas: aborting the prompt is not an error, and nothing runs
        log = AppliedLog(plan) if text else None
        report = execute_plan(session, driver, plan, policy.tx_mode, log)
    if log is not None:
        log.finish(report)
    else:
        output_plan(args, plan, report, applied=True)
    if report.error:
        ran = len(log.ran) if log is not None else len(report.applied)
        undone = ", rolled back" if log is not None and log.rolled_back(report) else ""
        after = f" (after {ran} statement{plural(ran)} that ran{undone})" if ran else ""
        raise ValueError(f"executing statement {report.error_stmt!r}: {report.error}{after}")


class AppliedLog:
    """What `schema apply` prints while it applies: each statement once it ran (`->`,
    as Atlas's migrate apply report shows them), then a summary or the failure."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.ran: list[PlannedStatement] = []
        self.seconds = 0.0
        count = len(plan.statements)
        print(f"\nApplying approved migration ({count} statement{plural(count)} in total):\n")
        sys.stdout.flush()

    def __call__(self, statement: PlannedStatement, seconds: float) -> None:
        self.ran.append(statement)
        self.seconds += seconds
        if statement.comment:
            print(f"  -- {statement.comment}")
        print(f"    -> {indent_lines(statement.sql)}")
        print(f"  -- ok ({seconds * 1000:.3f}ms)")
        sys.stdout.flush()

    def rolled_back(self, report: ApplyReport) -> bool:
        """Statements ran, and the rollback of the failed plan undid them."""
        return bool(self.ran) and len(report.applied) < len(self.ran)

    def finish(self, report: ApplyReport) -> None:
        ran = len(self.ran)
        if report.error:
            failed = next((s for s in self.plan.statements if s.sql == report.error_stmt), None)
            if failed is not None and failed.comment:
                print(f"  -- {failed.comment}")
            print(f"    -> {indent_lines(report.error_stmt or '')}")
            print(f"    {one_line(report.error)}")
        print("\n  -------------------------")
        print(f"  -- {self.seconds * 1000:.3f}ms")
        if not report.error:
            print(f"  -- {ran} sql statement{plural(ran)}")
            return
        print(f"  -- {ran} sql statement{plural(ran)} ok, 1 with errors")
        if self.rolled_back(report):
            print(f"  -- rolled back: the {ran} statement{plural(ran)} above did not persist")
        left = len(self.plan.statements) - ran - 1  # after the failing one (none: COMMIT)
        if left > 0:
            print(f"  -- {left} statement{plural(left)} not run")


def plural(count: int) -> str:
    return "" if count == 1 else "s"


def indent_lines(sql: str) -> str:
    """Continuation lines of a statement under its `->` (Atlas's `indent_ln`)."""
    return sql.replace("\n", "\n       ")


def one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def warn_unmanaged(desired: Realm, bound: bool) -> None:
    """Objects of the desired state the engine cannot manage yet, on stderr."""
    for obj in desired.unmanaged:
        print(
            f"warning: {obj.describe(qualified=not bound)} is not managed by this engine yet:"
            " it is not planned",
            file=sys.stderr,
        )


def confirm() -> bool:
    """Atlas's prompt ("Are you sure?", Apply or Abort); anything but Apply aborts."""
    answer = input("Are you sure? [Apply/Abort] ")
    return answer.strip().lower() in ("apply", "y", "yes")


def output_plan(args: argparse.Namespace, plan: Plan, report: ApplyReport, applied: bool) -> None:
    if args.format == "json":
        print(json.dumps(report_json(report), indent=2))
        return
    if not plan.statements:
        print(SYNCED)
        return
    print_plan(plan)


def print_plan(plan: Plan) -> None:
    print("-- Planned Changes:")
    for statement in plan.statements:
        if statement.comment:
            print(f"-- {statement.comment}")
        print_hazards(statement)
        print(f"{statement.sql};")


def print_statements(statements: list[str]) -> None:
    for sql in statements:
        print(f"{sql};")


def print_hazards(statement: PlannedStatement) -> None:
    """The statement's hazards, one comment line each, right above it."""
    for hazard in statement.hazards:
        print(f"-- {hazard.comment}")


def print_diff(statements: list[PlannedStatement]) -> None:
    for statement in statements:
        print_hazards(statement)
        print(f"{statement.sql};")


def diff_json(statements: list[PlannedStatement]) -> dict[str, Any]:
    """`{"statements": [...]}`, with `hazards` (one list per statement, in the same
    order) when any statement has one."""
    out: dict[str, Any] = {"statements": [s.sql for s in statements]}
    if any(s.hazards for s in statements):
        out["hazards"] = [[h.to_json() for h in s.hazards] for s in statements]
    return out


def hazards_json(statements: list[PlannedStatement]) -> list[dict[str, Any]]:
    """The statements that have hazards, each with its list (`Type`, `Message`)."""
    return [
        {"Stmt": s.sql, "Hazards": [h.to_json() for h in s.hazards]}
        for s in statements
        if s.hazards
    ]


def report_json(report: ApplyReport) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if report.applied:
        changes["Applied"] = report.applied
    if report.pending:
        changes["Pending"] = report.pending
    if report.error:
        changes["Error"] = {"Stmt": report.error_stmt, "Text": report.error}
    out: dict[str, Any] = {
        "Driver": report.plan.target.atlas_driver,
        "URL": report.plan.target.redacted(),
        "Changes": changes,
    }
    hazards = hazards_json(report.plan.statements)
    if hazards:
        out["Hazards"] = hazards  # ours: Atlas has no hazards; absent when there are none
    return out
