"""A stand-in for the kubelet and the ReplicaSet controller, for dev-database
Deployments only (DECISIONS.md §7).

For every dev-database Deployment with replicas ≥ 1 in a served namespace, it keeps
one Pod made from the template, Ready with podIP 127.0.0.1, whose connection
template points at a fresh database on the real test server of that engine (a new
container would be empty too). At zero replicas it deletes the pods.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from tests.rig.controlplane import ControlPlane
from tests.rig.databases import Databases
from tests.test_cli_migrate import url_text

DEV_LABEL = "app.kubernetes.io/name=atlas-dev-db"
ENGINE_KIND = {"postgres": "postgres", "mysql": "mariadb", "mariadb": "mariadb"}


class FakeKubelet:
    def __init__(self, plane: ControlPlane, dbs: Databases) -> None:
        self.plane = plane
        self.dbs = dbs
        self.namespaces: set[str] = set()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.pods_created = 0

    def serve(self, namespace: str) -> None:
        self.namespaces.add(namespace)
        if not self.thread.is_alive():
            self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)

    def loop(self) -> None:
        while not self.stopped.wait(0.3):
            for namespace in list(self.namespaces):
                try:
                    self.sync(namespace)
                except Exception:  # the API server may be going away at teardown
                    continue

    def kubectl_json(self, *args: str) -> Any:
        out = self.plane.kubectl(*args, "-o", "json", check=False)
        return json.loads(out.stdout) if out.returncode == 0 else {"items": []}

    def sync(self, namespace: str) -> None:
        deployments = self.kubectl_json("-n", namespace, "get", "deployments", "-l", DEV_LABEL)
        for deployment in deployments["items"]:
            name = deployment["metadata"]["name"]
            pods = self.kubectl_json(
                "-n", namespace, "get", "pods", "-l", f"app.kubernetes.io/instance={name}"
            )["items"]
            live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
            if not deployment["spec"].get("replicas"):
                for pod in live:
                    self.plane.kubectl("-n", namespace, "delete", "pod", pod["metadata"]["name"])
            elif not live:
                self.start_pod(namespace, deployment)

    def start_pod(self, namespace: str, deployment: dict[str, Any]) -> None:
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        dev = self.dbs.new(ENGINE_KIND[labels["atlasgo.io/engine"]])
        text = url_text(dev)
        if labels["atlasgo.io/engine"] == "mysql":
            text = text.replace("mariadb://", "mysql://", 1)
        name = f"{deployment['metadata']['name']}-{uuid.uuid4().hex[:5]}"
        start_ready_pod(self.plane, namespace, deployment, text, name)
        self.pods_created += 1


def start_ready_pod(
    plane: ControlPlane, namespace: str, deployment: dict[str, Any], conn: str, name: str
) -> None:
    """Creates the Pod the ReplicaSet would make from `deployment`'s template, with its
    connection template replaced by `conn` (a loopback database), and marks it Ready on
    127.0.0.1 as the kubelet would."""
    template = deployment["spec"]["template"]
    annotations = dict(template["metadata"].get("annotations") or {})
    annotations["atlasgo.io/conntmpl"] = conn.replace("127.0.0.1", "localhost")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": template["metadata"]["labels"],
            "annotations": annotations,
        },
        "spec": template["spec"],
    }
    plane.kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(pod))
    status = {
        "status": {
            "phase": "Running",
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "conditions": [{"type": "Ready", "status": "True"}],
        }
    }
    plane.kubectl(
        "-n",
        namespace,
        "patch",
        "pod",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )
