"""A real Kubernetes control plane for tests: etcd + kube-apiserver on loopback.

Started the way controller-runtime's envtest does it: no nodes, no kubelet, no
controller-manager. The binaries come from `hack/build-control-plane.sh`, which
builds them from Go modules into a cache and prints their directory.

The admin identity is a static bearer token in `system:masters`; the serving
certificate is the self-signed one kube-apiserver generates into `--cert-dir`;
service-account tokens are signed with a key pair made here, so the TokenRequest
API works (the chart tests run the operator under a ServiceAccount token).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "hack" / "build-control-plane.sh"
CRD_DIR = REPO_ROOT / "config" / "crd"


class ControlPlaneError(RuntimeError):
    """The control plane could not be built or started."""


def control_plane_bin_dir() -> Path:
    """The directory with etcd, kube-apiserver, kubectl and helm (built when missing)."""
    configured = os.environ.get("ATLAS_OPERATOR_BIN_DIR")
    if configured:
        return Path(configured)
    result = subprocess.run(
        [str(BUILD_SCRIPT)], capture_output=True, text=True, check=False, timeout=3600
    )
    if result.returncode != 0:
        raise ControlPlaneError(f"{BUILD_SCRIPT} failed:\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ControlPlane:
    """A running etcd + kube-apiserver pair and a kubeconfig for its admin."""

    bin_dir: Path
    work_dir: Path
    admin_token: str = field(default_factory=lambda: secrets.token_hex(16))
    etcd_port: int = field(default_factory=free_port)
    etcd_peer_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def kubeconfig(self) -> Path:
        return self.work_dir / "kubeconfig"

    @property
    def ca_file(self) -> Path:
        return self.work_dir / "certs" / "apiserver.crt"

    # --- lifecycle -------------------------------------------------------------

    def start(self, timeout: float = 120) -> None:
        self.start_etcd()
        self.start_apiserver()
        self.wait_ready(timeout)
        self.write_kubeconfig(self.kubeconfig, token=self.admin_token)

    def stop(self) -> None:
        for process in reversed(self.processes.values()):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()

    def start_etcd(self) -> None:
        client = f"http://127.0.0.1:{self.etcd_port}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        self.spawn(
            "etcd",
            [
                "--name=default",
                f"--data-dir={self.work_dir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=default={peer}",
                "--unsafe-no-fsync=true",
            ],
        )

    def start_apiserver(self) -> None:
        certs = self.work_dir / "certs"
        certs.mkdir(parents=True, exist_ok=True)
        sa_key, sa_pub = certs / "sa.key", certs / "sa.pub"
        make_rsa_key_pair(sa_key, sa_pub)
        tokens = self.work_dir / "tokens.csv"
        tokens.write_text(f'{self.admin_token},admin,admin-uid,"system:masters"\n')
        tokens.chmod(0o600)
        self.spawn(
            "kube-apiserver",
            [
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.api_port}",
                f"--cert-dir={certs}",
                f"--service-account-key-file={sa_pub}",
                f"--service-account-signing-key-file={sa_key}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                "--api-audiences=https://kubernetes.default.svc.cluster.local",
                "--authorization-mode=RBAC",
                f"--token-auth-file={tokens}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                # Nothing creates the `default` ServiceAccount without a
                # controller-manager; tests create the Pods the kubelet would run.
                "--disable-admission-plugins=ServiceAccount",
            ],
        )

    def spawn(self, name: str, args: Sequence[str]) -> None:
        log = open(self.work_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives with the process
        process = subprocess.Popen(
            [str(self.bin_dir / name), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes[name] = process

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = "not contacted yet"
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise ControlPlaneError(
                        f"{name} exited with {process.returncode}: {self.log_tail()}"
                    )
            try:
                if self.get_raw("/readyz") == "ok":
                    return
            except (OSError, urllib.error.URLError) as err:
                last_error = str(err)
            time.sleep(0.25)
        raise ControlPlaneError(f"kube-apiserver not ready after {timeout}s ({last_error})")

    def log_tail(self, lines: int = 30) -> str:
        tails = []
        for path in sorted(self.work_dir.glob("*.log")):
            content = path.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {path.name}\n" + "\n".join(content))
        return "\n".join(tails)

    # --- clients ----------------------------------------------------------------

    def get_raw(self, path: str) -> str:
        """GETs an API path as the admin and returns the body."""
        context = (
            ssl.create_default_context(cafile=str(self.ca_file))
            if self.ca_file.exists()
            else ssl._create_unverified_context()
        )  # the cert appears a moment after start
        request = urllib.request.Request(
            self.server + path, headers={"Authorization": f"Bearer {self.admin_token}"}
        )
        with urllib.request.urlopen(request, context=context, timeout=5) as response:
            body: bytes = response.read()
            return body.decode()

    def write_kubeconfig(self, path: Path, *, token: str, namespace: str = "default") -> Path:
        """Writes a kubeconfig for this server that authenticates with `token`."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "test",
                    "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": "test", "user": {"token": token}}],
            "contexts": [
                {
                    "name": "test",
                    "context": {"cluster": "test", "user": "test", "namespace": namespace},
                }
            ],
            "current-context": "test",
        }
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        kubeconfig: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Runs our kubectl against this server; raises with its stderr when `check` fails."""
        result = subprocess.run(
            [str(self.bin_dir / "kubectl"), f"--kubeconfig={kubeconfig or self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def install_crds(self, crd_dir: Path = CRD_DIR, timeout: int = 60) -> None:
        """Applies our CRDs and waits until the API server serves them."""
        self.kubectl("apply", "--server-side", "-f", str(crd_dir))
        names = [yaml.safe_load(p.read_text())["metadata"]["name"] for p in crd_dir.glob("*.yaml")]
        self.kubectl(
            "wait",
            "--for=condition=Established",
            f"--timeout={timeout}s",
            *[f"crd/{name}" for name in names],
        )
        # Discovery lags a moment behind Established; wait until kubectl can resolve the kinds.
        deadline = time.monotonic() + timeout
        while self.kubectl("get", "atlasschemas,atlasmigrations", "-A", check=False).returncode:
            if time.monotonic() > deadline:
                raise ControlPlaneError("CRDs established but not served")
            time.sleep(0.2)


def make_rsa_key_pair(private_key: Path, public_key: Path) -> None:
    """A service-account signing key pair, made with openssl (no Python crypto dependency)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ControlPlaneError("openssl is required to make the service-account key pair")
    subprocess.run(
        [openssl, "genrsa", "-out", str(private_key), "2048"], check=True, capture_output=True
    )
    subprocess.run(
        [openssl, "rsa", "-in", str(private_key), "-pubout", "-out", str(public_key)],
        check=True,
        capture_output=True,
    )


def start_control_plane(work_dir: Path | None = None) -> ControlPlane:
    """Builds (when needed) and starts a control plane with our CRDs installed."""
    directory = work_dir or Path(tempfile.mkdtemp(prefix="atlas-operator-cp-"))
    plane = ControlPlane(bin_dir=control_plane_bin_dir(), work_dir=directory)
    try:
        plane.start()
        plane.install_crds()
    except BaseException:
        plane.stop()
        raise
    return plane
