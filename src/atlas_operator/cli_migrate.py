"""`atlas-operator migrate hash|validate|status|apply|down|lint`, mirroring Atlas's verbs
and output formats (reference §2.7)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from atlas_operator.engine.migrate.dir import SUM_FILE, MigrateError, MigrationDir
from atlas_operator.engine.migrate.executor import (
    ApplyResult,
    MigrateOptions,
    Status,
    migrate_apply,
    migrate_status,
)
from atlas_operator.engine.urls import DatabaseURL, parse_url


def add_migrate_commands(verbs: Any) -> None:
    migrate = verbs.add_parser("migrate", help="versioned migrations (Atlas directories)")
    actions = migrate.add_subparsers(dest="action", metavar="ACTION", required=True)

    hash_ = actions.add_parser("hash", help="write atlas.sum for a migration directory")
    hash_.add_argument("--dir", required=True, help="file://DIR")
    hash_.set_defaults(run=cmd_hash)

    validate = actions.add_parser("validate", help="check a directory against its atlas.sum")
    validate.add_argument("--dir", required=True)
    validate.set_defaults(run=cmd_validate)

    status = actions.add_parser("status", help="applied and pending migrations of a database")
    status.add_argument("-u", "--url", required=True)
    status.add_argument("--dir", required=True)
    status.add_argument("--revisions-schema")
    status.add_argument("--format", choices=["text", "json"], default="text")
    status.set_defaults(run=cmd_status)

    apply = actions.add_parser("apply", help="apply pending migration files")
    apply.add_argument("amount", nargs="?", type=int, default=0, help="apply at most N files")
    apply.add_argument("-u", "--url", required=True)
    apply.add_argument("--dir", required=True)
    apply.add_argument("--dev-url", help="accepted for compatibility; apply does not need it")
    apply.add_argument("--baseline", metavar="VERSION")
    apply.add_argument(
        "--allow-dirty",
        action="store_true",
        help="allow starting on a database that is not clean (without a baseline)",
    )
    apply.add_argument(
        "--exec-order", choices=["linear", "linear-skip", "non-linear"], default="linear"
    )
    apply.add_argument("--tx-mode", choices=["file", "all", "none"], default="file")
    apply.add_argument("--revisions-schema")
    apply.add_argument("--lock-timeout", type=float, default=10.0, metavar="SECONDS")
    apply.add_argument(
        "--interrupted",
        choices=["ran", "rerun"],
        help="settle a statement an earlier run left interrupted when the database cannot "
        "tell whether it took effect: it ran, or it must run again",
    )
    apply.add_argument("--dry-run", action="store_true")
    apply.add_argument("--format", choices=["text", "json"], default="text")
    apply.set_defaults(run=cmd_apply)

    down = actions.add_parser("down", help="revert applied migrations to an earlier version")
    down.add_argument("-u", "--url", required=True)
    down.add_argument("--dir", required=True, help="the directory the revisions came from")
    down.add_argument("--to-version", required=True, metavar="V")
    down.add_argument("--dev-url")
    down.add_argument("--revisions-schema")
    down.add_argument("--dry-run", action="store_true")
    down.set_defaults(run=cmd_down)

    lint = actions.add_parser("lint", help="analyze new migration files on the dev database")
    lint.add_argument("--dir", required=True)
    lint.add_argument("--dev-url", required=True)
    lint.add_argument("--latest", type=int, default=1, metavar="N")
    lint.add_argument("--format", choices=["text", "json"], default="text")
    lint.set_defaults(run=cmd_lint)


def directory_path(text: str) -> Path:
    if text.startswith("file://"):
        text = text.removeprefix("file://")
    elif "://" in text:
        raise MigrateError(f"unsupported migration directory {text!r}: only file:// is supported")
    return Path(text)


def load_dir(text: str) -> MigrationDir:
    return MigrationDir.from_path(directory_path(text))


def cmd_hash(args: argparse.Namespace) -> None:
    path = directory_path(args.dir)
    (path / SUM_FILE).write_bytes(load_dir(args.dir).computed_sum().marshal())


def cmd_validate(args: argparse.Namespace) -> None:
    load_dir(args.dir).validate()


def options_from(args: argparse.Namespace) -> MigrateOptions:
    return MigrateOptions(
        baseline=getattr(args, "baseline", None),
        allow_dirty=getattr(args, "allow_dirty", False),
        exec_order=getattr(args, "exec_order", "linear"),
        tx_mode=getattr(args, "tx_mode", "file"),
        revisions_schema=args.revisions_schema,
        amount=getattr(args, "amount", 0),
        dry_run=getattr(args, "dry_run", False),
        lock_timeout=getattr(args, "lock_timeout", 10.0),
        interrupted=getattr(args, "interrupted", None) or "check",
    )


def cmd_status(args: argparse.Namespace) -> None:
    url = parse_url(args.url)
    status = migrate_status(url, load_dir(args.dir), options_from(args))
    if args.format == "json":
        print(json.dumps(status_json(status, url, args.dir), indent=2))
    else:
        sys.stdout.write(status_text(status))


def status_text(status: Status) -> str:
    last = status.applied[-1] if status.applied else None
    partial = last is not None and last.is_partial and not last.type & 4
    current = status.current + (f" ({last.applied} statements applied)" if partial and last else "")
    following = status.next
    if partial and last:
        following += f" ({last.total - last.applied} statements left)"
    executed = str(len(status.applied)) + (" (last one partially)" if partial else "")
    pending = str(len(status.pending) + len(status.out_of_order))
    if status.out_of_order:
        pending += f" ({len(status.out_of_order)} out of order)"
    lines = [
        f"Migration Status: {status.status}",
        f"  -- Current Version: {current}",
        f"  -- Next Version:    {following}",
        f"  -- Executed Files:  {executed}",
        f"  -- Pending Files:   {pending}",
    ]
    error = status.last_error
    if error is not None:
        lines += [
            "",
            "Last migration attempt had errors:",
            f"  -- SQL:   {' '.join((error.error_stmt or '').split())}",
            f"  -- ERROR: {' '.join((error.error or '').split())}",
        ]
    return "\n".join(lines) + "\n"


def status_json(status: Status, url: DatabaseURL, directory: str) -> dict[str, Any]:
    error = status.last_error
    return {
        "Env": {"Driver": url.atlas_driver, "URL": url.redacted(), "Dir": directory},
        "Available": [file_json(f) for f in status.available],
        "OutOfOrder": [file_json(f) for f in status.out_of_order],
        "Pending": [file_json(f) for f in status.pending],
        "Applied": [
            {
                "Version": r.version,
                "Description": r.description,
                "Type": r.type_name,
                "Applied": r.applied,
                "Total": r.total,
                "ExecutedAt": r.executed_at.isoformat(),
                "ExecutionTime": r.execution_time,
                "Error": r.error or "",
                "ErrorStmt": r.error_stmt or "",
                "OperatorVersion": r.operator_version,
            }
            for r in status.applied
        ],
        "Current": status.applied[-1].version if status.applied else "",
        "Next": status.pending[0].version if status.pending else "",
        "Count": len(status.applied),
        "Total": len(status.available),
        "Status": status.status,
        "Error": error.error if error else "",
        "SQL": error.error_stmt if error else "",
    }


def file_json(f: Any) -> dict[str, str]:
    return {"Name": f.name, "Version": f.version, "Description": f.description}


def cmd_apply(args: argparse.Namespace) -> None:
    url = parse_url(args.url)
    result = migrate_apply(url, load_dir(args.dir), options_from(args))
    if args.format == "json":
        print(json.dumps(apply_json(result, url, args.dir), indent=2))
    else:
        sys.stdout.write(apply_text(result))
    if result.error:
        raise MigrateError(result.error)


def apply_text(result: ApplyResult) -> str:
    if not result.pending:
        return "No migration files to execute\n"
    since = f" from {result.current}" if result.current else ""
    out = [
        f"Migrating to version {result.target}{since} ({len(result.pending)} migrations in total):",
        "",
    ]
    statements = errors = 0
    for report in result.files:
        out.append(f"  -- migrating version {report.file.version}")
        out += [f"    -> {text}" for text in report.applied]
        statements += len(report.applied)
        if report.error:
            errors += 1
            out.append(f"    -> {report.error_stmt}")
            out.append(f"    {report.error}")
        else:
            out.append(f"  -- ok ({report.seconds * 1000:.3f}ms)")
        out.append("")
    files_ok = len(result.files) - errors
    out += [
        "  -------------------------",
        f"  -- {sum(r.seconds for r in result.files) * 1000:.3f}ms",
        f"  -- {files_ok} migration{'s' if files_ok != 1 else ''}"
        + (f" ok, {errors} with errors" if errors else ""),
        f"  -- {statements} sql statement{'s' if statements != 1 else ''}"
        + (f" ok, {errors} with errors" if errors else ""),
    ]
    return "\n".join(out) + "\n"


def apply_json(result: ApplyResult, url: DatabaseURL, directory: str) -> dict[str, Any]:
    return {
        "Driver": url.atlas_driver,
        "URL": url.redacted(),
        "Dir": directory,
        "Pending": [file_json(f) for f in result.pending],
        "Applied": [
            {
                **file_json(r.file),
                "Applied": r.applied,
                "Error": {"Stmt": r.error_stmt, "Text": r.error} if r.error else None,
            }
            for r in result.files
        ],
        "Current": result.current,
        "Target": result.target,
        "Error": result.error or "",
        "Message": result.message if not result.error else "",
    }


def cmd_down(args: argparse.Namespace) -> None:
    from atlas_operator.engine.migrate.down import migrate_down
    from atlas_operator.engine.states import default_dev_url

    url = parse_url(args.url)
    dev_url = parse_url(args.dev_url) if args.dev_url else default_dev_url(url)
    result = migrate_down(
        url, load_dir(args.dir), args.to_version, dev_url, options_from(args), dry_run=args.dry_run
    )
    if not result.planned and not result.reverted:
        print(f"No migrations to revert: the database is at version {result.current or 'none'}")
        return
    for statement in result.planned:
        print(f"  -> {statement}")
    if result.error:
        raise MigrateError(result.error)
    if not args.dry_run:
        print(f"Reverted {', '.join(result.reverted)}; current version is {args.to_version}")


def cmd_lint(args: argparse.Namespace) -> None:
    from atlas_operator.engine.migrate.lint import migrate_lint

    report = migrate_lint(load_dir(args.dir), parse_url(args.dev_url), args.latest)
    if args.format == "json":
        print(json.dumps(lint_json(report), indent=2))
    else:
        sys.stdout.write(lint_text(report))
    if report.failed:
        raise MigrateError(
            "destructive changes detected" if report.errors else "migration files failed to run"
        )


def lint_text(report: Any) -> str:
    out = []
    for f in report.files:
        out.append(f"Analyzing changes from {f.file.name}:")
        if f.error:
            out.append(f"  -- error: {f.error}")
        for d in f.diagnostics:
            out.append(f"  -- L{line_of(f.file.text, d.position)}: {d.code}: {d.text}")
            out.append(f"     {' '.join(d.statement.split())}")
        if not f.error and not f.diagnostics:
            out.append("  -- no diagnostics found")
        out.append("")
    return "\n".join(out)


def line_of(text: str, position: int) -> int:
    """The 1-based line of an offset into a file, as Atlas's `FileReport.Line` counts it."""
    return text.count("\n", 0, position) + 1


def lint_json(report: Any) -> dict[str, Any]:
    return {
        "Files": [
            {
                "Name": f.file.name,
                "Error": f.error or "",
                "Reports": [
                    {
                        "Code": d.code,
                        "Analyzer": d.analyzer,
                        "Text": d.text,
                        "Pos": d.position,
                        "Statement": d.statement,
                    }
                    for d in f.diagnostics
                ],
            }
            for f in report.files
        ]
    }
