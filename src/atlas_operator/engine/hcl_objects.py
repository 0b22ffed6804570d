"""Atlas HCL blocks other than schemas and tables → the SQL statements that create them.

Each block kind has one builder in the `KINDS` dispatch table (`view_nodes`,
`routine_nodes("function")`, …). A builder checks the block against its dialect's grammar
(`GRAMMARS`), resolves every reference through the `Context` (a `kind.name` that the
document does not define is an error naming the block and the attribute) and returns
`Node`s: statements, plus the blocks they depend on. `order_nodes` then splits the nodes
into those that run before the tables (extensions, types, sequences, routines a table
may use) and those that run after them (views, triggers, policies, partitions, and
anything that depends on a table or on one of those), each part in dependency order.

Kinds and dialects, as Atlas spells them:
- PostgreSQL: extension, enum, domain, composite, sequence, function, procedure,
  aggregate, view, materialized, trigger, policy, partition (of a partitioned table).
- MySQL/MariaDB: view, function, procedure, trigger, event. SQLite: view, trigger.

The SQL only has to create the objects on an empty dev database: the result is
inspected there, so details that do not change the object are left to the database.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from atlas_operator.engine.hcl_context import (
    DIALECT_NAMES,
    Context,
    Node,
    Ref,
    schema_label,
)
from atlas_operator.engine.hcl_routines import aggregate_nodes, event_nodes, routine_nodes
from atlas_operator.engine.hcl_syntax import (
    BOOL,
    INT,
    LITERAL,
    REFERENCE,
    REFERENCES,
    STRING,
    STRINGS,
    TYPE,
    WORD,
    WORDS,
    Grammar,
    HCLError,
    labelled,
)
from atlas_operator.engine.hcl_types import (
    composite_nodes,
    domain_nodes,
    enum_nodes,
    extension_nodes,
    partition_nodes,
    sequence_nodes,
)
from atlas_operator.engine.hcl_views import (
    TIMINGS,
    materialized_nodes,
    policy_nodes,
    trigger_nodes,
    view_nodes,
)
from atlas_operator.engine.statements import Dialect

# --- grammars -----------------------------------------------------------------------------

COLUMN = {"type": TYPE, "null": BOOL, "comment": STRING}
ARG = {"type": TYPE, "mode": WORD, "default": LITERAL}
EVENTS = {"insert": BOOL, "update": BOOL, "delete": BOOL, "truncate": BOOL, "update_of": REFERENCES}
MY_EVENTS = {"insert": BOOL, "update": BOOL, "delete": BOOL}
LITE_EVENTS = {"insert": BOOL, "update": BOOL, "delete": BOOL, "update_of": REFERENCES}
OBJECT = {"schema": REFERENCE, "comment": STRING}

POSTGRES_GRAMMAR = Grammar(
    attributes={
        "extension": {**OBJECT, "version": STRING, "depends_on": REFERENCES},
        "enum": {**OBJECT, "values": STRINGS},
        "domain": {**OBJECT, "type": TYPE, "null": BOOL, "default": LITERAL},
        "domain.check": {"expr": STRING, "comment": STRING},
        "composite": OBJECT,
        "composite.field": {"type": TYPE, "collate": STRING},
        "sequence": {**OBJECT, "type": TYPE, "start": INT, "increment": INT, "min_value": INT,
                     "max_value": INT, "cache": INT, "cycle": BOOL, "owner": REFERENCE},
        "function": {**OBJECT, "lang": WORD, "as": STRING, "return": TYPE, "return_set": TYPE,
                     "volatility": WORD, "security": WORD, "strict": BOOL, "leakproof": BOOL,
                     "parallel": WORD, "cost": INT, "rows": INT, "depends_on": REFERENCES},
        "function.arg": ARG,
        "function.return_table.column": {"type": TYPE},
        "procedure": {**OBJECT, "lang": WORD, "as": STRING, "security": WORD,
                      "depends_on": REFERENCES},
        "procedure.arg": ARG,
        "aggregate": {**OBJECT, "state_type": TYPE, "state_func": REFERENCE,
                      "initial_value": LITERAL, "parallel": WORD, "depends_on": REFERENCES},
        "aggregate.arg": ARG,
        "view": {**OBJECT, "as": STRING, "check_option": WORD, "security_barrier": BOOL,
                 "security_invoker": BOOL, "depends_on": REFERENCES},
        "view.column": COLUMN,
        "materialized": {**OBJECT, "as": STRING, "depends_on": REFERENCES},
        "materialized.column": COLUMN,
        "materialized.index": {"columns": REFERENCES, "unique": BOOL, "type": WORD,
                               "where": STRING, "comment": STRING},
        "materialized.index.on": {"column": REFERENCE, "expr": STRING, "desc": BOOL},
        "trigger": {"on": REFERENCE, "for": WORD, "foreach": WORD, "when": STRING,
                    "comment": STRING},
        **{f"trigger.{t}": EVENTS for t in TIMINGS},
        "trigger.execute": {"function": REFERENCE, "procedure": REFERENCE, "args": STRINGS},
        "trigger.referencing": {"old_table": STRING, "new_table": STRING},
        "policy": {"on": REFERENCE, "as": WORD, "for": WORD, "to": WORDS, "using": STRING,
                   "check": STRING, "comment": STRING},
        "partition": {**OBJECT, "of": REFERENCE},
        "partition.range": {"from": STRINGS, "to": STRINGS},
        "partition.list": {"in": STRINGS},
        "partition.hash": {"modulus": INT, "remainder": INT},
    },
    blocks={
        "domain": ("check",),
        "composite": ("field",),
        "function": ("arg", "return_table", "config"),
        "function.return_table": ("column",),
        "procedure": ("arg", "config"),
        "aggregate": ("arg",),
        "view": ("column",),
        "materialized": ("column", "index"),
        "materialized.index": ("on",),
        "trigger": (*TIMINGS, "execute", "referencing"),
        "partition": ("range", "list", "hash"),
    },
    single=frozenset(
        {"function.return_table", *(f"trigger.{t}" for t in TIMINGS), "trigger.execute",
         "function.config", "procedure.config", "partition.range", "partition.list",
         "partition.hash"}
    ),
    free=frozenset({"function.config", "procedure.config"}),
)  # fmt: skip

MYSQL_ROUTINE = {**OBJECT, "as": STRING, "deterministic": BOOL, "data_access": WORD,
                 "security": WORD}  # fmt: skip
MYSQL_ARG = {"type": TYPE, "mode": WORD, "charset": STRING, "collate": STRING}
MYSQL_GRAMMAR = Grammar(
    attributes={
        "view": {**OBJECT, "as": STRING, "check_option": WORD, "security": WORD,
                 "depends_on": REFERENCES},
        "view.column": {**COLUMN, "unsigned": BOOL},
        "function": {**MYSQL_ROUTINE, "return": TYPE},
        "function.arg": MYSQL_ARG,
        "procedure": MYSQL_ROUTINE,
        "procedure.arg": MYSQL_ARG,
        "trigger": {"on": REFERENCE, "for": WORD, "foreach": WORD, "as": STRING,
                    "follows": REFERENCE, "precedes": REFERENCE},
        "trigger.before": MY_EVENTS,
        "trigger.after": MY_EVENTS,
        "event": {**OBJECT, "as": STRING, "status": WORD, "on_completion": WORD,
                  "depends_on": REFERENCES},
        "event.on": {"at": LITERAL, "every": STRING, "starts": LITERAL, "ends": LITERAL},
    },
    blocks={
        "view": ("column",),
        "function": ("arg",),
        "procedure": ("arg",),
        "trigger": ("before", "after"),
        "event": ("on",),
    },
    single=frozenset({"trigger.before", "trigger.after", "event.on"}),
)  # fmt: skip

SQLITE_GRAMMAR = Grammar(
    attributes={
        "view": {**OBJECT, "as": STRING, "depends_on": REFERENCES},
        "view.column": COLUMN,
        "trigger": {"on": REFERENCE, "for": WORD, "foreach": WORD, "when": STRING, "as": STRING},
        **{f"trigger.{t}": LITE_EVENTS for t in TIMINGS},
    },
    blocks={"view": ("column",), "trigger": TIMINGS},
    single=frozenset(f"trigger.{t}" for t in TIMINGS),
)
GRAMMARS = {
    Dialect.POSTGRES: POSTGRES_GRAMMAR,
    Dialect.MYSQL: MYSQL_GRAMMAR,
    Dialect.SQLITE: SQLITE_GRAMMAR,
}


# --- the dispatch table and the order of the statements -----------------------------------

Builder = Callable[[str, dict[str, Any], Context], list[Node]]
ALL = frozenset({Dialect.POSTGRES, Dialect.MYSQL, Dialect.SQLITE})
PG = frozenset({Dialect.POSTGRES})
KINDS: dict[str, tuple[Builder, frozenset[Dialect]]] = {
    "extension": (extension_nodes, PG),
    "enum": (enum_nodes, PG),
    "domain": (domain_nodes, PG),
    "composite": (composite_nodes, PG),
    "sequence": (sequence_nodes, PG),
    "function": (routine_nodes("function"), PG | {Dialect.MYSQL}),
    "procedure": (routine_nodes("procedure"), PG | {Dialect.MYSQL}),
    "aggregate": (aggregate_nodes, PG),
    "view": (view_nodes, ALL),
    "materialized": (materialized_nodes, PG),
    "trigger": (trigger_nodes, ALL),
    "policy": (policy_nodes, PG),
    "partition": (partition_nodes, PG),
    "event": (event_nodes, frozenset({Dialect.MYSQL})),
}
"""Block kind → (its builder, the dialects it exists in)."""
REPEATABLE = frozenset({"function", "procedure", "aggregate", "trigger", "policy"})
"""Kinds whose names may repeat (overloaded routines; triggers and policies of
different tables): references to them depend on every block of the name."""


def object_nodes(document: dict[str, Any], ctx: Context) -> list[Node]:
    """Every object block of the document, built by its kind's builder."""
    nodes: list[Node] = []
    for kind, (build, dialects) in KINDS.items():
        blocks = labelled(document.get(kind, []), kind, "")
        if blocks and ctx.target.dialect not in dialects:
            dialect = DIALECT_NAMES.get(ctx.target.dialect, str(ctx.target.dialect))
            first = blocks[0][0]
            raise HCLError(f'{kind} "{first}": {kind} blocks are not supported on {dialect}')
        seen: set[tuple[str | None, str]] = set()
        for name, body in blocks:
            key = (schema_label(body), name)
            if kind not in REPEATABLE and key in seen:
                raise HCLError(f'{kind} "{name}": defined twice')
            seen.add(key)
            nodes.extend(build(name, body, ctx))
    return nodes


