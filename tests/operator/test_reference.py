"""The README's field reference is generated from the models and kept current."""

from __future__ import annotations

from pathlib import Path

from atlas_operator.operator import reference
from atlas_operator.operator.resources import RESOURCE_KINDS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_field_reference_is_current() -> None:
    text = README.read_text()
    assert reference.replace_generated(text, reference.reference_markdown()) == text, (
        "the README's field reference is stale: run `make docs`"
    )


def test_every_spec_field_has_a_described_row() -> None:
    markdown = reference.reference_markdown()
    for line in markdown.splitlines():
        if line.startswith("| `spec") or line.startswith("| `status"):
            description = line.rstrip(" |").rsplit("|", 1)[-1].strip()
            assert description, f"no description: {line}"
    for kind in RESOURCE_KINDS:
        assert f"#### {kind.kind_name}" in markdown


def test_shared_types_are_named_not_expanded() -> None:
    markdown = reference.reference_markdown()
    assert "| `spec.urlFrom` | [SecretRef](#secretref) |" in markdown
    assert "spec.urlFrom.secretKeyRef" not in markdown
    assert "| `spec.vars[].valueFrom.secretKeyRef` | [SecretKeySelector]" in markdown
    assert "| `spec.schema.configMapKeyRef` | [ConfigMapKeySelector]" in markdown
    assert '| `spec.txMode` | string: `file` \\| `all` \\| `none` | `"file"` |' in markdown


def test_replace_generated_keeps_the_rest() -> None:
    text = f"before\n{reference.BEGIN}\nold\n{reference.END}\nafter\n"
    assert reference.replace_generated(text, "new\n") == (
        f"before\n{reference.BEGIN}\nnew\n{reference.END}\nafter\n"
    )
