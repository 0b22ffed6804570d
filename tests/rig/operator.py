"""The operator as a separate process (`atlas-operator run`) against the test control
plane, and small helpers to drive it only through the Kubernetes API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.rig.controlplane import ControlPlane, free_port

OPERATOR = [sys.executable, "-m", "atlas_operator.cli", "run"]


@dataclass
class OperatorProcess:
    kubeconfig: Path
    log_path: Path
    args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    health_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> OperatorProcess:
        env = {**os.environ, "SKIP_VERCHECK": "1", "KUBECONFIG": str(self.kubeconfig)}
        env.update(self.env)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            [
                *OPERATOR,
                f"--health-probe-bind-address=127.0.0.1:{self.health_port}",
                f"--metrics-bind-address=127.0.0.1:{self.metrics_port}",
                *self.args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"operator exited early:\n{self.logs()[-3000:]}")
            try:
                if self.get(self.health_port, "/healthz") == "ok":
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"operator not healthy after {timeout}s:\n{self.logs()[-3000:]}")

    def get(self, port: int, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            body: bytes = response.read()
            return body.decode()

    def metrics(self) -> str:
        return self.get(self.metrics_port, "/metrics")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_entries(self) -> Iterator[dict[str, Any]]:
        for line in self.logs().splitlines():
            if line.startswith("{"):
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue

    def kill(self) -> None:
        """kill -9: no clean-up, no lease release."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Kube:
    """kubectl in one namespace of the test control plane."""

    def __init__(self, plane: ControlPlane, namespace: str) -> None:
        self.plane = plane
        self.namespace = namespace

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> str:
        return self.plane.kubectl("-n", self.namespace, *args, input=input, check=check).stdout

    def apply(self, *documents: dict[str, Any] | str) -> None:
        text = "\n---\n".join(
            d if isinstance(d, str) else yaml.safe_dump(d, sort_keys=False) for d in documents
        )
        self.kubectl("apply", "-f", "-", input=text)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        out = self.plane.kubectl("-n", self.namespace, "get", kind, name, "-o", "json", check=False)
        if out.returncode != 0:
            return None
        found: dict[str, Any] = json.loads(out.stdout)
        return found

    def items(self, kind: str, *selector: str) -> list[dict[str, Any]]:
        listed = json.loads(self.kubectl("get", kind, *selector, "-o", "json"))
        items: list[dict[str, Any]] = listed["items"]
        return items

    def patch(self, kind: str, name: str, patch: dict[str, Any]) -> None:
        self.kubectl("patch", kind, name, "--type=merge", "-p", json.dumps(patch))

    def delete(self, kind: str, name: str) -> None:
        self.kubectl("delete", kind, name, "--wait=false", "--ignore-not-found")

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.items("events") if e["involvedObject"]["name"] == name]

    def wait_for(
        self,
        kind: str,
        name: str,
        check: Callable[[dict[str, Any]], bool],
        timeout: float = 60,
        what: str = "",
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            last = self.get(kind, name)
            if last is not None and check(last):
                return last
            time.sleep(0.25)
        status = json.dumps((last or {}).get("status"), indent=1)
        raise AssertionError(f"{kind}/{name}: not {what or 'as expected'} in {timeout}s: {status}")

    def wait_ready(self, kind: str, name: str, timeout: float = 60) -> dict[str, Any]:
        return self.wait_for(kind, name, lambda o: ready(o) == "True", timeout, "Ready")

    def wait_reason(self, kind: str, name: str, reason: str, timeout: float = 60) -> dict[str, Any]:
        return self.wait_for(
            kind, name, lambda o: condition(o)["reason"] == reason, timeout, reason
        )


def condition(obj: dict[str, Any], type_: str = "Ready") -> dict[str, Any]:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond["type"] == type_:
            found: dict[str, Any] = cond
            return found
    return {"status": "", "reason": "", "message": ""}


def ready(obj: dict[str, Any]) -> str:
    return str(condition(obj)["status"])


def secret(name: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "Opaque",
        "stringData": data,
    }


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def resource(kind: str, name: str, spec: dict[str, Any], **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "db.atlasgo.io/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}
