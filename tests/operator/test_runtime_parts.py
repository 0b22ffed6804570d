"""Pure parts of the operator runtime: requeue decisions, selectors, references,
redaction, the work queue, settings, the dev-database spec and the version notice."""

from __future__ import annotations

import asyncio

import pytest
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import Status

from atlas_operator.operator import conditions as cond
from atlas_operator.operator.controller import api_error_message
from atlas_operator.operator.devdb_spec import (
    UnsupportedDevDBDriverError,
    automatic_dev_db_pod_spec,
    connection_url,
    dev_db_deployment,
    driver_of_scheme,
)
from atlas_operator.operator.outcome import Outcome, fail, schedule
from atlas_operator.operator.redact import scrub, sensitive_parts
from atlas_operator.operator.references import ReferenceIndex, references_of
from atlas_operator.operator.resources import AtlasSchemaStatus
from atlas_operator.operator.selector import parse_selector
from atlas_operator.operator.settings import OperatorSettings, SettingsError
from atlas_operator.operator.vercheck import render, skip_reason
from atlas_operator.operator.workqueue import WorkQueue


def failed_outcome(times: int, reason: str = cond.REASON_READ_SCHEMA) -> Outcome[AtlasSchemaStatus]:
    outcome = Outcome(AtlasSchemaStatus())
    for _ in range(times):
        fail(outcome, 1, reason, "boom")
    return outcome


@pytest.mark.parametrize(("failures", "delay"), [(1, 5.0), (2, 10.0), (20, 100.0)])
def test_failures_come_back_after_failed_times_five_seconds(failures: int, delay: float) -> None:
    assert schedule(failed_outcome(failures), backoff_limit=20).requeue_after == delay


def test_backoff_limit_stops_with_an_event_and_zero_retries_forever() -> None:
    stopped = schedule(failed_outcome(3), backoff_limit=2)
    assert stopped.requeue_after is None
    assert stopped.events[-1].reason == "BackoffLimitExceeded"
    assert schedule(failed_outcome(500), backoff_limit=0).requeue_after == 2500.0


def test_pending_and_reconciling_are_not_failures() -> None:
    pending = failed_outcome(1, cond.REASON_GETTING_DEV_DB)
    assert pending.status.failed == 0
    assert schedule(pending, 1).requeue_after == 5.0
    assert pending.events[0].reason == "GettingDevDB"
    fresh = Outcome(AtlasSchemaStatus())
    cond.set_reconciling(fresh.status, 1, "Reconciling")
    assert schedule(fresh, 1).requeue_after == 0


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("team=alpha", {"team": "alpha"}, True),
        ("team==alpha", {"team": "beta"}, False),
        ("team!=alpha", {}, True),
        ("team in (a, b),env", {"team": "b", "env": "x"}, True),
        ("team notin (a,b)", {"team": "a"}, False),
        ("!legacy", {"legacy": "1"}, False),
        ("", {}, True),
    ],
)
def test_label_selectors(selector: str, labels: dict[str, str], matches: bool) -> None:
    assert parse_selector(selector).matches(labels) is matches


def test_bad_selector_is_an_error() -> None:
    with pytest.raises(ValueError, match="--label-selector"):
        parse_selector("team=(x")


def test_every_reference_is_indexed_and_pruned() -> None:
    spec = {
        "urlFrom": {"secretKeyRef": {"name": "url", "key": "u"}},
        "credentials": {"hostFrom": {"secretKeyRef": {"name": "host", "key": "h"}}},
        "vars": [{"key": "a", "valueFrom": {"configMapKeyRef": {"name": "vars", "key": "a"}}}],
        "dir": {"configMapRef": {"name": "dir"}},
        "devDB": {
            "spec": {
                "containers": [
                    {
                        "name": "x",
                        "env": [{"valueFrom": {"secretKeyRef": {"name": "pod-only", "key": "k"}}}],
                    }
                ]
            }
        },
    }
    refs = references_of(spec, "ns")
    assert refs == {
        ("Secret", "ns", "url"),
        ("Secret", "ns", "host"),
        ("ConfigMap", "ns", "vars"),
        ("ConfigMap", "ns", "dir"),
    }
    index = ReferenceIndex()
    index.update(("AtlasSchema", "ns", "a"), refs)
    assert index.dependents(("Secret", "ns", "host")) == {("AtlasSchema", "ns", "a")}
    index.update(("AtlasSchema", "ns", "a"), {("Secret", "ns", "url")})
    assert index.dependents(("Secret", "ns", "host")) == set()
    index.remove(("AtlasSchema", "ns", "a"))
    assert index.dependents_of == {}


def test_scrub_hides_url_passwords_and_secret_values() -> None:
    text = "dial mysql://root:s3cr3t@db:3306/app failed; password s3cr3t; passwords ok"
    assert (
        scrub(text) == "dial mysql://root:xxxxx@db:3306/app failed; password s3cr3t; passwords ok"
    )
    assert "s3cr3t" not in scrub(text, {"s3cr3t"})
    assert sensitive_parts("postgres://u:p%40ss@h/db") == ["p%40ss", "p@ss"]
    assert sensitive_parts("plain-token") == ["plain-token"]


