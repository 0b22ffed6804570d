"""The README keeps its promises: the two first commands, every reason explained,
every chart value documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

from atlas_operator.operator import conditions

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def test_readme_starts_with_the_two_commands() -> None:
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["make quickstart", "make test"]
    assert README.index("```sh") < README.index("\n## ")


def test_every_reason_is_in_the_troubleshooting_table() -> None:
    table = section("Troubleshooting")
    reasons = {
        value
        for name, value in vars(conditions).items()
        if name.startswith("REASON_") and isinstance(value, str)
    }
    assert reasons
    for reason in reasons:
        assert f"| `{reason}` |" in table, reason


def test_every_chart_value_is_documented() -> None:
    schema = json.loads((ROOT / "charts/atlas-operator/values.schema.json").read_text())
    install = section("Install")
    for key in schema["properties"]:
        if key == "global":
            continue
        assert f"`{key}" in install, key


def test_unsupported_drivers_are_stated_plainly() -> None:
    databases = section("Databases")
    for name in ("SQL Server", "ClickHouse", "Redshift"):
        assert name in databases
    assert "not supported" in databases


def reason_row(reason: str) -> str:
    table = section("Troubleshooting")
    start = table.index(f"| `{reason}` |")
    return table[start : table.index("\n", start)]


def test_a_bad_atlas_sum_is_listed_under_the_reason_it_gets() -> None:
    # tests/operator/test_local_migration.py: a checksum error is `Migrating`, as upstream
    assert "atlas.sum" in reason_row("Migrating")
    assert "atlas.sum" not in reason_row("ReadingMigrationData")
