"""The container image, tested without a container engine.

No machine here can run `docker build`, so the Dockerfile is read by a small interpreter
for the instructions it uses: the build context is filtered by .dockerignore as Docker
does, the build stage's RUN lines are executed on this machine with the image's
absolute paths moved under a temporary root, and the final stage's entrypoint is run
with the image's environment. What cannot be checked here is the base image itself."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
CHART = ROOT / "charts" / "atlas-operator"
# The image's absolute paths the interpreter relocates under its temporary root.
IMAGE_PATHS = re.compile(r"(?<![\w./-])/(opt|src|licenses|tmp)(?=/|\b)")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for args in self.all("ENV"):
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
        return env


def read_dockerfile(text: str) -> list[Stage]:
    """Instructions per stage: continuation lines joined, comments dropped, global
    ARG defaults substituted into FROM."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        logical.append(pending)
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest)
            image, _, name = base.partition(" AS ")
            stages.append(Stage(image.strip(), name.strip() or None))
        else:
            stages[-1].instructions.append((keyword, rest.strip()))
    return stages


def ignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """.dockerignore as (is-exception, regex) in file order."""
    patterns = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        glob = line.lstrip("!").strip("/")
        regex = re.escape(glob).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        patterns.append((exception, re.compile(f"{regex}$")))
    return patterns


def in_context(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for exception, pattern in ignore_patterns():
        if any(pattern.match(prefix) for prefix in prefixes):
            included = exception
    return included


def build_context() -> list[str]:
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [p for p in tracked if (ROOT / p).is_file() and in_context(p)]


def copies(stage: Stage) -> list[tuple[list[str], str]]:
    """COPY instructions from the build context: (sources, destination)."""
    found = []
    for args in stage.all("COPY"):
        if args.startswith("--from="):
            continue
        *sources, destination = shlex.split(args)
        found.append((sources, destination))
    return found


STAGES = read_dockerfile(DOCKERFILE.read_text())
BUILD, FINAL = STAGES[0], STAGES[-1]


def test_final_stage_is_slim_non_root_and_without_toolchain() -> None:
    assert len(STAGES) == 2
    assert BUILD.name == "build"
    assert FINAL.base == BUILD.base
    assert FINAL.base.startswith("python:")
    assert "-slim" in FINAL.base
    assert FINAL.all("USER") == ["65532:65532"]
    # Nothing is built or installed in the final stage: it only copies.
    assert FINAL.all("RUN") == []
    assert any(a.startswith("--from=build ") for a in FINAL.all("COPY"))
    everything = DOCKERFILE.read_text()
    for tool in ("apt-get", "gcc", "build-essential", "curl"):
        assert tool not in everything
    env = FINAL.env()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == "/tmp"


def test_entrypoint_matches_the_package_and_the_chart() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [entrypoint] = FINAL.all("ENTRYPOINT")
    assert json.loads(entrypoint) == ["atlas-operator"]
    assert "atlas-operator" in project["project"]["scripts"]
    [cmd] = FINAL.all("CMD")
    assert json.loads(cmd)[0] == "run"
    # The chart replaces CMD with its own args, which must start with the same verb,
    # and probes the ports the image exposes.
    deployment = (CHART / "templates" / "deployment.yaml").read_text()
    assert re.search(r"args:\n\s+- run\n", deployment)
    assert FINAL.all("EXPOSE") == ["8080 8081"]
    assert "containerPort: 8080" in deployment
    assert "containerPort: 8081" in deployment
    # The chart's /tmp emptyDir is where the image's HOME points.
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["containerSecurityContext"]["readOnlyRootFilesystem"] is True
    assert "mountPath: /tmp" in deployment


def test_build_context_has_what_the_copies_need_and_nothing_else() -> None:
    context = build_context()
    for stage in STAGES:
        for sources, _ in copies(stage):
            for source in sources:
                assert any(p == source or p.startswith(f"{source}/") for p in context), source
    package = {str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*.py")}
    assert package <= set(context)
    assert "src/atlas_operator/py.typed" in context
    for excluded in ("tests/", "bench/", "charts/", ".venv/", ".git/", "quickstart.db"):
        assert not any(p.startswith(excluded) for p in context), excluded
    assert not any("__pycache__" in p for p in context)


def relocate(text: str, root: Path) -> str:
    return IMAGE_PATHS.sub(lambda m: f"{root}/{m.group(1)}", text)


def python_shim(root: Path) -> Path:
    """A bin directory whose `python` is this machine's base interpreter, as the base
    image's `python` is (a venv made from it does not depend on our test venv)."""
    shim = root / "shim"
    shim.mkdir()
    base = Path(getattr(sys, "_base_executable", sys.executable))
    (shim / "python").symlink_to(base)
    return shim


def run_build_stage(root: Path) -> None:
    """WORKDIR, COPY and RUN of the build stage, executed under `root`."""
    workdir = root
    context = build_context()
    env = {"PATH": f"{python_shim(root)}:/usr/bin:/bin", "HOME": str(root / "home")}
    env |= {k: relocate(v, root) for k, v in BUILD.env().items()}
    # A local pip cache only makes the test faster; the image keeps none.
    env.pop("PIP_NO_CACHE_DIR", None)
    for keyword, args in BUILD.instructions:
        if keyword == "WORKDIR":
            workdir = Path(relocate(args, root))
            workdir.mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY":
            *sources, destination = shlex.split(args)
            target = workdir / destination
            for source in sources:
                # Docker fails a COPY whose source is not in the context.
                assert any(p == source or p.startswith(f"{source}/") for p in context)
                for path in context:
                    if path == source:  # a file, into the destination directory
                        copied = target / Path(path).name
                    elif path.startswith(f"{source}/"):  # a directory's contents
                        copied = target / Path(path).relative_to(source)
                    else:
                        continue
                    copied.parent.mkdir(parents=True, exist_ok=True)
                    copied.write_bytes((ROOT / path).read_bytes())
        elif keyword == "RUN":
            result = subprocess.run(
                ["sh", "-c", relocate(args, root)],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]


def snapshot(directory: Path) -> set[Path]:
    return {p for p in directory.rglob("*")}


@pytest.mark.network
def test_image_build_steps_install_a_working_operator(tmp_path: Path) -> None:
    run_build_stage(tmp_path)
    venv = tmp_path / "opt" / "atlas-operator"
    assert (venv / "bin" / "atlas-operator").exists()
    assert not (venv / "bin" / "pip").exists()
    home = tmp_path / "tmp"
    home.mkdir()
    env = {k: relocate(v, tmp_path) for k, v in FINAL.env().items()}
    env["PATH"] = env["PATH"].replace("${PATH}", "/usr/bin:/bin")
    [entrypoint] = [json.loads(a) for a in FINAL.all("ENTRYPOINT")]
    before = snapshot(venv)

    def image(*args: str) -> str:
        result = subprocess.run(
            [*entrypoint, *args],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    [cmd] = [json.loads(a) for a in FINAL.all("CMD")]
    assert "usage: atlas-operator run" in image(*cmd, "--help")
    assert "kind: CustomResourceDefinition" in image("crds")
    (home / "quickstart.yaml").write_text(
        (ROOT / "examples" / "quickstart-sqlite.yaml").read_text()
    )
    assert "reason: Applied" in image("reconcile", "-f", "quickstart.yaml")
    # Read-only root filesystem: running wrote nothing into the installed tree.
    assert snapshot(venv) == before
    assert os.access(home / "quickstart.db", os.R_OK)
