"""The lower bounds in pyproject.toml are the versions `make mintest` installs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_lower_bound_is_pinned_in_the_minimum_constraints() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bounds = {}
    for requirement in project["dependencies"]:
        match = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?>=([0-9.]+)", requirement)
        assert match, f"{requirement}: every dependency needs a lower bound"
        bounds[normalise(match.group(1))] = match.group(2)
    pins = {}
    for line in (ROOT / "constraints" / "minimum.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[normalise(name)] = version.strip()
    for name, version in bounds.items():
        pinned = pins.get(name, "")
        assert pinned.split(".")[: len(version.split("."))] == version.split(".") or (
            pinned == version
        ), f"{name}: pyproject says >={version}, constraints/minimum.txt pins {pinned!r}"
