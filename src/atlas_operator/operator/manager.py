"""`atlas-operator run`: the operator process (upstream's cmd/main.go).

Order of start: settings and logging; the engine's drivers are checked; health and
metrics endpoints come up (they answer while a standby waits for the Lease); with
--leader-elect the Lease is acquired; then kopf's watches feed the controllers and the
version check runs beside them. Losing the Lease ends the process, as upstream.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import kopf
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from atlas_operator import __version__
from atlas_operator.engine.statecache import configure as configure_state_cache
from atlas_operator.engine.statecache import disabled_by_env
from atlas_operator.operator.controller import KINDS, Controller
from atlas_operator.operator.kube import KubeApi
from atlas_operator.operator.leader import LeaderElector
from atlas_operator.operator.logs import configure_logging
from atlas_operator.operator.resources import GROUP, VERSION
from atlas_operator.operator.selector import LabelSelector, parse_selector
from atlas_operator.operator.settings import OperatorSettings, SettingsError
from atlas_operator.operator.vercheck import run_version_check
from atlas_operator.operator.workqueue import WorkQueue

log = logging.getLogger("atlas_operator.manager")

SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def cmd_run(args: argparse.Namespace) -> None:
    configure_logging(args.log_format, args.log_level)
    try:
        settings = OperatorSettings.from_env(os.environ)
        selector = parse_selector(args.label_selector)
    except (SettingsError, ValueError) as err:
        log.error("invalid configuration", extra={"err": str(err)})
        sys.exit(1)
    configure_desired_cache(os.environ, settings)
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    log_engine_drivers()
    namespaces = [n.strip() for n in args.namespace.split(",") if n.strip()]
    code = 0
    try:
        asyncio.run(serve(args, settings, selector, namespaces))
    except LeadershipLostError:
        code = 1
    except Exception as err:
        log.error("operator failed", extra={"err": str(err)})
        code = 1
    # A reconcile still running in a worker thread is resumable (the migrate executor
    # and the schema apply are), so the process does not wait for it.
    logging.shutdown()
    os._exit(code)


def configure_desired_cache(env: Mapping[str, str], settings: OperatorSettings) -> None:
    """Normalised desired states on disk (engine/statecache.py) when DATA_DIR is set: the
    chart sets it where it persists the directory, so they survive restarts. Without it,
    the in-memory cache alone (a default /tmp/data may be shared or wiped)."""
    if env.get("DATA_DIR") and not disabled_by_env(env):
        configure_state_cache(settings.data_dir / "desired-cache")
    else:
        configure_state_cache(None)


class LeadershipLostError(Exception):
    pass


def log_engine_drivers() -> None:
    """Upstream runs `atlas version` at start; we check the engine's drivers load."""
    import sqlite3

    import psycopg
    import pymysql

    log.info(
        "detected engine drivers",
        extra={
            "version": __version__,
            "psycopg": psycopg.__version__,
            "pymysql": pymysql.__version__,
            "sqlite": sqlite3.sqlite_version,
        },
    )


async def serve(
    args: argparse.Namespace,
    settings: OperatorSettings,
    selector: LabelSelector,
    namespaces: list[str],
) -> None:
    runners = [
        await start_http(args.health_probe_bind_address, health_routes()),
        await start_http(args.metrics_bind_address, metrics_routes()),
    ]
    api = KubeApi()
    elector = None
    stop = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []
    try:
        if args.leader_elect:
            elector = LeaderElector(
                api,
                args.leader_election_namespace or own_namespace(),
                args.leader_election_id,
                f"{socket.gethostname()}_{uuid.uuid4()}",
            )
            await elector.acquire()
        controller = Controller(api, settings, selector, max(1, args.workers))
        tasks.append(asyncio.create_task(controller.run(WorkQueue())))
        tasks.append(
            asyncio.create_task(run_version_check(os.environ, __version__, log, stop=stop))
        )
        operator = asyncio.create_task(run_kopf(controller, namespaces))
        watched: list[asyncio.Task[Any]] = [operator]
        if elector is not None:
            watched.append(asyncio.create_task(elector.keep_renewing()))
        done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        if operator not in done:
            raise LeadershipLostError
        operator.result()  # kopf's own failure (no credentials, say) ends the process
        log.info("operator stopped")
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        if elector is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(elector.release)
        for runner in runners:
            if runner is not None:
                await runner.cleanup()


