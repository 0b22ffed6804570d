"""What the builders of Atlas HCL objects share (engine/hcl_objects.py).

`Target`: the dialect of the statements and whether names carry their schema. `Context`:
the blocks the document declares, so references may point forward, and the resolution
of references, types and interpolated text, each failing with an error that names the
block and the attribute. `Node`: the statements of one object and the blocks it needs
first.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from atlas_operator.engine.hcl_syntax import (
    REF,
    SQL_CALL,
    Grammar,
    HCLError,
    check_body,
    describe,
    keyword,
    labelled,
    literal,
    maybe_labelled,
    unlabelled,
    unquote,
)
from atlas_operator.engine.statements import Dialect

Ref = tuple[str, str]
"""(kind, name) of a block of the document: ("table", "users"), ("function", "audit")."""

DIALECT_NAMES = {Dialect.POSTGRES: "PostgreSQL", Dialect.MYSQL: "MySQL", Dialect.SQLITE: "SQLite"}
TYPE_KINDS = ("enum", "domain", "composite", "table")
"""What a column, argument or field type may reference (a table: its row type)."""
TEXT_KINDS = ("table", "view", "materialized", "function", "procedure", "enum", "domain",
              "composite", "sequence", "aggregate")  # fmt: skip
"""What `${kind.name.name}` may interpolate into a view's or routine's text."""
DEPENDABLE = (*TEXT_KINDS, "extension")
"""What `depends_on` may list."""
PG_TYPE_ALIASES = {
    "double_precision": "double precision",
    "character_varying": "character varying",
    "bit_varying": "bit varying",
}
SECURITY = ("DEFINER", "INVOKER")
"""`security` of routines and MySQL views."""
INTERPOLATION = re.compile(r"(?<!\$)\$\{([^}]*)\}")


# --- where the SQL goes -------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The dialect of the statements, and whether names carry their schema (realm
    scope) or not (schema scope: the dev session's schema is the HCL's one schema)."""

    dialect: Dialect
    qualify: bool

    def ident(self, name: str) -> str:
        """A quoted name, as the driver's planner quotes them."""
        if self.dialect == Dialect.POSTGRES:
            return '"' + name.replace('"', '""') + '"'
        return "`" + name.replace("`", "``") + "`"

    def string(self, text: str) -> str:
        if self.dialect == Dialect.MYSQL:  # backslashes escape unless NO_BACKSLASH_ESCAPES
            text = text.replace("\\", "\\\\")
        return "'" + text.replace("'", "''") + "'"

    def name(self, schema: str | None, name: str) -> str:
        if self.qualify and schema is not None and self.dialect != Dialect.SQLITE:
            return f"{self.ident(schema)}.{self.ident(name)}"
        return self.ident(name)


@dataclass(frozen=True)
class Declared:
    """A block of the document, as references see it."""

    kind: str
    name: str
    schema: str | None
    columns: tuple[str, ...] = ()

    @property
    def ref(self) -> Ref:
        return (self.kind, self.name)


@dataclass(frozen=True)
class Node:
    """Statements that create one object, and the blocks it needs first. `after_tables`
    objects (views, triggers, …) always run after the tables; `rank` orders nodes
    without dependencies between them (types before sequences before routines, …)."""

    ref: Ref
    where: str
    statements: tuple[str, ...]
    rank: int
    depends: frozenset[Ref] = frozenset()
    after_tables: bool = False

    @classmethod
    def of(
        cls,
        kind: str,
        name: str,
        where: str,
        statements: Iterable[str],
        depends: Iterable[Ref] = (),
        *,
        after_tables: bool = False,
    ) -> Node:
        """The node of block `kind "name"`, ranked by its kind."""
        refs = frozenset(depends)
        return cls((kind, name), where, tuple(statements), RANK[kind], refs, after_tables)


RANK = {
    "extension": 0, "enum": 1, "domain": 2, "composite": 3, "sequence": 4, "function": 5,
    "procedure": 6, "aggregate": 7, "partition": 10, "row_security": 11, "view": 12,
    "materialized": 13, "owner": 14, "trigger": 15, "policy": 16, "event": 17,
}  # fmt: skip


