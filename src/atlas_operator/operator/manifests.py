"""Reading Kubernetes manifests from YAML files (local mode), with limits.

YAML is parsed by the C safe loader when PyYAML has it (the pure-Python one otherwise).
Before anything is built, one pass over the parser's events measures the input, so a
hostile file fails fast with a message naming the file and line instead of exhausting
memory or the stack:

- the file size (`MAX_MANIFEST_BYTES`);
- nesting depth (`MAX_DEPTH`): deep nesting would overflow the recursive constructor;
- aliases (`MAX_ALIASES`) and the size of the document with every alias expanded
  (`MAX_EXPANDED_NODES`): an "alias bomb" is small on disk and shared in memory, but the
  models and the status writer walk it as a tree, billions of nodes wide;
- recursive aliases (a node that contains itself), which no Kubernetes object has.

Every document must then look like a Kubernetes object (a mapping with string `kind`,
`apiVersion`, a `metadata` mapping with a non-empty `name`), and Secrets and ConfigMaps
must hold string data. Every failure is a `ManifestError`: one line, naming the file,
the line or the document and field, never a value from a Secret.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import yaml

Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_MANIFEST_BYTES: Final = 8 * 1024 * 1024
MAX_DEPTH: Final = 100
MAX_ALIASES: Final = 10_000
MAX_EXPANDED_NODES: Final = 1_000_000


class ManifestError(ValueError):
    """A manifest that cannot be used; the message is one line naming the file."""


@dataclass(frozen=True)
class Manifest:
    """One document of a manifest file, with where it came from (for messages)."""

    source: str
    index: int
    """1-based position of the document in its file."""
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind") or "")

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"].get("namespace") or "default")

    def where(self) -> str:
        """`file: document N (Kind "name")`, the prefix of messages about this document."""
        metadata = self.body.get("metadata")
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        label = f'{self.kind} "{name}"' if isinstance(name, str) and name else self.kind
        return f"{self.source}: document {self.index}" + (f" ({label})" if label else "")


def load_manifests(text: str | bytes, source: str) -> list[Manifest]:
    """The documents of one file, measured, parsed and checked; empty documents skipped."""
    size = len(text.encode() if isinstance(text, str) else text)
    if size > MAX_MANIFEST_BYTES:
        raise ManifestError(
            f"{source}: {size} bytes is over the limit of {MAX_MANIFEST_BYTES} bytes per file"
        )
    if isinstance(text, bytes):
        text = decode(text, source)
    try:
        measure(yaml.parse(text, Loader=Loader), source)
        documents = list(yaml.load_all(text, Loader=Loader))
    except yaml.YAMLError as err:
        raise ManifestError(f"{source}: {yaml_problem(err)}") from None
    manifests = [
        Manifest(source, index, check_document(doc, source, index))
        for index, doc in enumerate(documents, start=1)
        if doc is not None
    ]
    for manifest in manifests:
        check_object_data(manifest)
    return manifests


def decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ManifestError(f"{source}: not UTF-8 text (byte {err.start})") from None


def yaml_problem(err: yaml.YAMLError) -> str:
    """`line L, column C: problem (context)` from a PyYAML error, on one line."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        parts = [p for p in (err.context, err.problem) if p]
        return one_line(where + "; ".join(parts) or str(err))
    return one_line(str(err))


def one_line(text: str) -> str:
    return " ".join(text.split())


def at(mark: Any) -> str:
    """`line N` of a PyYAML mark (the C and Python loaders have distinct Mark classes)."""
    return f"line {mark.line + 1}" if mark is not None else "the input"


