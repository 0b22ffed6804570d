"""The dev-database Deployment as upstream builds it (upstream-operator.md §2.5, §3).

Everything here is a pure function of its arguments (no client, no network, no process
environment), so that the manifests can be checked field by field against upstream's
`internal/controller/devdb.go` and `api/v1alpha1/target.go`, and so that the operator can
compare the Deployment it wants with the one it finds.

Where this module differs from upstream, on purpose:

- the Deployment carries `atlasgo.io/devdb-spec-hash` (DECISIONS.md §3.4), so a changed
  `devDB.spec` (or `devURL`) is noticed and the Deployment updated; upstream never
  updates it. The Deployment object also carries the selector labels (upstream sets them
  only on the selector and the pod template), so `kubectl get deploy -l …` finds it;
- an IPv6 pod IP is bracketed in the connection URL (upstream writes `fd00::7:5432`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, quote, unquote, urlencode

from atlas_operator.engine.urls import URLError

CONNTMPL_ANNOTATION: Final = "atlasgo.io/conntmpl"
"""Pod annotation holding the dev URL with host `localhost:<port>`; the pod IP replaces it."""
SPEC_HASH_ANNOTATION: Final = "atlasgo.io/devdb-spec-hash"
"""Ours: lets the operator notice a changed devDB.spec (DECISIONS.md §3.4)."""
ENGINE_LABEL: Final = "atlasgo.io/engine"
INSTANCE_LABEL: Final = "app.kubernetes.io/instance"
SQLITE_DEV_URL: Final = "sqlite://db?mode=memory"
"""SQLite needs no pod: upstream's dev URL for it."""