# --- the document's blocks and references -------------------------------------------------


class Context:
    """What every builder needs: the target, the grammar of its dialect, and the blocks
    of `kinds` (and tables) the document declares, so references may point forward."""

    def __init__(
        self, document: dict[str, Any], target: Target, grammar: Grammar, kinds: tuple[str, ...]
    ) -> None:
        self.target = target
        self.grammar = grammar
        self.schemas = {name for name, _ in labelled(document.get("schema", []), "schema", "")}
        self.declared: dict[Ref, list[Declared]] = defaultdict(list)
        for kind in ("table", *kinds):
            for name, body in labelled(document.get(kind, []), kind, ""):
                found = Declared(kind, name, schema_label(body), column_labels(body))
                self.declared[found.ref].append(found)

    def check(self, body: dict[str, Any], kind: str, where: str) -> None:
        check_body(body, kind, where, self.grammar)

    def children(
        self, body: dict[str, Any], kind: str, where: str, spec: str
    ) -> list[tuple[str | None, dict[str, Any]]]:
        """Inner `kind` blocks (labelled or not), each checked against grammar `spec`."""
        found = maybe_labelled(body.get(kind, []), kind, where)
        for name, inner in found:
            self.check(inner, spec, f'{where}: {kind} "{name}"' if name else f"{where}: {kind}")
        return found

    def single(self, body: dict[str, Any], kind: str, where: str, spec: str) -> dict[str, Any]:
        """The one unlabelled `kind` block of a body ({} when absent)."""
        blocks = unlabelled(body, kind, where, self.grammar, spec)
        return blocks[0] if blocks else {}

    # names

    def lookup(self, kind: str, name: str, where: str) -> Declared:
        found = self.declared.get((kind, name), [])
        if not found:
            raise HCLError(f'{where}: {kind} "{name}" is not defined')
        schemas = {d.schema for d in found}
        if len(schemas) > 1:
            raise HCLError(
                f'{where}: {kind} "{name}" is defined in several schemas '
                "(qualified references are not supported)"
            )
        return found[0]

    def sql(self, declared: Declared) -> str:
        return self.target.name(declared.schema, declared.name)

    def schema(self, body: dict[str, Any], where: str, *, required: bool = True) -> str | None:
        """The schema a block names (`schema = schema.public`), which must be defined."""
        value = body.get("schema")
        if value is None:
            if required:
                raise HCLError(f"{where}: the schema attribute is required")
            return None
        name = reference_parts(value, ("schema",), f'{where}: attribute "schema"', 2)[1]
        if name not in self.schemas:
            raise HCLError(f'{where}: schema "{name}" is not defined')
        return name

    def reference(self, value: Any, kinds: tuple[str, ...], where: str, deps: set[Ref]) -> Declared:
        """`${view.v}` → the view "v" (which `deps` then holds)."""
        kind, name = reference_parts(value, kinds, where, 2)
        found = self.lookup(kind, name, where)
        deps.add(found.ref)
        return found

    def references(
        self, values: Any, kinds: tuple[str, ...], where: str, deps: set[Ref]
    ) -> list[Declared]:
        return [self.reference(v, kinds, where, deps) for v in values or []]

    def column(
        self, value: Any, kinds: tuple[str, ...], where: str, deps: set[Ref]
    ) -> tuple[Declared, str]:
        """`${table.t.column.c}` → (the table "t", "c"); the column must be defined."""
        kind, name, column_word, column = reference_parts(value, kinds, where, 4)
        if column_word != "column":
            raise HCLError(f"{where}: expected a reference like {kinds[0]}.<name>.column.<name>")
        found = self.lookup(kind, name, where)
        if column not in found.columns:
            raise HCLError(f'{where}: {kind} "{name}" has no column "{column}"')
        deps.add(found.ref)
        return found, column

    # values

    def type(self, value: Any, where: str, deps: set[Ref]) -> str:
        """A type as SQL: `int`, `varchar(255)`, `sql("int[]")`, or the (qualified)
        name of a referenced enum, domain, composite type or table."""
        text = str(value)
        match = REF.match(text)
        if not match:
            aliases = PG_TYPE_ALIASES if self.target.dialect == Dialect.POSTGRES else {}
            return aliases.get(text, text)
        expr = match.group(1)
        call = SQL_CALL.match(expr)
        if call:
            return unquote(call.group(1))
        kind = expr.split(".", 1)[0]
        if kind in TYPE_KINDS and "." in expr:
            if self.target.dialect != Dialect.POSTGRES:
                raise HCLError(f"{where}: {kind} types are supported on PostgreSQL only")
            return self.sql(self.reference(value, TYPE_KINDS, where, deps))
        return expr

    def text(self, value: Any, where: str, deps: set[Ref]) -> str:
        """A string with Atlas's interpolations: `${table.users.name}` is the table's
        name (and a dependency); `$${` is a literal `${`."""

        def name(match: re.Match[str]) -> str:
            parts = [p.strip().strip('"') for p in match.group(1).split(".")]
            if len(parts) != 3 or parts[0] not in TEXT_KINDS or parts[2] != "name":
                raise HCLError(
                    f"{where}: the expression ${{{match.group(1)}}} is not supported "
                    "(only ${<kind>.<name>.name})"
                )
            found = self.lookup(parts[0], parts[1], where)
            deps.add(found.ref)
            return found.name

        return INTERPOLATION.sub(name, unquote(value)).replace("$${", "${").replace("%%{", "%{")

    def literal(self, value: Any) -> str:
        return literal(value, self.target.string)

    def comment(self, body: dict[str, Any], what: str) -> list[str]:
        """`COMMENT ON <what> IS '…'` when the block has a comment (PostgreSQL)."""
        if "comment" not in body:
            return []
        return [f"COMMENT ON {what} IS {self.target.string(unquote(body['comment']))}"]


