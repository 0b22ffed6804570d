"""The `atlas-operator` command line (see shared/spec/cli.md).

Every command exits 0 on success and non-zero with a one-line error on stderr.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from atlas_operator import __version__

# The engine is imported inside the commands that use it, so that `version` and
# `crds` work without the database client libraries; the CRDs (pydantic models, about
# 0.25 s to import) only by `crds`, so that a one-shot schema verb starts fast.


class CommandError(Exception):
    """A failure to report as one line on stderr."""


def cmd_version(args: argparse.Namespace) -> None:
    print(f"atlas-operator version v{__version__}")


def cmd_crds(args: argparse.Namespace) -> None:
    from atlas_operator.operator.crd import render_crds, write_crds

    if args.output_dir:
        for path in write_crds(Path(args.output_dir)):
            print(path)
    else:
        sys.stdout.write(render_crds())


def add_reconcile_command(verbs: Any) -> None:
    """Declared here, run from cli_reconcile: that module loads the operator's resource
    models and reconcilers (0.15 s), which no other verb needs at start-up."""
    reconcile = verbs.add_parser(
        "reconcile", help="reconcile resources from files, without a cluster (local mode)"
    )
    reconcile.add_argument("-f", "--file", action="append", required=True, metavar="FILE")
    reconcile.add_argument(
        "--state-dir",
        metavar="DIR",
        help="keep AtlasMigration directory states here between runs (enables migrate down)",
    )
    reconcile.set_defaults(run=run_reconcile)


def run_reconcile(args: argparse.Namespace) -> None:
    from atlas_operator.cli_reconcile import cmd_reconcile

    cmd_reconcile(args)


def build_parser() -> argparse.ArgumentParser:
    from atlas_operator.cli_migrate import add_migrate_commands
    from atlas_operator.cli_run import add_run_command
    from atlas_operator.cli_schema import add_schema_commands

    parser = argparse.ArgumentParser(
        prog="atlas-operator",
        description="Manage database schemas the Atlas way, from Kubernetes or the command line.",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND", required=True)

    version = verbs.add_parser("version", help="print the version")
    version.set_defaults(run=cmd_version)

    crds = verbs.add_parser("crds", help="print the CustomResourceDefinitions as YAML")
    crds.add_argument(
        "--output-dir", metavar="DIR", help="write one file per CRD into DIR instead of stdout"
    )
    crds.set_defaults(run=cmd_crds)

    add_schema_commands(verbs)
    add_migrate_commands(verbs)
    add_reconcile_command(verbs)
    add_run_command(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], None] = args.run
    try:
        run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as err:
        if not is_input_error(err):
            report_internal_error(err)
            return 2
        print(f"atlas-operator: {one_line(str(err))}", file=sys.stderr)
        return 1
    return 0


def is_input_error(err: Exception) -> bool:
    """Errors that are the input's (or the database's) fault, reported as one line. Every
    module raises one of these for bad input; anything else is a bug in this program."""
    from atlas_operator.engine.drivers.base import EngineError
    from atlas_operator.operator.inputs import InputError

    return isinstance(err, CommandError | ValueError | OSError | EngineError | InputError)


def one_line(text: str) -> str:
    """A message on one line: database errors and others may span several."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip()) or "failed"


def report_internal_error(err: Exception) -> None:
    """A bug, not bad input: say so on the first line, then give the traceback to report."""
    print(
        f"atlas-operator: internal error (a bug; please report it with the traceback below): "
        f"{type(err).__name__}: {one_line(str(err))}",
        file=sys.stderr,
    )
    traceback.print_exception(err, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
