"""The dev-database manifests against upstream's devdb.go and target.go (§2.5, §3)."""

from __future__ import annotations

from typing import Any

import pytest

from atlas_operator.engine.urls import URLError, parse_url
from atlas_operator.operator.devdb_spec import (
    AUTOMATIC_DEV_DB_DRIVERS,
    CONNTMPL_ANNOTATION,
    DRIVER_BY_SCHEME,
    SPEC_HASH_ANNOTATION,
    UnsupportedDevDBDriverError,
    automatic_dev_db_pod_spec,
    connection_url,
    conntmpl_from_dev_url,
    deployment_spec_hash,
    dev_db_deployment,
    dev_db_deployment_name,
    dev_db_labels,
    driver_of_scheme,
    is_schema_bound,
    pod_spec_hash,
)

OWNER = {
    "apiVersion": "db.atlasgo.io/v1alpha1",
    "kind": "AtlasSchema",
    "name": "app",
    "uid": "0b1c-42",
}


def only_container(spec: dict[str, Any]) -> dict[str, Any]:
    [container] = spec["containers"]
    assert isinstance(container, dict)
    return container


def env_of(container: dict[str, Any]) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


# --- schemes and drivers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "driver"),
    [
        ("sqlite", "sqlite"),
        ("libsql", "sqlite"),
        ("mysql", "mysql"),
        ("mysql+unix", "mysql"),
        ("MySQL+unix", "mysql"),
        ("mariadb", "mariadb"),
        ("maria", "mariadb"),
        ("mariadb+unix", "mariadb"),
        ("postgres", "postgres"),
        ("postgresql", "postgres"),
        ("POSTGRES", "postgres"),
        ("ysql", "ysql"),
        ("sqlserver", "sqlserver"),
        ("azuresql", "sqlserver"),
        ("mssql", "sqlserver"),
        ("clickhouse", "clickhouse"),
        ("redshift", "redshift"),
        ("databricks", "databricks"),
        ("snowflake", "snowflake"),
        ("spanner", "spanner"),
        ("crdb", "crdb"),
        ("dsql", "dsql"),
        ("oracle", "oracle"),
    ],
)
def test_driver_of_scheme(scheme: str, driver: str) -> None:
    assert driver_of_scheme(scheme) == driver


def test_scheme_table_is_upstreams() -> None:
    assert len(DRIVER_BY_SCHEME) == 19
    assert set(DRIVER_BY_SCHEME.values()) == {
        "sqlite",
        "mysql",
        "mariadb",
        "postgres",
        "ysql",
        "sqlserver",
        "clickhouse",
        "redshift",
        "databricks",
        "snowflake",
        "spanner",
        "crdb",
        "dsql",
        "oracle",
    }


@pytest.mark.parametrize("scheme", ["docker", "sqlite3", "tidb", "", "Mongo+srv", "+mysql"])
def test_unknown_scheme_names_the_scheme_as_written(scheme: str) -> None:
    with pytest.raises(ValueError, match="unknown driver for schema") as err:
        driver_of_scheme(scheme)
    assert str(err.value) == f'unknown driver for schema "{scheme}"'