def schema_label(body: dict[str, Any]) -> str | None:
    """The schema a block names, leniently (the builders report a wrong one)."""
    match = REF.match(str(body.get("schema", "")))
    parts = match.group(1).split(".") if match else []
    return parts[1].strip('"') if len(parts) == 2 and parts[0] == "schema" else None


def column_labels(body: dict[str, Any]) -> tuple[str, ...]:
    blocks = body.get("column", [])
    if not isinstance(blocks, list):
        return ()
    labels = [label for block in blocks if isinstance(block, dict) for label in block]
    return tuple(unquote(label) for label in labels if label != "__is_block__")


def reference_parts(value: Any, kinds: tuple[str, ...], where: str, size: int) -> list[str]:
    """`${kind.a.b}` → ["kind", "a", "b"], when `kind` is one of `kinds` and the reference
    has `size` segments."""
    match = REF.match(value) if isinstance(value, str) else None
    parts = [p.strip('"') for p in match.group(1).split(".")] if match else []
    if len(parts) != size or parts[0] not in kinds:
        shape = ".<name>" if size == 2 else ".<name>.column.<name>"
        like = " or ".join(f"{k}{shape}" for k in kinds)
        raise HCLError(f"{where}: expected a reference like {like}, got {describe(value)}")
    return parts


def required(body: dict[str, Any], name: str, where: str) -> Any:
    if name not in body:
        raise HCLError(f"{where}: the {name} attribute is required")
    return body[name]


def word(body: dict[str, Any], name: str, allowed: tuple[str, ...], where: str) -> str | None:
    """A keyword attribute such as `volatility = IMMUTABLE`, checked against `allowed`."""
    if name not in body:
        return None
    return keyword(body[name], allowed, f'{where}: attribute "{name}"')


def statement_body(text: str) -> str:
    """A query or body as written, without the trailing semicolon and blank space."""
    return text.strip().rstrip(";").rstrip()


def depends_on(body: dict[str, Any], where: str, ctx: Context, deps: set[Ref]) -> None:
    """Atlas's explicit ordering hint: `depends_on = [table.t, view.v]`."""
    at = f'{where}: attribute "depends_on"'
    ctx.references(body.get("depends_on"), DEPENDABLE, at, deps)
