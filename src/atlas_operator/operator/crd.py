"""Generates the CustomResourceDefinitions from the resource models.

The output is a structural OpenAPI v3 schema, as the API server requires: every
object is inlined (no `$ref`), optional fields are plain properties (no
`anyOf: [.., null]`), and Kubernetes extensions mark atomic references and the
free-form pod spec. Properties are emitted in sorted order so the YAML is stable.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from atlas_operator.operator.resources import (
    CRD_DEFAULT,
    CRD_INT64,
    GROUP,
    RESOURCE_KINDS,
    VERSION,
    Resource,
)

READY_COLUMNS = [
    {
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        "name": "Ready",
        "type": "string",
    },
    {
        "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
        "name": "Reason",
        "type": "string",
    },
]


def crd_file_name(kind: type[Resource]) -> str:
    """The file name of a CRD under `config/crd/`, as kubebuilder names it."""
    return f"{GROUP}_{kind.plural}.yaml"


def build_crd(kind: type[Resource]) -> dict[str, Any]:
    """The CustomResourceDefinition of one resource kind."""
    schema = model_schema(kind)
    # The API server fills `spec` from the manifest; only fields inside it are required.
    schema.pop("required", None)
    schema["description"] = (kind.__doc__ or "").strip()
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.kind_name,
                "listKind": f"{kind.kind_name}List",
                "plural": kind.plural,
                "singular": kind.kind_name.lower(),
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "additionalPrinterColumns": READY_COLUMNS,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def render_crds() -> str:
    """Both CRDs as one multi-document YAML stream."""
    return "---\n".join(render_crd(kind) for kind in RESOURCE_KINDS)


def render_crd(kind: type[Resource]) -> str:
    return yaml.safe_dump(build_crd(kind), sort_keys=True, width=1000)


def write_crds(directory: Path) -> list[Path]:
    """Writes one file per CRD into `directory` and returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in RESOURCE_KINDS:
        path = directory / crd_file_name(kind)
        path.write_text(render_crd(kind))
        written.append(path)
    return written


# --- schema of models and fields ----------------------------------------------


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural schema of a model: an object with one property per field."""
    if getattr(model, "crd_opaque", False):
        # metadata is validated by the API server itself, as for every CRD.
        return {"type": "object"}
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    required = []
    for name, field in model.model_fields.items():
        json_name = field.alias or name
        schema["properties"][json_name] = field_schema(field)
        if field.is_required():
            required.append(json_name)
    if required:
        schema["required"] = sorted(required)
    if model.model_config.get("extra") == "allow":
        schema["x-kubernetes-preserve-unknown-fields"] = True
    map_type = getattr(model, "crd_map_type", None)
    if map_type:
        schema["x-kubernetes-map-type"] = map_type
    return schema


def field_schema(field: FieldInfo) -> dict[str, Any]:
    schema = type_schema(field.annotation)
    if field.description:
        schema["description"] = field.description
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, Mapping) else {}
    if CRD_DEFAULT in extra:
        schema["default"] = extra[CRD_DEFAULT]
    if extra.get(CRD_INT64):
        schema["format"] = "int64"
    if "format" in extra:
        schema["format"] = extra["format"]
    schema.update(constraint_schema(field.metadata))
    return schema


def constraint_schema(metadata: list[Any]) -> dict[str, Any]:
    """OpenAPI keywords for the constraints pydantic keeps in a field's metadata."""
    schema: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, annotated_types.MaxLen):
            schema["maxLength"] = item.max_length
        elif isinstance(item, annotated_types.MinLen):
            schema["minLength"] = item.min_length
        elif isinstance(item, annotated_types.Ge):
            schema["minimum"] = item.ge
        elif getattr(item, "pattern", None) is not None:
            schema["pattern"] = item.pattern
    return schema


def type_schema(annotation: Any) -> dict[str, Any]:
    """The schema of a Python type annotation (optional wrappers removed)."""
    annotation = strip_optional(annotation)
    origin = get_origin(annotation)
    if origin is list:
        (item,) = get_args(annotation)
        return {"type": "array", "items": type_schema(item)}
    if origin is dict:
        _, value = get_args(annotation)
        return {"type": "object", "additionalProperties": type_schema(value)}
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            schema = model_schema(annotation)
            # The API server forbids anything but `type` on `metadata` (an opaque model).
            if annotation.__doc__ and not getattr(annotation, "crd_opaque", False):
                schema["description"] = annotation.__doc__.strip()
            return schema
        if issubclass(annotation, Enum):
            return {"type": "string", "enum": [member.value for member in annotation]}
        scalar = SCALARS.get(annotation)
        if scalar:
            return {"type": scalar}
    raise TypeError(f"no CRD schema for type {annotation!r}")


SCALARS: dict[type, str] = {str: "string", bool: "boolean", int: "integer"}


def strip_optional(annotation: Any) -> Any:
    """`X | None` → `X`; other unions are not part of the resource models."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unions other than X | None are not supported: {annotation!r}")
        return args[0]
    return annotation