# --- schema-bound rules ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("driver", "url", "bound"),
    [
        ("sqlite", "sqlite://file.db", True),
        ("sqlite", "sqlite://db?mode=memory", True),
        ("postgres", "postgres://u:p@h:5432/db?sslmode=disable", False),
        ("postgres", "postgres://u:p@h:5432/db?sslmode=disable&search_path=public", True),
        ("postgres", "postgres://u:p@h/db?search_path=", False),
        ("postgres", "postgres://u:p@h/db?search_path=a&search_path=", True),
        ("redshift", "redshift://u:p@h/db?search_path=s", True),
        ("crdb", "crdb://root@h:26257/defaultdb", False),
        ("dsql", "dsql://admin@h/postgres?search_path=public", True),
        ("ysql", "ysql://yugabyte@h/yugabyte?search_path=public", True),
        ("mysql", "mysql://root:pass@h:3306", False),
        ("mysql", "mysql://root:pass@h:3306/app", True),
        ("mysql", "mysql://root:pass@h:3306/", True),  # upstream: Go's Path "/" is not empty
        ("mysql", "mysql://root:pass@h:3306?parseTime=true", False),
        ("mariadb", "mariadb://root:pass@h/app", True),
        ("clickhouse", "clickhouse://u:p@h:9000", False),
        ("clickhouse", "clickhouse://u:p@h:9000/dev", True),
        ("sqlserver", "sqlserver://sa:p@h:1433?database=master", True),
        ("sqlserver", "sqlserver://sa:p@h:1433?database=master&mode=schema", True),
        ("sqlserver", "sqlserver://sa:p@h:1433?database=master&mode=SCHEMA", True),
        ("sqlserver", "sqlserver://sa:p@h:1433?database=master&mode=DATABASE", False),
        ("sqlserver", "sqlserver://sa:p@h:1433?mode=database", False),
        ("oracle", "oracle://u:p@h:1521/FREEPDB1", True),
        ("oracle", "oracle://u:p@h:1521/FREEPDB1?mode=DATABASE", False),
        ("snowflake", "snowflake://u:p@acct/DB", True),  # upstream counts "/DB" as 2 pieces
        ("snowflake", "snowflake://u:p@acct/DB/SCHEMA", False),
        ("snowflake", "snowflake://u:p@acct", False),
        ("databricks", "databricks://token:t@h:443/sql/1.0/warehouses/w?schema=s", True),
        ("databricks", "databricks://token:t@h:443/sql/1.0/warehouses/w?catalog=c", False),
    ],
)
def test_is_schema_bound(driver: str, url: str, bound: bool) -> None:
    assert is_schema_bound(driver, url) is bound


def test_is_schema_bound_rejects_an_unknown_driver() -> None:
    with pytest.raises(ValueError, match='unsupported driver "mongo"'):
        is_schema_bound("mongo", "mongo://h/db")


# --- automatic pod specs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("driver", "image", "port", "conntmpl", "uid"),
    [
        (
            "postgres",
            "postgres:latest",
            5432,
            "postgres://postgres:pass@localhost:5432/postgres?sslmode=disable",
            999,
        ),
        (
            "ysql",
            "yugabytedb/yugabyte:latest",
            5433,
            "ysql://yugabyte@localhost:5433/yugabyte?sslmode=disable",
            0,
        ),
        (
            "sqlserver",
            "mcr.microsoft.com/mssql/server:2022-latest",
            1433,
            "sqlserver://sa:P%40ssw0rd0995@localhost:1433?database=master&mode=DATABASE",
            10001,
        ),
        ("mysql", "mysql:latest", 3306, "mysql://root:pass@localhost:3306", 1000),
        ("mariadb", "mariadb:latest", 3306, "mariadb://root:pass@localhost:3306", 999),
        (
            "clickhouse",
            "clickhouse/clickhouse-server:latest",
            9000,
            "clickhouse://root:pass@localhost:9000",
            101,
        ),
        (
            "crdb",
            "cockroachdb/cockroach:latest",
            26257,
            "crdb://root@localhost:26257/defaultdb?sslmode=disable",
            1000,
        ),
    ],
)
def test_automatic_pod_spec_per_driver(
    driver: str, image: str, port: int, conntmpl: str, uid: int
) -> None:
    spec, template = automatic_dev_db_pod_spec(driver, False, {})
    container = only_container(spec)
    assert template == conntmpl
    assert container["name"] == driver
    assert container["image"] == image
    assert container["ports"] == [{"name": driver, "containerPort": port}]
    assert container["securityContext"]["runAsUser"] == uid
    probe = container["startupProbe"]
    assert probe["failureThreshold"] == 30
    assert probe["periodSeconds"] == 10
    assert probe["exec"]["command"]
    assert "readinessProbe" not in container