def own_namespace() -> str:
    """The pod's namespace in a cluster, `default` outside one (as client-go)."""
    try:
        with open(SERVICE_ACCOUNT_NAMESPACE) as handle:
            return handle.read().strip() or "default"
    except OSError:
        return os.environ.get("POD_NAMESPACE", "default")


async def run_kopf(controller: Controller, namespaces: Sequence[str]) -> None:
    """kopf watches our two kinds and every Secret and ConfigMap in scope; its handlers
    only feed the controller's queue."""
    registry = kopf.OperatorRegistry()
    register_login(registry)
    for kind_name in KINDS:
        plural = kind_name.lower() + "s"
        register_resource_handler(registry, controller, kind_name, plural)
    for obj_kind, plural in (("Secret", "secrets"), ("ConfigMap", "configmaps")):
        register_object_handler(registry, controller, obj_kind, plural)
    settings = kopf.OperatorSettings()
    settings.peering.standalone = True  # leadership is our Lease, not kopf's peering
    settings.posting.enabled = False  # events are ours, recorded by the controllers
    settings.scanning.disabled = True  # no CRD/namespace listing: upstream's RBAC only
    settings.watching.server_timeout = 300
    await kopf.operator(
        registry=registry,
        settings=settings,
        clusterwide=not namespaces,
        namespaces=list(namespaces),
        standalone=True,
    )


def register_login(registry: kopf.OperatorRegistry) -> None:
    """The same credentials as our own client: $KUBECONFIG, else the pod's service
    account, else ~/.kube/config."""

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        if os.environ.get("KUBECONFIG"):
            return kopf.login_with_kubeconfig(**kwargs)
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


def register_resource_handler(
    registry: kopf.OperatorRegistry, controller: Controller, kind: str, plural: str
) -> None:
    @kopf.on.event(GROUP, VERSION, plural, registry=registry)
    async def on_resource(type: str | None, body: kopf.Body, **_: Any) -> None:
        controller.on_resource_event(kind, type, to_dict(body))


def register_object_handler(
    registry: kopf.OperatorRegistry, controller: Controller, kind: str, plural: str
) -> None:
    @kopf.on.event("", "v1", plural, registry=registry)
    async def on_object(type: str | None, body: kopf.Body, **_: Any) -> None:
        controller.on_object_event(kind, type, to_dict(body))


def to_dict(body: kopf.Body) -> dict[str, Any]:
    return {k: body[k] for k in body}


# --- health and metrics endpoints -----------------------------------------------------


def parse_bind_address(address: str) -> tuple[str, int] | None:
    """`:8080`, `127.0.0.1:8080`; `0` (or empty) disables the endpoint, as upstream."""
    if address in ("", "0"):
        return None
    host, _, port = address.rpartition(":")
    return (host.strip("[]") or "0.0.0.0", int(port))


async def start_http(address: str, routes: list[web.RouteDef]) -> web.AppRunner | None:
    bind = parse_bind_address(address)
    if bind is None:
        return None
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, bind[0], bind[1]).start()
    log.info("serving", extra={"address": f"{bind[0]}:{bind[1]}"})
    return runner


def health_routes() -> list[web.RouteDef]:
    async def ping(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    return [web.get("/healthz", ping), web.get("/readyz", ping)]


def metrics_routes() -> list[web.RouteDef]:
    async def scrape(_: web.Request) -> web.Response:
        response = web.Response(body=generate_latest())
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    return [web.get("/metrics", scrape)]
