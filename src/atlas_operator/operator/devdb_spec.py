"""The dev-database Deployment as upstream builds it (§2.5, §3): per-driver images,
ports, environment, startup probes, security contexts, labels and the
`atlasgo.io/conntmpl` annotation. Pure functions: no client, no network.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

CONNTMPL_ANNOTATION = "atlasgo.io/conntmpl"
SPEC_HASH_ANNOTATION = "atlasgo.io/devdb-spec-hash"
"""Ours: lets the operator notice a changed devDB.spec (DECISIONS.md §3.4)."""
ENGINE_LABEL = "atlasgo.io/engine"
INSTANCE_LABEL = "app.kubernetes.io/instance"

DRIVER_BY_SCHEME = {
    "sqlite": "sqlite",
    "libsql": "sqlite",
    "mysql": "mysql",
    "mariadb": "mariadb",
    "maria": "mariadb",
    "postgres": "postgres",
    "postgresql": "postgres",
    "ysql": "ysql",
    "sqlserver": "sqlserver",
    "azuresql": "sqlserver",
    "mssql": "sqlserver",
    "clickhouse": "clickhouse",
    "redshift": "redshift",
    "databricks": "databricks",
    "snowflake": "snowflake",
    "spanner": "spanner",
    "crdb": "crdb",
    "dsql": "dsql",
    "oracle": "oracle",
}


class UnsupportedDevDBDriverError(ValueError):
    """No automatic dev database for this driver: the resource must name one."""

    def __init__(self, driver: str) -> None:
        super().__init__(
            f'devdb: unsupported driver "{driver}". You need to provide the devURL on the '
            "resource: https://atlasgo.io/integrations/kubernetes/operator#devurl"
        )


def driver_of_scheme(scheme: str) -> str:
    """Upstream's DriverBySchema: lower-cased, `+modifier` dropped (`mysql+unix`)."""
    base = scheme.lower().split("+", 1)[0]
    if base not in DRIVER_BY_SCHEME:
        raise ValueError(f'unknown driver for schema "{scheme}"')
    return DRIVER_BY_SCHEME[base]


def dev_db_deployment_name(resource_name: str) -> str:
    return f"{resource_name}-atlas-dev-db"


def dev_db_labels(driver: str, deployment_name: str) -> dict[str, str]:
    return {
        ENGINE_LABEL: driver,
        INSTANCE_LABEL: deployment_name,
        "app.kubernetes.io/name": "atlas-dev-db",
        "app.kubernetes.io/part-of": "atlas-operator",
        "app.kubernetes.io/created-by": "controller-manager",
    }


@dataclass
class Engine:
    """One driver's dev-database container and connection template."""

    image: str
    port: int
    probe: list[str]
    run_as_user: int
    user: str = ""
    password: str = ""
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)
    env: list[tuple[str, str]] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    add_capabilities: list[str] = field(default_factory=list)
    run_as_non_root: bool = True
    data_volume: str = ""


def engine_for(driver: str, schema_bound: bool, env: Mapping[str, str]) -> Engine:
    if driver == "postgres":
        return Engine(
            "postgres:latest",
            5432,
            ["pg_isready"],
            999,
            "postgres",
            "pass",
            "postgres",
            pg_query(schema_bound),
            [
                ("POSTGRES_DB", "postgres"),
                ("POSTGRES_USER", "postgres"),
                ("POSTGRES_PASSWORD", "pass"),
            ],
        )
    if driver == "ysql":
        probe = "bin/ysqlsh -h \"$(hostname)\" -U yugabyte -d yugabyte -c 'SELECT 1'"
        return Engine(
            "yugabytedb/yugabyte:latest",
            5433,
            ["sh", "-ec", probe],
            0,
            "yugabyte",
            path="yugabyte",
            query=pg_query(schema_bound),
            env=[("HOME", "/tmp")],
            command=["bin/yugabyted", "start", "--background=false"],
            run_as_non_root=False,
        )
    if driver == "sqlserver":
        password = "P@ssw0rd0995"
        return Engine(
            "mcr.microsoft.com/mssql/server:2022-latest",
            1433,
            ["/opt/mssql-tools18/bin/sqlcmd", "-C", "-Q", "SELECT 1", "-U", "sa", "-P", password],
            10001,
            "sa",
            password,
            query={"database": "master"} | ({} if schema_bound else {"mode": "DATABASE"}),
            env=[
                ("MSSQL_SA_PASSWORD", password),
                ("MSSQL_PID", env.get("MSSQL_PID", "")),
                ("ACCEPT_EULA", env.get("MSSQL_ACCEPT_EULA", "")),
            ],
            add_capabilities=["NET_BIND_SERVICE", "SYS_PTRACE"],
        )
    if driver in ("mysql", "mariadb"):
        client, prefix = ("mysql", "MYSQL") if driver == "mysql" else ("mariadb", "MARIADB")
        extra = [(f"{prefix}_DATABASE", "dev")] if schema_bound else []
        return Engine(
            f"{driver}:latest",
            3306,
            [client, "-h", "127.0.0.1", "-e", "SELECT 1", "-u", "root", "-ppass"],
            1000 if driver == "mysql" else 999,
            "root",
            "pass",
            "dev" if schema_bound else "",
            env=[(f"{prefix}_ROOT_PASSWORD", "pass"), *extra],
        )
    if driver == "clickhouse":
        extra = [("CLICKHOUSE_DB", "dev")] if schema_bound else []
        return Engine(
            "clickhouse/clickhouse-server:latest",
            9000,
            ["clickhouse-client", "-q", "SELECT 1"],
            101,
            "root",
            "pass",
            "dev" if schema_bound else "",
            env=[("CLICKHOUSE_USER", "root"), ("CLICKHOUSE_PASSWORD", "pass"), *extra],
            add_capabilities=["SYS_NICE", "NET_ADMIN", "IPC_LOCK"],
        )
    if driver == "crdb":
        store = "/cockroach/cockroach-data"
        return Engine(
            "cockroachdb/cockroach:latest",
            26257,
            ["cockroach", "sql", "--insecure", "-e", "SELECT 1"],
            1000,
            "root",
            path="defaultdb",
            query=pg_query(schema_bound),
            args=["start-single-node", "--insecure", f"--certs-dir={store}", f"--store={store}"],
            data_volume=store,
        )
    raise UnsupportedDevDBDriverError(driver)