def measure(events: Iterable[yaml.Event], source: str) -> None:
    """Checks depth, aliases and the expanded size from the event stream, in one pass.

    Each open collection has a node counter; an alias adds its anchor's counted size, so
    the total is the size of the document with every alias expanded, computed without
    expanding anything. An alias to an anchor still open is a recursive structure.
    """
    sizes: dict[str, int] = {}
    open_anchors: set[str] = set()
    stack: list[tuple[int, str | None]] = []  # (nodes so far, anchor of the collection)
    total = aliases = 0
    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            sizes.clear()  # anchors do not cross documents
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise ManifestError(
                    f"{source}: {at(event.start_mark)}: more than {MAX_ALIASES} aliases"
                )
            if event.anchor in open_anchors:
                raise ManifestError(
                    f"{source}: {at(event.start_mark)}: alias *{event.anchor} refers to a node "
                    "that contains it (a recursive structure)"
                )
            total = add_nodes(stack, sizes.get(event.anchor or "", 1), total, event, source)
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor:
                sizes[event.anchor] = 1
            total = add_nodes(stack, 1, total, event, source)
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(stack) >= MAX_DEPTH:
                raise ManifestError(
                    f"{source}: {at(event.start_mark)}: nested more than {MAX_DEPTH} levels deep"
                )
            if event.anchor:
                open_anchors.add(event.anchor)
            stack.append((1, event.anchor))
        elif isinstance(event, yaml.CollectionEndEvent):
            nodes, anchor = stack.pop()
            if anchor:
                open_anchors.discard(anchor)
                sizes[anchor] = nodes
            total = add_nodes(stack, nodes, total, event, source)


def add_nodes(
    stack: list[tuple[int, str | None]], nodes: int, total: int, event: yaml.Event, source: str
) -> int:
    """Adds `nodes` to the enclosing collection (or to the document total at the top)."""
    if stack:
        count, anchor = stack[-1]
        count += nodes
        stack[-1] = (count, anchor)
    else:
        total += nodes
    if total + sum(count for count, _ in stack) > MAX_EXPANDED_NODES:
        raise ManifestError(
            f"{source}: {at(event.start_mark)}: the document expands to more than "
            f"{MAX_EXPANDED_NODES} nodes (aliases included)"
        )
    return total


def check_document(doc: object, source: str, index: int) -> dict[str, Any]:
    """A document shaped like a Kubernetes object, or a `ManifestError` naming the field."""
    where = f"{source}: document {index}"
    if not isinstance(doc, dict):
        raise ManifestError(
            f"{where}: expected a mapping (a Kubernetes object), got {kind_of(doc)}"
        )
    for key in ("apiVersion", "kind"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise ManifestError(f"{where}: {key} is required and must be a string")
    where += f" ({doc['kind']})"
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        raise ManifestError(f"{where}: metadata is required and must be a mapping")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise ManifestError(f"{where}: metadata.name is required and must be a non-empty string")
    namespace = metadata.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise ManifestError(f"{where}: metadata.namespace must be a string")
    return doc


def check_object_data(manifest: Manifest) -> None:
    """Secret and ConfigMap data are string maps (Secret `data` base64-encoded UTF-8)."""
    if manifest.body.get("apiVersion") != "v1" or manifest.kind not in ("Secret", "ConfigMap"):
        return
    for field in ("data", "stringData") if manifest.kind == "Secret" else ("data",):
        values = manifest.body.get(field)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ManifestError(f"{manifest.where()}: {field} must be a mapping")
        for key, value in values.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ManifestError(
                    f"{manifest.where()}: {field}.{key}: must be a string, got {kind_of(value)}"
                    + (" (quote it)" if isinstance(value, int | float | bool) else "")
                )


def secret_data(manifest: Manifest) -> dict[str, str]:
    """A Secret's values: `data` decoded, then `stringData` over it (as the API server)."""
    data: dict[str, str] = {}
    for key, value in (manifest.body.get("data") or {}).items():
        try:
            data[key] = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, ValueError):
            raise ManifestError(
                f"{manifest.where()}: data.{key}: not base64-encoded UTF-8 text"
            ) from None
    data.update(manifest.body.get("stringData") or {})
    return data


def kind_of(value: object) -> str:
    """A YAML-ish name of a value's type, for messages (never the value itself)."""
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "a mapping", type(None): "null", bytes: "binary data"}
    return names.get(type(value), type(value).__name__)
