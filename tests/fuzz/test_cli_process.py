"""A handful of bad inputs through the real console script (a process each): one line on
stderr, exit 1, never a Python traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.test_fuzz_manifests import bomb


def atlas_operator(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atlas_operator.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ({"m.yaml": "a: [b\n"}, ["reconcile", "-f", "m.yaml"], "m.yaml: line 2"),
        ({"m.yaml": bomb(9)}, ["reconcile", "-f", "m.yaml"], "expands to more than"),
        ({}, ["reconcile", "-f", "missing.yaml"], "missing.yaml: cannot read"),
        (
            {
                "s.hcl": 'schema "main" {}\ntable "t" {\n  schema = schema.main\n  column "a" {\n'
                '    type = int\n    null = "yes"\n  }\n}\n'
            },
            ["schema", "apply", "-u", "sqlite://x.db", "--to", "file://s.hcl", "--dry-run"],
            'attribute "null" must be a bool',
        ),
        (
            {},
            ["schema", "inspect", "-u", "mysql://u:pw@127.0.0.1:1/db?charset=bogus"],
            'unknown charset "bogus"',
        ),
        (
            {"m/1_a.sql": "SELECT 1;\n", "m/1_b.sql": "SELECT 2;\n"},
            ["migrate", "validate", "--dir", "file://m"],
            "duplicate migration version",
        ),
    ],
)
def test_input_errors_are_one_line(
    tmp_path: Path, files: dict[str, str], args: list[str], message: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    result = atlas_operator(*args, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("atlas-operator: "), lines[0]
    assert message in lines[0], lines[0]
