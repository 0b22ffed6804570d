"""The values python-hcl2 hands over, and checking blocks against a grammar.

python-hcl2 keeps strings quoted (`"\\"text\\""`), heredocs with their markers, bare
keywords as plain text (`int`, `CASCADE`) and expressions as `${…}` (`${schema.public}`,
`${sql("now()")}`). This module turns those into Python values and checks every block
against a `Grammar`: the attributes each block kind takes (with the kind of value), and
the blocks it may hold. Anything else is an `HCLError` naming the block and attribute,
so an attribute the engine would ignore or misread never passes silently.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass
from typing import Any

from atlas_operator.engine.drivers.base import EngineError

REF = re.compile(r"^\$\{(.*)\}$", re.DOTALL)
SQL_CALL = re.compile(r'^sql\((".*")\)$', re.DOTALL)
HEREDOC = re.compile(r'^"<<(-?)(\w+)\n(.*?)\n?[ \t]*\2"$', re.DOTALL)
SOURCE = "schema.hcl"
"""How messages name the document: it may come from a file, a ConfigMap key or the spec."""


class HCLError(EngineError):
    """An Atlas HCL document this engine cannot evaluate."""


# --- kinds of values ----------------------------------------------------------------------

BOOL, STRING, INT, WORD, TYPE, REFERENCE, REFERENCES, LITERAL, STRINGS, WORDS = (
    "a bool",
    "a string",
    "an integer",
    "a keyword or a string",
    'a type such as int or sql("…")',
    "a reference",
    "a list of references",
    "a literal or sql(…)",
    "a list of strings",
    "a list of keywords or strings",
)


@dataclass(frozen=True)
class Grammar:
    """What each block kind may hold: `attributes[kind]` maps attribute names to the kind
    of value, `blocks[kind]` names the inner blocks. `single` blocks (by name or dotted
    path) may appear once; `free` blocks take attributes of any name with literal values
    (a function's `config { search_path = "…" }`)."""

    attributes: dict[str, dict[str, str]]
    blocks: dict[str, tuple[str, ...]]
    single: frozenset[str] = frozenset()
    free: frozenset[str] = frozenset()


def check_body(body: dict[str, Any], kind: str, where: str, grammar: Grammar) -> None:
    """Every key of a block is a known attribute with a value of its kind, or a known
    inner block; the first exception is raised, naming the block and the key."""
    attributes, blocks = grammar.attributes.get(kind, {}), grammar.blocks.get(kind, ())
    for key, value in body.items():
        if key == "__is_block__":
            continue
        if key in blocks:
            if not is_block_list(value):
                raise HCLError(f'{where}: "{key}" must be a block, not an attribute')
            single = key in grammar.single or f"{kind}.{key}" in grammar.single
            if single and len(value) > 1:
                raise HCLError(f"{where}: {key} block defined twice")
            continue
        if kind in grammar.free and not is_block_list(value):
            check_value(value, LITERAL, f'{where}: attribute "{key}"')
            continue
        if key not in attributes:
            noun = "block" if is_block_list(value) else "attribute"
            raise HCLError(
                f'{where}: unknown {noun} "{key}" (supported: {supported(kind, grammar)})'
            )
        check_value(value, attributes[key], f'{where}: attribute "{key}"')


def supported(kind: str, grammar: Grammar) -> str:
    names = [*grammar.attributes.get(kind, {}), *grammar.blocks.get(kind, ())]
    return ", ".join(names) or "none"


def check_value(value: Any, expected: str, where: str) -> None:
    if not value_matches(value, expected):
        raise HCLError(f"{where} must be {expected}, got {describe(value)}")


def value_matches(value: Any, expected: str) -> bool:
    quoted = isinstance(value, str) and value.startswith('"')
    expression = isinstance(value, str) and bool(REF.match(value))
    if expected == BOOL:
        return isinstance(value, bool)
    if expected == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == STRING:
        return quoted
    if expected == WORD:
        return isinstance(value, str) and not expression
    if expected == TYPE:
        return isinstance(value, str) and not quoted
    if expected == REFERENCE:
        return expression
    if expected in (REFERENCES, STRINGS, WORDS):
        item = {REFERENCES: REFERENCE, STRINGS: STRING, WORDS: WORD}[expected]
        return isinstance(value, list) and all(value_matches(v, item) for v in value)
    return isinstance(value, bool | int | float | str)  # LITERAL


def describe(value: Any) -> str:
    """The kind and a short rendering of an HCL value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"bool {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    text = str(value)
    shown = text if len(text) <= 40 else text[:37] + "…"
    if text.startswith('"'):
        return f"string {shown}"
    return f"expression {shown}" if REF.match(text) else f"keyword {shown}"


# --- blocks -------------------------------------------------------------------------------


def is_block_list(value: Any) -> bool:
    """python-hcl2's shape of blocks: a list of bodies (marked `__is_block__`), or for
    labelled blocks, of `{label: body}` mappings."""
    return isinstance(value, list) and all(is_block(item) for item in value)


def is_block(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    if item.get("__is_block__"):
        return True
    return bool(item) and all(is_block(body) for body in item.values())


def labelled(blocks: Any, kind: str, parent: str) -> list[tuple[str, dict[str, Any]]]:
    """`(label, body)` of each `kind "label" {…}` block; duplicates inside a parent are
    errors (top-level duplicates are judged by the caller, per schema)."""
    out: list[tuple[str, dict[str, Any]]] = []
    prefix = f"{parent}: " if parent else ""
    for block in blocks:
        for label, body in block.items():
            if label == "__is_block__":
                continue
            name = unquote(label)
            where = f'{prefix}{kind} "{name}"'
            if not isinstance(body, dict) or not body.get("__is_block__"):
                raise HCLError(f"{where}: expected a block with one label")
            if "for_each" in body:
                raise HCLError(f"{where}: for_each is not supported")
            if parent and any(n == name for n, _ in out):
                raise HCLError(f"{where}: defined twice")
            out.append((name, body))
    return out


def maybe_labelled(blocks: Any, kind: str, parent: str) -> list[tuple[str | None, dict[str, Any]]]:
    """Blocks that may carry a label or not (a function's `arg "x" {}` and `arg {}`)."""
    out: list[tuple[str | None, dict[str, Any]]] = []
    for block in blocks:
        if block.get("__is_block__"):
            out.append((None, block))
        else:
            out.extend(labelled([block], kind, parent))
    return out


def inner_blocks(
    body: dict[str, Any], kind: str, where: str, grammar: Grammar, spec: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The labelled `kind` blocks of a body, each checked against `spec` (default: kind)."""
    found = labelled(body.get(kind, []), kind, where)
    for name, inner in found:
        check_body(inner, spec or kind, f'{where}: {kind} "{name}"', grammar)
    return found


def unlabelled(
    body: dict[str, Any], kind: str, where: str, grammar: Grammar, spec: str | None = None
) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = body.get(kind, [])
    for block in blocks:
        if not block.get("__is_block__"):
            label = next(iter(block))
            raise HCLError(f"{where}: {kind} {label}: this block takes no label")
        check_body(block, spec or kind, f"{where}: {kind}", grammar)
    return blocks


# --- strings and references ---------------------------------------------------------------


def unquote(text: Any) -> str:
    """A string value's text: python-hcl2 keeps the quotes (and heredoc markers); a
    `<<-` heredoc loses its common indentation, as HCL's flush heredocs do."""
    value = str(text)
    heredoc = HEREDOC.match(value)
    if heredoc:
        flush, body = heredoc.group(1), heredoc.group(3)
        return textwrap.dedent(body) if flush else body
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            decoded: str = json.loads(value)
        except ValueError:
            # HCL escapes are a superset of JSON's (\uNNNNNNNN, ${…}); keep the text as is.
            return value[1:-1]
        return decoded
    return value


def string_attr(body: dict[str, Any], name: str, where: str = "") -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str) and REF.match(value):
        raise HCLError(f'{where}: attribute "{name}": expressions are not supported here')
    return unquote(value)


def reference_name(value: Any, kind: str, where: str) -> str:
    """`${schema.public}` → `public` (the last segment of a reference of `kind`)."""
    match = REF.match(str(value or "")) if isinstance(value, str) else None
    if not match or not match.group(1).startswith(f"{kind}."):
        raise HCLError(f"{where}: expected a reference like {kind}.<name>, got {describe(value)}")
    return match.group(1).split(".")[-1].strip('"')


def column_refs(values: Any, where: str) -> tuple[str, ...]:
    if not isinstance(values, list):
        raise HCLError(f"{where}: expected a list of column references")
    return tuple(reference_name(v, "column", where) for v in values)


def keyword(value: Any, allowed: tuple[str, ...], where: str) -> str:
    """A keyword attribute (`CASCADED`, or the string "cascaded"), upper-cased, which
    must be one of `allowed` (the message lists them)."""
    text = unquote(value).upper()
    if text not in allowed:
        raise HCLError(f"{where} must be one of {', '.join(allowed)}, got {describe(value)}")
    return text


def literal(value: Any, quote_string: Any) -> str:
    """An HCL value as SQL: strings quoted, `sql("expr")` raw, numbers and bools as is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    match = REF.match(text)
    if match:
        call = SQL_CALL.match(match.group(1))
        return unquote(call.group(1)) if call else match.group(1)
    rendered: str = quote_string(unquote(text))
    return rendered
