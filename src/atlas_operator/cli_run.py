"""`atlas-operator run`: the flags (upstream's cmd/main.go); the process itself is in
`operator/manager.py`, imported only when the command runs so that the other
commands start fast."""

from __future__ import annotations

import argparse
import os
from typing import Any

DEFAULT_LEASE_NAME = "5220c287.atlasgo.io"


def add_run_command(verbs: Any) -> None:
    run = verbs.add_parser("run", help="run the operator against the current cluster")
    run.add_argument("--namespace", default="", help="comma-separated namespaces to watch")
    run.add_argument("--label-selector", default="", help="only reconcile matching resources")
    run.add_argument("--leader-elect", action="store_true", help="hold a Lease while working")
    run.add_argument("--leader-election-id", default=DEFAULT_LEASE_NAME)
    run.add_argument("--leader-election-namespace", default="")
    run.add_argument("--metrics-bind-address", default=":8080", help='"0" disables')
    run.add_argument("--health-probe-bind-address", default=":8081", help='"0" disables')
    run.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    run.add_argument("--kubeconfig", default="", help="default: $KUBECONFIG or in-cluster")
    run.add_argument("--log-format", choices=("json", "text"), default="json")
    run.add_argument("--log-level", default="info")
    run.set_defaults(run=cmd_run)


def cmd_run(args: argparse.Namespace) -> None:
    from atlas_operator.operator.manager import cmd_run as run_operator

    run_operator(args)
