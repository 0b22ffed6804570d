"""The console script, run as users run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from atlas_operator import __version__


def atlas_operator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atlas_operator.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_version() -> None:
    result = atlas_operator("version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"atlas-operator version v{__version__}"


def test_crds_prints_both_crds() -> None:
    result = atlas_operator("crds")
    assert result.returncode == 0, result.stderr
    kinds = [doc["spec"]["names"]["kind"] for doc in yaml.safe_load_all(result.stdout)]
    assert kinds == ["AtlasSchema", "AtlasMigration"]


def test_crds_output_dir(tmp_path: Path) -> None:
    result = atlas_operator("crds", "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "db.atlasgo.io_atlasmigrations.yaml",
        "db.atlasgo.io_atlasschemas.yaml",
    ]


def test_unknown_verb_fails_with_usage() -> None:
    result = atlas_operator("frobnicate")
    assert result.returncode != 0
    assert "invalid choice" in result.stderr


def test_an_input_error_is_one_line_and_a_bug_is_labelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from atlas_operator import cli

    (tmp_path / "m.yaml").write_text("a: [b\n")
    assert cli.main(["reconcile", "-f", str(tmp_path / "m.yaml")]) == 1
    assert capsys.readouterr().err.count("\n") == 1

    def broken(args: object) -> None:
        raise TypeError("a bug")

    monkeypatch.setattr(cli, "cmd_version", broken)
    assert cli.main(["version"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("atlas-operator: internal error (a bug; please report it")
    assert "Traceback" in err


HEAVY_MODULES = (
    "pydantic",
    "kopf",
    "kubernetes",
    "kubernetes_asyncio",
    "psycopg",
    "pymysql",
    "yaml",
    "prometheus_client",
    "sqlglot",
    "aiohttp",
)


def test_the_command_line_starts_without_heavy_modules() -> None:
    """Building the parser (what every verb does first) imports no resource models,
    Kubernetes clients, database drivers or parsers: each verb imports what it uses,
    so a one-shot `version` or `migrate apply` starts fast (issue 19)."""
    probe = (
        "import sys, atlas_operator.cli as cli; cli.build_parser();"
        f" print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