def pg_query(schema_bound: bool) -> dict[str, str]:
    return {"sslmode": "disable"} | ({"search_path": "public"} if schema_bound else {})


def automatic_dev_db_pod_spec(
    driver: str, schema_bound: bool, env: Mapping[str, str]
) -> tuple[dict[str, Any], str]:
    """Upstream's AutomaticDevDBSpec: the pod spec and the connection template."""
    engine = engine_for(driver, schema_bound, env)
    security: dict[str, Any] = {
        "runAsNonRoot": engine.run_as_non_root,
        "runAsUser": engine.run_as_user,
        "allowPrivilegeEscalation": False,
        "seccompProfile": {"type": "RuntimeDefault"},
        "capabilities": {"drop": ["ALL"]},
    }
    if engine.add_capabilities:
        security["capabilities"]["add"] = engine.add_capabilities
    container: dict[str, Any] = {
        "name": driver,
        "image": engine.image,
        "ports": [{"name": driver, "containerPort": engine.port}],
        "startupProbe": {
            "exec": {"command": engine.probe},
            "failureThreshold": 30,
            "periodSeconds": 10,
        },
        "securityContext": security,
    }
    if engine.env:
        container["env"] = [{"name": k, "value": v} for k, v in engine.env]
    if engine.command:
        container["command"] = engine.command
    if engine.args:
        container["args"] = engine.args
    spec: dict[str, Any] = {"containers": [container]}
    if engine.data_volume:
        container["volumeMounts"] = [{"name": "data", "mountPath": engine.data_volume}]
        spec["volumes"] = [{"name": "data", "emptyDir": {}}]
    return spec, connection_template(driver, engine)


def connection_template(driver: str, engine: Engine) -> str:
    userinfo = ""
    if engine.user:
        userinfo = quote(engine.user, safe="")
        if engine.password:
            userinfo += ":" + quote(engine.password, safe="")
        userinfo += "@"
    path = f"/{engine.path}" if engine.path else ""
    query = f"?{urlencode(sorted(engine.query.items()))}" if engine.query else ""
    return f"{driver}://{userinfo}localhost:{engine.port}{path}{query}"


def conntmpl_from_dev_url(dev_url: str) -> str:
    """A custom devDB pod is reached through `devURL`, whose host the pod IP replaces."""
    return dev_url


def connection_url(conntmpl: str, pod_ip: str) -> str:
    """The template with its host swapped for the pod's IP, the port kept."""
    parts = urlsplit(conntmpl)
    host = f"[{pod_ip}]" if ":" in pod_ip else pod_ip
    userinfo, _, _ = parts.netloc.rpartition("@")
    netloc = (f"{userinfo}@" if userinfo else "") + host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def pod_spec_hash(pod_spec: Mapping[str, Any]) -> str:
    canonical = json.dumps(pod_spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def dev_db_deployment(
    name: str,
    namespace: str,
    driver: str,
    pod_spec: dict[str, Any],
    conntmpl: str,
    owner: Mapping[str, Any],
) -> dict[str, Any]:
    """The apps/v1 Deployment (one replica, no Service), owned by the resource."""
    labels = dev_db_labels(driver, name)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": {
                SPEC_HASH_ANNOTATION: pod_spec_hash({"spec": pod_spec, "conntmpl": conntmpl})
            },
            "ownerReferences": [dict(owner)],
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": {CONNTMPL_ANNOTATION: conntmpl}},
                "spec": pod_spec,
            },
        },
    }