def order_nodes(
    nodes: list[Node], table_deps: list[tuple[str, frozenset[Ref]]]
) -> tuple[list[Node], list[Node]]:
    """(the nodes that run before the tables, those that run after them), each in
    dependency order. `table_deps` has, per table, where it is defined and the blocks
    it depends on (the types of its columns and its `depends_on`)."""
    provides: dict[Ref, list[int]] = defaultdict(list)
    for index, node in enumerate(nodes):
        provides[node.ref].append(index)
    after = after_tables(nodes, provides)
    for where, deps in table_deps:
        for index in closure(nodes, provides, deps):
            if index in after:
                kind, name = nodes[index].ref
                raise HCLError(
                    f'{where}: depends on {kind} "{name}", which depends on a table itself '
                    "(a dependency cycle)"
                )
    before = [i for i in range(len(nodes)) if i not in after]
    return sort(nodes, before, provides), sort(nodes, sorted(after), provides)


def after_tables(nodes: list[Node], provides: dict[Ref, list[int]]) -> set[int]:
    """The nodes that must run after the tables: views, triggers, … and every node that
    depends, directly or not, on a table or on one of those."""
    after = {i for i, node in enumerate(nodes) if node.after_tables}
    changed = True
    while changed:
        changed = False
        for index, node in enumerate(nodes):
            if index in after:
                continue
            if any(needs_tables(ref, after, provides) for ref in node.depends):
                after.add(index)
                changed = True
    return after


