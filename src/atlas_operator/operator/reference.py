"""The field reference of both resources, generated from the CRDs (so from the models).

`python -m atlas_operator.operator.reference README.md` (`make docs`) rewrites the
README's generated section; a test fails when it is out of date. Shared building
blocks (Secret and ConfigMap references, conditions) are described once and named
where they are used, so the tables stay readable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from atlas_operator.operator.crd import build_crd, model_schema
from atlas_operator.operator.resources import (
    RESOURCE_KINDS,
    Condition,
    ConfigMapKeySelector,
    LocalObjectReference,
    Resource,
    SecretKeySelector,
    SecretRef,
)

BEGIN = "<!-- BEGIN GENERATED field reference: make docs -->"
END = "<!-- END GENERATED field reference -->"

# Types documented once; a property whose schema is one of these is one row.
SHARED_TYPES: dict[str, type[BaseModel]] = {
    "SecretRef": SecretRef,
    "SecretKeySelector": SecretKeySelector,
    "ConfigMapKeySelector": ConfigMapKeySelector,
    "LocalObjectReference": LocalObjectReference,
    "Condition": Condition,
}


def without_descriptions(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: without_descriptions(v) for k, v in schema.items() if k != "description"}
    if isinstance(schema, list):
        return [without_descriptions(v) for v in schema]
    return schema


def schema_key(schema: dict[str, Any]) -> str:
    return json.dumps(without_descriptions(schema), sort_keys=True)


SHARED_SCHEMAS: dict[str, list[str]] = {}
for _name, _model in SHARED_TYPES.items():
    SHARED_SCHEMAS.setdefault(schema_key(model_schema(_model)), []).append(_name)
# Secret and ConfigMap key selectors have the same shape; the property name tells them apart.
SELECTOR_BY_PROPERTY = {
    "secretKeyRef": "SecretKeySelector",
    "configMapKeyRef": "ConfigMapKeySelector",
}


def shared_type(schema: dict[str, Any], property_name: str = "") -> str | None:
    names = SHARED_SCHEMAS.get(schema_key(schema), [])
    if len(names) > 1:
        preferred = SELECTOR_BY_PROPERTY.get(property_name)
        return preferred if preferred in names else names[0]
    return names[0] if names else None


def type_name(schema: dict[str, Any], property_name: str = "") -> str:
    """A short type: a shared type's name, `[]T` for arrays, `map[string]T`, enums."""
    shared = shared_type(schema, property_name)
    if shared:
        return f"[{shared}](#{shared.lower()})"
    kind = str(schema.get("type", "object"))
    if kind == "array":
        return "[]" + type_name(schema.get("items", {}))
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "map[string]" + type_name(schema["additionalProperties"])
    if "enum" in schema:
        return kind + ": " + " \\| ".join(f"`{v}`" for v in schema["enum"])
    return kind


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def rows(schema: dict[str, Any], path: str) -> list[str]:
    """One table row per property, depth first; shared types are not expanded."""
    lines = []
    for name, prop in schema.get("properties", {}).items():
        field = f"{path}.{name}" if path else name
        default = f"`{json.dumps(prop['default'])}`" if "default" in prop else ""
        description = cell(str(prop.get("description", "")))
        lines.append(f"| `{field}` | {type_name(prop, name)} | {default} | {description} |")
        if shared_type(prop, name):
            continue
        if prop.get("type") == "array" and not shared_type(prop.get("items", {})):
            lines.extend(rows(prop.get("items", {}), f"{field}[]"))
        else:
            lines.extend(rows(prop, field))
    return lines


HEADER = ["| Field | Type | Default | Description |", "|---|---|---|---|"]


def kind_reference(kind: type[Resource]) -> str:
    crd = build_crd(kind)
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    lines = [f"#### {kind.kind_name}", "", *HEADER]
    for top in ("spec", "status"):
        lines += rows({"properties": {top: schema["properties"][top]}}, "")
    return "\n".join(lines) + "\n"


def shared_reference() -> str:
    lines = ["#### Shared types", ""]
    for name, model in SHARED_TYPES.items():
        schema = model_schema(model)
        doc = cell((model.__doc__ or "").strip())
        lines += [f"##### {name}", "", doc, "", *HEADER, *rows(schema, ""), ""]
    return "\n".join(lines)


def reference_markdown() -> str:
    parts = [kind_reference(kind) for kind in RESOURCE_KINDS]
    return "\n".join([*parts, shared_reference()])


def replace_generated(text: str, generated: str) -> str:
    """`text` with the section between the markers replaced by `generated`."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n" + generated.rstrip("\n") + "\n" + text[end:]


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "README.md")
    text = path.read_text()
    updated = replace_generated(text, reference_markdown())
    if updated != text:
        path.write_text(updated)
        print(f"{path}: field reference updated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
