"""Prometheus metrics of the reconcilers, served on --metrics-bind-address (:8080)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECONCILES = Counter(
    "atlas_operator_reconcile_total",
    "Reconcile passes, by resource kind and the Ready reason they ended with.",
    ["kind", "reason"],
)
RECONCILE_ERRORS = Counter(
    "atlas_operator_reconcile_errors_total",
    "Reconcile passes that ended in a failure reason (or crashed), by kind and reason.",
    ["kind", "reason"],
)
RECONCILE_SECONDS = Histogram(
    "atlas_operator_reconcile_duration_seconds",
    "Time spent in one reconcile pass, by kind.",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
QUEUE_DEPTH = Gauge("atlas_operator_workqueue_depth", "Resources waiting to be reconciled.")
ACTIVE_WORKERS = Gauge("atlas_operator_active_workers", "Reconciles running right now.")
LEADER = Gauge("atlas_operator_leader", "1 while this replica holds the leader lease.")