DRIVER_BY_SCHEME: Final[Mapping[str, str]] = {
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
"""Upstream's DriverBySchema. Driver names are upstream's (`mariadb` is its own driver),
not the engine's (`urls.SUPPORTED_SCHEMES` files MariaDB as a MySQL flavor), because they
end up in the `atlasgo.io/engine` label and the container name."""

_PG_LIKE: Final = frozenset({"postgres", "redshift", "crdb", "dsql", "ysql"})
_MYSQL_LIKE: Final = frozenset({"mysql", "mariadb", "clickhouse"})
_MODE_BOUND: Final = frozenset({"sqlserver", "oracle"})
_USERINFO_SAFE: Final = "$&+,;="
"""What Go's url package leaves unescaped in a user name or password."""
_PROBE_FAILURE_THRESHOLD: Final = 30
_PROBE_PERIOD_SECONDS: Final = 10


class UnsupportedDevDBDriverError(ValueError):
    """No automatic dev database for this driver: the resource must name one."""

    def __init__(self, driver: str) -> None:
        self.driver = driver
        super().__init__(
            f'devdb: unsupported driver "{driver}". You need to provide the devURL on the '
            "resource: https://atlasgo.io/integrations/kubernetes/operator#devurl"
        )


def driver_of_scheme(scheme: str) -> str:
    """Upstream's DriverBySchema: lower-cased, `+modifier` dropped (`mysql+unix`).

    The error names the scheme as written, as upstream's does.
    """
    base = scheme.split("+", 1)[0].lower()
    driver = DRIVER_BY_SCHEME.get(base)
    if driver is None:
        raise ValueError(f'unknown driver for schema "{scheme}"')
    return driver


def is_schema_bound(driver: str, url_text: str) -> bool:
    """Upstream's Driver.SchemaBound: whether the target URL is scoped to one schema.

    It decides the shape of the automatic dev database (a schema-bound target gets a
    schema-bound dev URL). Read literally, as upstream's Go does: the MySQL-like rule is
    "the path is not empty", so `mysql://h/` counts as bound (the engine's
    `DatabaseURL.is_schema_bound` says realm scope there), and the Snowflake rule counts
    the pieces of the path split on `/`, so `/DB` (two pieces) is bound and `/DB/SCHEMA`
    is not.
    """
    path, query = _path_and_query(url_text)
    if driver == "sqlite":
        return True
    if driver in _PG_LIKE:
        return query.get("search_path", "") != ""
    if driver in _MYSQL_LIKE:
        return path != ""
    if driver in _MODE_BOUND:
        mode = query.get("mode", "")
        return mode == "" or mode.lower() == "schema"
    if driver == "snowflake":
        return len(path.split("/")) == 2
    if driver == "databricks":
        return query.get("schema", "") != ""
    raise ValueError(f'unsupported driver "{driver}"')


def _path_and_query(url_text: str) -> tuple[str, dict[str, str]]:
    """The decoded path and the first value of each query key, as Go's `url.URL` sees them."""
    rest = url_text.strip().split("#", 1)[0]
    rest, _, raw_query = rest.partition("?")
    _, sep, after_scheme = rest.partition("://")
    path = ""
    if sep:
        slash = after_scheme.find("/")
        path = after_scheme[slash:] if slash >= 0 else ""
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query.setdefault(key, value)
    return unquote(path), query


def dev_db_deployment_name(resource_name: str) -> str:
    """One dev database per resource, named after it (upstream's nameDevDB)."""
    return f"{resource_name}-atlas-dev-db"


def dev_db_labels(driver: str, deployment_name: str) -> dict[str, str]:
    """Selector and pod labels; the operator finds the dev pods by engine and instance."""
    return {
        ENGINE_LABEL: driver,
        INSTANCE_LABEL: deployment_name,
        "app.kubernetes.io/name": "atlas-dev-db",
        "app.kubernetes.io/part-of": "atlas-operator",
        "app.kubernetes.io/created-by": "controller-manager",
    }


@dataclass(frozen=True)
class DevDatabase:
    """One driver's automatic dev database: its container, and how to log in to it."""

    image: str
    port: int
    probe: tuple[str, ...]
    run_as_user: int
    user: str
    password: str = ""
    path: str = ""
    query: Mapping[str, str] = field(default_factory=dict)
    env: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    add_capabilities: tuple[str, ...] = ()
    run_as_non_root: bool = True
    data_mount: str = ""
    """Where an emptyDir volume named `data` is mounted ("" for none)."""


def _pg_query(schema_bound: bool) -> dict[str, str]:
    """PostgreSQL-like dev URLs: no TLS; `search_path=public` when the target is bound."""
    return {"sslmode": "disable"} | ({"search_path": "public"} if schema_bound else {})


def _postgres(schema_bound: bool, env: Mapping[str, str]) -> DevDatabase:
    return DevDatabase(
        image="postgres:latest",
        port=5432,
        probe=("pg_isready",),
        run_as_user=999,
        user="postgres",
        password="pass",
        path="postgres",
        query=_pg_query(schema_bound),
        env=(
            ("POSTGRES_DB", "postgres"),
            ("POSTGRES_USER", "postgres"),
            ("POSTGRES_PASSWORD", "pass"),
        ),
    )


def _ysql(schema_bound: bool, env: Mapping[str, str]) -> DevDatabase:
    """YugabyteDB runs as root (upstream narrows the security context only this far)."""
    probe = "bin/ysqlsh -h \"$(hostname)\" -U yugabyte -d yugabyte -c 'SELECT 1'"
    return DevDatabase(
        image="yugabytedb/yugabyte:latest",
        port=5433,
        probe=("sh", "-ec", probe),
        run_as_user=0,
        user="yugabyte",
        path="yugabyte",
        query=_pg_query(schema_bound),
        env=(("HOME", "/tmp"),),
        command=("bin/yugabyted", "start", "--background=false"),
        run_as_non_root=False,
    )


def _sqlserver(schema_bound: bool, env: Mapping[str, str]) -> DevDatabase:
    """The licence settings come from the operator's own environment, as upstream's do."""
    password = "P@ssw0rd0995"
    return DevDatabase(
        image="mcr.microsoft.com/mssql/server:2022-latest",
        port=1433,
        probe=("/opt/mssql-tools18/bin/sqlcmd", "-C", "-Q", "SELECT 1", "-U", "sa", "-P", password),
        run_as_user=10001,
        user="sa",
        password=password,
        query={"database": "master"} | ({} if schema_bound else {"mode": "DATABASE"}),
        env=(
            ("MSSQL_SA_PASSWORD", password),
            ("MSSQL_PID", env.get("MSSQL_PID", "")),
            ("ACCEPT_EULA", env.get("MSSQL_ACCEPT_EULA", "")),
        ),
        # Binding MSDTC's port 135 as non-root, and writing dumps.
        add_capabilities=("NET_BIND_SERVICE", "SYS_PTRACE"),
    )


def _mysql_like(driver: str, run_as_user: int) -> Callable[[bool, Mapping[str, str]], DevDatabase]:
    """MySQL and MariaDB differ only in image, client, variable prefix and uid."""
    prefix = driver.upper()

    def build(schema_bound: bool, env: Mapping[str, str]) -> DevDatabase:
        database = ((f"{prefix}_DATABASE", "dev"),) if schema_bound else ()
        return DevDatabase(
            image=f"{driver}:latest",
            port=3306,
            probe=(driver, "-h", "127.0.0.1", "-e", "SELECT 1", "-u", "root", "-ppass"),
            run_as_user=run_as_user,
            user="root",
            password="pass",
            path="dev" if schema_bound else "",
            env=((f"{prefix}_ROOT_PASSWORD", "pass"), *database),
        )

    return build


def _clickhouse(schema_bound: bool, env: Mapping[str, str]) -> DevDatabase:
    return DevDatabase(
        image="clickhouse/clickhouse-server:latest",
        port=9000,
        probe=("clickhouse-client", "-q", "SELECT 1"),
        run_as_user=101,
        user="root",
        password="pass",
        path="dev" if schema_bound else "",
        env=(
            ("CLICKHOUSE_USER", "root"),
            ("CLICKHOUSE_PASSWORD", "pass"),
            *((("CLICKHOUSE_DB", "dev"),) if schema_bound else ()),
        ),
        add_capabilities=("SYS_NICE", "NET_ADMIN", "IPC_LOCK"),
    )


def _crdb(schema_bound: bool, env: Mapping[str, str]) -> DevDatabase:
    """CockroachDB stores its data and (absent) certificates on an emptyDir."""
    store = "/cockroach/cockroach-data"
    return DevDatabase(
        image="cockroachdb/cockroach:latest",
        port=26257,
        probe=("cockroach", "sql", "--insecure", "-e", "SELECT 1"),
        run_as_user=1000,
        user="root",
        path="defaultdb",
        query=_pg_query(schema_bound),
        args=("start-single-node", "--insecure", f"--certs-dir={store}", f"--store={store}"),
        data_mount=store,
    )


_DEV_DATABASES: Final[Mapping[str, Callable[[bool, Mapping[str, str]], DevDatabase]]] = {
    "postgres": _postgres,
    "ysql": _ysql,
    "sqlserver": _sqlserver,
    "mysql": _mysql_like("mysql", 1000),
    "mariadb": _mysql_like("mariadb", 999),
    "clickhouse": _clickhouse,
    "crdb": _crdb,
}
AUTOMATIC_DEV_DB_DRIVERS: Final = frozenset(_DEV_DATABASES)
"""Drivers with an automatic dev-database pod (SQLite needs none: `SQLITE_DEV_URL`)."""


def dev_database_for(driver: str, schema_bound: bool, env: Mapping[str, str]) -> DevDatabase:
    """The automatic dev database of `driver`; `env` is the operator's environment."""
    build = _DEV_DATABASES.get(driver)
    if build is None:
        raise UnsupportedDevDBDriverError(driver)
    return build(schema_bound, env)


def automatic_dev_db_pod_spec(
    driver: str, schema_bound: bool, env: Mapping[str, str]
) -> tuple[dict[str, Any], str]:
    """Upstream's AutomaticDevDBSpec: the pod spec (Kubernetes JSON) and the connection
    template, whose host `localhost:<port>` the ready pod's IP replaces later."""
    database = dev_database_for(driver, schema_bound, env)
    spec: dict[str, Any] = {"containers": [_container(driver, database)]}
    if database.data_mount:
        spec["volumes"] = [{"name": "data", "emptyDir": {}}]
    return spec, connection_template(driver, database)


def _container(driver: str, database: DevDatabase) -> dict[str, Any]:
    """The single container, named after the driver; the port carries the same name."""
    container: dict[str, Any] = {"name": driver, "image": database.image}
    if database.command:
        container["command"] = list(database.command)
    if database.args:
        container["args"] = list(database.args)
    container["ports"] = [{"name": driver, "containerPort": database.port}]
    if database.env:
        container["env"] = [_env_var(name, value) for name, value in database.env]
    if database.data_mount:
        container["volumeMounts"] = [{"name": "data", "mountPath": database.data_mount}]
    container["startupProbe"] = {
        "exec": {"command": list(database.probe)},
        "failureThreshold": _PROBE_FAILURE_THRESHOLD,
        "periodSeconds": _PROBE_PERIOD_SECONDS,
    }
    container["securityContext"] = _security_context(database)
    return container


def _env_var(name: str, value: str) -> dict[str, str]:
    """Go omits an empty `value` (an unset MSSQL_PID), so we do too."""
    return {"name": name, "value": value} if value else {"name": name}


def _security_context(database: DevDatabase) -> dict[str, Any]:
    """Restricted by default (no privilege escalation, no capabilities), so the pod is
    admitted under the `restricted` Pod Security Standard where the image allows it."""
    capabilities: dict[str, list[str]] = {"drop": ["ALL"]}
    if database.add_capabilities:
        capabilities["add"] = list(database.add_capabilities)
    return {
        "runAsNonRoot": database.run_as_non_root,
        "runAsUser": database.run_as_user,
        "allowPrivilegeEscalation": False,
        "seccompProfile": {"type": "RuntimeDefault"},
        "capabilities": capabilities,
    }


def connection_template(driver: str, database: DevDatabase) -> str:
    """The dev URL as Go's `url.URL.String` writes it: keys sorted, `@` escaped."""
    userinfo = ""
    if database.user:
        userinfo = quote(database.user, safe=_USERINFO_SAFE)
        if database.password:
            userinfo += ":" + quote(database.password, safe=_USERINFO_SAFE)
        userinfo += "@"
    path = "/" + quote(database.path, safe="/") if database.path else ""
    query = "?" + urlencode(sorted(database.query.items())) if database.query else ""
    return f"{driver}://{userinfo}localhost:{database.port}{path}{query}"


def conntmpl_from_dev_url(dev_url_text: str) -> str:
    """A custom devDB pod is reached through `devURL`, whose host the pod IP replaces.

    Upstream stores the devURL unchanged and parses it only once a pod is ready; we only
    trim surrounding whitespace, which a devURL read from a Secret often ends with.
    """
    return dev_url_text.strip()


def connection_url(conntmpl: str, pod_ip: str) -> str:
    """The template with its host swapped for the pod's IP; everything else verbatim.

    Scheme, credentials, port, path, query and fragment are kept as written (no
    re-encoding), so a password that needed escaping stays escaped.
    """
    scheme, sep, rest = conntmpl.strip().partition("://")
    if not sep or not scheme:
        raise URLError("invalid connection template: expected <scheme>://<host>…")
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    userinfo, at, hostport = authority.rpartition("@")
    port = _port_of(hostport)
    host = _bracketed(pod_ip.strip())
    return f"{scheme}://{userinfo}{at}{host}{':' + port if port else ''}{tail}"


def _port_of(hostport: str) -> str:
    """The port as written, like Go's `url.URL.Port` ("" when there is none)."""
    if hostport.startswith("["):
        _, _, after = hostport.partition("]")
        return after[1:] if after.startswith(":") else ""
    _, colon, port = hostport.rpartition(":")
    return port if colon else ""


def _bracketed(ip: str) -> str:
    """IPv6 addresses need brackets in a URL (upstream forgets them)."""
    if ":" in ip and not ip.startswith("["):
        return f"[{ip}]"
    return ip


def pod_spec_hash(pod_spec: Mapping[str, Any]) -> str:
    """A short, stable digest of JSON data: sha256 of canonical JSON (sorted keys, no
    spaces), hex, 16 characters. Key order and dict types do not change it."""
    canonical = json.dumps(pod_spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def deployment_spec_hash(pod_spec: Mapping[str, Any], conntmpl: str) -> str:
    """What `SPEC_HASH_ANNOTATION` holds: the pod spec and the connection template, since
    a changed `devURL` changes how the pod is reached just as a changed spec does."""
    return pod_spec_hash({"spec": pod_spec, "conntmpl": conntmpl})


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    """A controller reference (as controller-runtime's SetControllerReference makes), so
    garbage collection deletes the Deployment with its AtlasSchema/AtlasMigration."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["name"],
        "uid": owner["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def dev_db_deployment(
    name: str,
    namespace: str,
    driver: str,
    pod_spec: Mapping[str, Any],
    conntmpl: str,
    owner: Mapping[str, Any],
) -> dict[str, Any]:
    """The apps/v1 Deployment (one replica, no Service) for an automatic or custom pod.

    `name` is the Deployment's name (`dev_db_deployment_name`); `owner` needs `apiVersion`,
    `kind`, `name` and `uid` (an ownerReference dict will do).
    """
    labels = dev_db_labels(driver, name)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": {SPEC_HASH_ANNOTATION: deployment_spec_hash(pod_spec, conntmpl)},
            "ownerReferences": [owner_reference(owner)],
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {
                    "labels": dict(labels),
                    "annotations": {CONNTMPL_ANNOTATION: conntmpl},
                },
                "spec": dict(pod_spec),
            },
        },
    }