def needs_tables(ref: Ref, after: set[int], provides: dict[Ref, list[int]]) -> bool:
    return ref[0] == "table" or bool(after.intersection(provides.get(ref, ())))


def closure(nodes: list[Node], provides: dict[Ref, list[int]], refs: Iterable[Ref]) -> set[int]:
    """The nodes `refs` need, directly or not."""
    found: set[int] = set()
    pending = list(refs)
    while pending:
        for index in provides.get(pending.pop(), ()):
            if index not in found:
                found.add(index)
                pending.extend(nodes[index].depends)
    return found


def sort(nodes: list[Node], members: list[int], provides: dict[Ref, list[int]]) -> list[Node]:
    """Kahn's algorithm over `members`: a node after the nodes it depends on, otherwise
    by rank, then document order. A cycle is an error naming its blocks."""
    inside = set(members)
    waits = {
        i: {j for ref in nodes[i].depends for j in provides.get(ref, ()) if j in inside and j != i}
        for i in members
    }
    ready = [(nodes[i].rank, i) for i in members if not waits[i]]
    heapq.heapify(ready)
    out: list[Node] = []
    while ready:
        _, index = heapq.heappop(ready)
        out.append(nodes[index])
        for other in members:
            if index in waits[other]:
                waits[other].discard(index)
                if not waits[other]:
                    heapq.heappush(ready, (nodes[other].rank, other))
    if len(out) < len(members):
        stuck = sorted({nodes[i].where for i in members if waits[i]})
        raise HCLError(f"{stuck[0]}: dependency cycle between {', '.join(stuck)}")
    return out