@pytest.mark.parametrize("driver", sorted(AUTOMATIC_DEV_DB_DRIVERS))
def test_security_context_is_restricted(driver: str) -> None:
    spec, _ = automatic_dev_db_pod_spec(driver, False, {})
    security = only_container(spec)["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["runAsNonRoot"] is (driver != "ysql")


@pytest.mark.parametrize(
    ("driver", "added"),
    [
        ("sqlserver", ["NET_BIND_SERVICE", "SYS_PTRACE"]),
        ("clickhouse", ["SYS_NICE", "NET_ADMIN", "IPC_LOCK"]),
        ("postgres", None),
        ("mysql", None),
        ("crdb", None),
    ],
)
def test_added_capabilities(driver: str, added: list[str] | None) -> None:
    spec, _ = automatic_dev_db_pod_spec(driver, False, {})
    assert only_container(spec)["securityContext"]["capabilities"].get("add") == added


@pytest.mark.parametrize(
    ("driver", "probe"),
    [
        ("postgres", ["pg_isready"]),
        (
            "ysql",
            ["sh", "-ec", "bin/ysqlsh -h \"$(hostname)\" -U yugabyte -d yugabyte -c 'SELECT 1'"],
        ),
        (
            "sqlserver",
            [
                "/opt/mssql-tools18/bin/sqlcmd",
                "-C",
                "-Q",
                "SELECT 1",
                "-U",
                "sa",
                "-P",
                "P@ssw0rd0995",
            ],
        ),
        ("mysql", ["mysql", "-h", "127.0.0.1", "-e", "SELECT 1", "-u", "root", "-ppass"]),
        ("mariadb", ["mariadb", "-h", "127.0.0.1", "-e", "SELECT 1", "-u", "root", "-ppass"]),
        ("clickhouse", ["clickhouse-client", "-q", "SELECT 1"]),
        ("crdb", ["cockroach", "sql", "--insecure", "-e", "SELECT 1"]),
    ],
)
def test_startup_probe_commands(driver: str, probe: list[str]) -> None:
    spec, _ = automatic_dev_db_pod_spec(driver, False, {})
    assert only_container(spec)["startupProbe"]["exec"]["command"] == probe


@pytest.mark.parametrize(
    ("driver", "bound", "conntmpl", "env"),
    [
        (
            "postgres",
            False,
            "postgres://postgres:pass@localhost:5432/postgres?sslmode=disable",
            {"POSTGRES_DB": "postgres", "POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "pass"},
        ),
        (
            "postgres",
            True,
            "postgres://postgres:pass@localhost:5432/postgres?search_path=public&sslmode=disable",
            {"POSTGRES_DB": "postgres", "POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "pass"},
        ),
        (
            "ysql",
            True,
            "ysql://yugabyte@localhost:5433/yugabyte?search_path=public&sslmode=disable",
            {"HOME": "/tmp"},
        ),
        (
            "crdb",
            True,
            "crdb://root@localhost:26257/defaultdb?search_path=public&sslmode=disable",
            {},
        ),
        ("mysql", False, "mysql://root:pass@localhost:3306", {"MYSQL_ROOT_PASSWORD": "pass"}),
        (
            "mysql",
            True,
            "mysql://root:pass@localhost:3306/dev",
            {"MYSQL_ROOT_PASSWORD": "pass", "MYSQL_DATABASE": "dev"},
        ),
        (
            "mariadb",
            False,
            "mariadb://root:pass@localhost:3306",
            {"MARIADB_ROOT_PASSWORD": "pass"},
        ),
        (
            "mariadb",
            True,
            "mariadb://root:pass@localhost:3306/dev",
            {"MARIADB_ROOT_PASSWORD": "pass", "MARIADB_DATABASE": "dev"},
        ),
        (
            "clickhouse",
            True,
            "clickhouse://root:pass@localhost:9000/dev",
            {"CLICKHOUSE_USER": "root", "CLICKHOUSE_PASSWORD": "pass", "CLICKHOUSE_DB": "dev"},
        ),
        (
            "sqlserver",
            False,
            "sqlserver://sa:P%40ssw0rd0995@localhost:1433?database=master&mode=DATABASE",
            {"MSSQL_SA_PASSWORD": "P@ssw0rd0995", "MSSQL_PID": None, "ACCEPT_EULA": None},
        ),
        (
            "sqlserver",
            True,
            "sqlserver://sa:P%40ssw0rd0995@localhost:1433?database=master",
            {"MSSQL_SA_PASSWORD": "P@ssw0rd0995", "MSSQL_PID": None, "ACCEPT_EULA": None},
        ),
    ],
)
def test_schema_bound_variants(
    driver: str, bound: bool, conntmpl: str, env: dict[str, str | None]
) -> None:
    spec, template = automatic_dev_db_pod_spec(driver, bound, {})
    assert template == conntmpl
    assert env_of(only_container(spec)) == env


def test_sqlserver_copies_the_licence_from_the_operator_environment() -> None:
    operator_env = {"MSSQL_PID": "Developer", "MSSQL_ACCEPT_EULA": "Y", "ACCEPT_EULA": "N"}
    spec, _ = automatic_dev_db_pod_spec("sqlserver", False, operator_env)
    container = only_container(spec)
    assert container["env"] == [
        {"name": "MSSQL_SA_PASSWORD", "value": "P@ssw0rd0995"},
        {"name": "MSSQL_PID", "value": "Developer"},
        {"name": "ACCEPT_EULA", "value": "Y"},
    ]


def test_other_drivers_ignore_the_operator_environment() -> None:
    assert automatic_dev_db_pod_spec("postgres", True, {"MSSQL_PID": "Developer"}) == (
        automatic_dev_db_pod_spec("postgres", True, {})
    )


def test_ysql_runs_yugabyted_as_root() -> None:
    spec, _ = automatic_dev_db_pod_spec("ysql", False, {})
    container = only_container(spec)
    assert container["command"] == ["bin/yugabyted", "start", "--background=false"]
    assert container["securityContext"]["runAsNonRoot"] is False
    assert container["securityContext"]["runAsUser"] == 0
    assert "volumes" not in spec


def test_crdb_keeps_its_store_on_an_empty_dir() -> None:
    spec, _ = automatic_dev_db_pod_spec("crdb", False, {})
    container = only_container(spec)
    store = "/cockroach/cockroach-data"
    assert container["args"] == [
        "start-single-node",
        "--insecure",
        f"--certs-dir={store}",
        f"--store={store}",
    ]
    assert container["volumeMounts"] == [{"name": "data", "mountPath": store}]
    assert spec["volumes"] == [{"name": "data", "emptyDir": {}}]


@pytest.mark.parametrize(
    "driver",
    [*sorted(set(DRIVER_BY_SCHEME.values()) - AUTOMATIC_DEV_DB_DRIVERS), "nonsense"],
)
def test_unsupported_driver_message(driver: str) -> None:
    with pytest.raises(UnsupportedDevDBDriverError) as err:
        automatic_dev_db_pod_spec(driver, False, {})
    assert str(err.value) == (
        f'devdb: unsupported driver "{driver}". You need to provide the devURL on the '
        "resource: https://atlasgo.io/integrations/kubernetes/operator#devurl"
    )
    assert err.value.driver == driver


def test_automatic_drivers_are_upstreams() -> None:
    assert {"postgres", "ysql", "sqlserver", "mysql", "mariadb", "clickhouse", "crdb"} == set(
        AUTOMATIC_DEV_DB_DRIVERS
    )


@pytest.mark.parametrize("driver", ["postgres", "mysql", "mariadb"])
@pytest.mark.parametrize("bound", [False, True])
def test_templates_of_engine_drivers_parse_with_the_same_scope(driver: str, bound: bool) -> None:
    _, template = automatic_dev_db_pod_spec(driver, bound, {})
    url = parse_url(connection_url(template, "10.1.2.3"))
    assert url.host == "10.1.2.3"
    assert url.is_schema_bound is bound


# --- connection URLs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "pod_ip", "url"),
    [
        ("mysql://root:pass@localhost:3306", "10.0.0.7", "mysql://root:pass@10.0.0.7:3306"),
        (
            "mariadb://root:pass@localhost:3306/dev",
            "10.0.0.7",
            "mariadb://root:pass@10.0.0.7:3306/dev",
        ),
        (
            "postgres://postgres:pass@localhost:5432/postgres?search_path=public&sslmode=disable",
            "10.244.1.9",
            "postgres://postgres:pass@10.244.1.9:5432/postgres?search_path=public&sslmode=disable",
        ),
        (
            "sqlserver://sa:P%40ssw0rd0995@localhost:1433?database=master&mode=DATABASE",
            "10.0.0.7",
            "sqlserver://sa:P%40ssw0rd0995@10.0.0.7:1433?database=master&mode=DATABASE",
        ),
        (
            "crdb://root@localhost:26257/defaultdb",
            "fd00::7",
            "crdb://root@[fd00::7]:26257/defaultdb",
        ),
        (
            "mysql://root:pass@localhost:3306/dev",
            "[fd00::7]",
            "mysql://root:pass@[fd00::7]:3306/dev",
        ),
        ("postgres://u:p@[::1]:5432/db", "10.0.0.7", "postgres://u:p@10.0.0.7:5432/db"),
        ("postgres://u:p@[::1]/db", "10.0.0.7", "postgres://u:p@10.0.0.7/db"),
        (
            "postgres://u:p@db.svc/db?sslmode=disable",
            "10.0.0.7",
            "postgres://u:p@10.0.0.7/db?sslmode=disable",
        ),
        ("postgres://db.svc:5432", "10.0.0.7", "postgres://10.0.0.7:5432"),
        (
            "postgres://u:p%2Fq%40@h:5432/d#frag",
            "10.0.0.7",
            "postgres://u:p%2Fq%40@10.0.0.7:5432/d#frag",
        ),
    ],
)
def test_connection_url(template: str, pod_ip: str, url: str) -> None:
    assert connection_url(template, pod_ip) == url


@pytest.mark.parametrize("template", ["localhost:5432", "", "://h:1/db"])
def test_connection_url_rejects_a_template_without_a_scheme(template: str) -> None:
    with pytest.raises(URLError, match="invalid connection template"):
        connection_url(template, "10.0.0.7")


def test_custom_dev_url_is_the_template() -> None:
    dev_url = "postgres://u:p@dev-db:5432/dev?sslmode=disable&search_path=public"
    assert conntmpl_from_dev_url(dev_url + "\n") == dev_url
    assert connection_url(conntmpl_from_dev_url(dev_url), "10.0.0.9") == (
        "postgres://u:p@10.0.0.9:5432/dev?sslmode=disable&search_path=public"
    )


# --- the Deployment --------------------------------------------------------------------


def test_names_and_labels() -> None:
    assert dev_db_deployment_name("app") == "app-atlas-dev-db"
    assert dev_db_labels("postgres", "app-atlas-dev-db") == {
        "atlasgo.io/engine": "postgres",
        "app.kubernetes.io/instance": "app-atlas-dev-db",
        "app.kubernetes.io/name": "atlas-dev-db",
        "app.kubernetes.io/part-of": "atlas-operator",
        "app.kubernetes.io/created-by": "controller-manager",
    }


def test_deployment_manifest() -> None:
    spec, conntmpl = automatic_dev_db_pod_spec("postgres", True, {})
    name = dev_db_deployment_name("app")
    deployment = dev_db_deployment(name, "team-a", "postgres", spec, conntmpl, OWNER)
    labels = dev_db_labels("postgres", name)
    assert deployment["apiVersion"] == "apps/v1"
    assert deployment["kind"] == "Deployment"
    metadata = deployment["metadata"]
    assert metadata["name"] == "app-atlas-dev-db"
    assert metadata["namespace"] == "team-a"
    assert metadata["labels"] == labels
    assert metadata["ownerReferences"] == [
        {
            "apiVersion": "db.atlasgo.io/v1alpha1",
            "kind": "AtlasSchema",
            "name": "app",
            "uid": "0b1c-42",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert metadata["annotations"] == {SPEC_HASH_ANNOTATION: deployment_spec_hash(spec, conntmpl)}
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["selector"] == {"matchLabels": labels}
    template = deployment["spec"]["template"]
    assert template["metadata"] == {
        "labels": labels,
        "annotations": {CONNTMPL_ANNOTATION: conntmpl},
    }
    assert template["spec"] == spec


def test_owner_reference_from_an_existing_reference() -> None:
    reference = {**OWNER, "controller": False, "blockOwnerDeletion": False}
    deployment = dev_db_deployment(
        "x-atlas-dev-db", "ns", "mysql", {"containers": []}, "", reference
    )
    [owner] = deployment["metadata"]["ownerReferences"]
    assert owner["controller"] is True
    assert owner["blockOwnerDeletion"] is True


def test_custom_pod_spec_deployment() -> None:
    custom = {
        "containers": [{"name": "pg", "image": "postgres:16", "ports": [{"containerPort": 5432}]}]
    }
    dev_url = "postgres://root:pass@localhost:5432/dev?sslmode=disable"
    deployment = dev_db_deployment(
        "app-atlas-dev-db", "ns", "postgres", custom, conntmpl_from_dev_url(dev_url), OWNER
    )
    template = deployment["spec"]["template"]
    assert template["spec"] == custom
    assert template["metadata"]["annotations"][CONNTMPL_ANNOTATION] == dev_url
    assert template["metadata"]["labels"]["atlasgo.io/engine"] == "postgres"


def test_deployment_does_not_share_label_dicts() -> None:
    spec, conntmpl = automatic_dev_db_pod_spec("mysql", False, {})
    deployment = dev_db_deployment("m-atlas-dev-db", "ns", "mysql", spec, conntmpl, OWNER)
    deployment["spec"]["template"]["metadata"]["labels"]["extra"] = "1"
    assert "extra" not in deployment["spec"]["selector"]["matchLabels"]
    assert "extra" not in deployment["metadata"]["labels"]


# --- spec hash -------------------------------------------------------------------------


def test_pod_spec_hash_is_short_stable_and_order_free() -> None:
    spec, _ = automatic_dev_db_pod_spec("postgres", False, {})
    again, _ = automatic_dev_db_pod_spec("postgres", False, {})
    digest = pod_spec_hash(spec)
    assert len(digest) == 16
    assert int(digest, 16) >= 0
    assert pod_spec_hash(again) == digest
    assert pod_spec_hash(dict(reversed(list(spec.items())))) == digest
    assert pod_spec_hash({"b": 1, "a": [1, 2]}) == pod_spec_hash({"a": [1, 2], "b": 1})
    # Pinned: the same spec must hash the same in every release, or every Deployment
    # would be replaced after an upgrade.
    assert pod_spec_hash({"containers": [{"name": "x", "image": "y"}]}) == "2accbe0342dbaaa3"


def test_pod_spec_hash_sees_changes() -> None:
    base = {"containers": [{"name": "pg", "image": "postgres:16"}]}
    changed = {"containers": [{"name": "pg", "image": "postgres:17"}]}
    reordered = {"containers": [{"image": "postgres:16", "name": "pg"}]}
    assert pod_spec_hash(base) != pod_spec_hash(changed)
    assert pod_spec_hash(base) == pod_spec_hash(reordered)
    assert pod_spec_hash({"a": [1, 2]}) != pod_spec_hash({"a": [2, 1]})


def test_deployment_hash_follows_spec_and_template() -> None:
    spec, conntmpl = automatic_dev_db_pod_spec("postgres", False, {})
    bound_spec, bound_conntmpl = automatic_dev_db_pod_spec("postgres", True, {})
    first = dev_db_deployment("a-atlas-dev-db", "ns", "postgres", spec, conntmpl, OWNER)
    same = dev_db_deployment("a-atlas-dev-db", "ns", "postgres", spec, conntmpl, OWNER)
    other = dev_db_deployment("a-atlas-dev-db", "ns", "postgres", bound_spec, bound_conntmpl, OWNER)
    annotation = first["metadata"]["annotations"][SPEC_HASH_ANNOTATION]
    assert same["metadata"]["annotations"][SPEC_HASH_ANNOTATION] == annotation
    assert other["metadata"]["annotations"][SPEC_HASH_ANNOTATION] != annotation
    assert annotation == pod_spec_hash({"spec": spec, "conntmpl": conntmpl})