def test_work_queue_never_runs_a_key_twice_at_once() -> None:
    async def scenario() -> list[str]:
        queue: WorkQueue[str] = WorkQueue()
        queue.add("a")
        queue.add("a")
        first = await queue.get()
        queue.add("a")  # arrives while "a" is being processed
        assert len(queue) == 0
        queue.done(first)
        second = await asyncio.wait_for(queue.get(), 1)
        queue.done(second)
        queue.add_after("b", 0.01)
        queue.add_after("b", 0.02)  # replaces the first timer
        third = await asyncio.wait_for(queue.get(), 1)
        return [first, second, third]

    assert asyncio.run(scenario()) == ["a", "a", "b"]


def test_settings_parse_go_booleans() -> None:
    assert OperatorSettings.from_env({}).prewarm_devdb is True
    assert OperatorSettings.from_env({"PREWARM_DEVDB": "F"}).prewarm_devdb is False
    assert OperatorSettings.from_env({"ALLOW_CUSTOM_CONFIG": "1"}).allow_custom_config is True
    with pytest.raises(SettingsError, match="PREWARM_DEVDB"):
        OperatorSettings.from_env({"PREWARM_DEVDB": "yes"})


@pytest.mark.parametrize(
    ("driver", "bound", "template", "user"),
    [
        (
            "postgres",
            False,
            "postgres://postgres:pass@localhost:5432/postgres?sslmode=disable",
            999,
        ),
        (
            "postgres",
            True,
            "postgres://postgres:pass@localhost:5432/postgres?search_path=public&sslmode=disable",
            999,
        ),
        ("mysql", False, "mysql://root:pass@localhost:3306", 1000),
        ("mariadb", True, "mariadb://root:pass@localhost:3306/dev", 999),
        (
            "sqlserver",
            False,
            "sqlserver://sa:P%40ssw0rd0995@localhost:1433?database=master&mode=DATABASE",
            10001,
        ),
        ("crdb", False, "crdb://root@localhost:26257/defaultdb?sslmode=disable", 1000),
    ],
)
def test_automatic_dev_database_matches_upstream(
    driver: str, bound: bool, template: str, user: int
) -> None:
    spec, conntmpl = automatic_dev_db_pod_spec(driver, bound, {})
    assert conntmpl == template
    [container] = spec["containers"]
    assert container["name"] == driver
    assert container["securityContext"]["runAsUser"] == user
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["startupProbe"]["failureThreshold"] == 30


def test_dev_database_deployment_and_connection() -> None:
    spec, conntmpl = automatic_dev_db_pod_spec("mariadb", True, {})
    owner = {"apiVersion": "v", "kind": "AtlasSchema", "name": "s", "uid": "1", "controller": True}
    deployment = dev_db_deployment("s-atlas-dev-db", "ns", "mariadb", spec, conntmpl, owner)
    assert deployment["spec"]["selector"]["matchLabels"]["atlasgo.io/engine"] == "mariadb"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["atlasgo.io/conntmpl"] == conntmpl
    assert connection_url(conntmpl, "10.0.0.7") == "mariadb://root:pass@10.0.0.7:3306/dev"
    assert connection_url(conntmpl, "fd00::7") == "mariadb://root:pass@[fd00::7]:3306/dev"
    assert driver_of_scheme("MySQL+unix") == "mysql"
    with pytest.raises(UnsupportedDevDBDriverError, match='unsupported driver "redshift"'):
        automatic_dev_db_pod_spec("redshift", False, {})


def test_version_notice_and_skip_rules() -> None:
    assert skip_reason({"SKIP_VERCHECK": "false"}, "1.0.0") is not None
    assert skip_reason({}, "dev") == "skipping version checking because version is not valid"
    assert skip_reason({}, "0.7.37") is None
    text = render(
        {"latest": {"Version": "v1.2.3", "Summary": "s", "Link": "l"}, "advisory": {"text": "fix"}}
    )
    assert (
        text
        == "SECURITY ADVISORY\nfix\nA new version of the Atlas Operator is available (v1.2.3): l\ns"
    )
    assert render({"latest": None, "advisory": None}) == ""


def test_api_refusals_are_explained_not_unexpected() -> None:
    forbidden = ApiError(
        status=Status(
            code=403,
            message='deployments.apps "x" is forbidden: User "system:serviceaccount:a:b"'
            ' cannot get resource "deployments" in API group "apps" in the namespace "n"',
        )
    )
    message = api_error_message(forbidden)
    assert message.startswith('the Kubernetes API refused the operator: deployments.apps "x"')
    assert "RBAC" in message
    conflict = ApiError(status=Status(code=409, message="the object has been modified"))
    assert api_error_message(conflict) == "Kubernetes API error (409): the object has been modified"
