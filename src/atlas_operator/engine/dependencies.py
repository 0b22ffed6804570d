"""Dependencies between schema objects and tables, applied to a diff.

The inspectors record what depends on what (`Realm.dependencies`: a view on a table's
columns, a trigger on its function, a column on an enum, …). Before a diff is ordered,
`link_changes`:
1. gives each object change what it needs (`needs`) and whether tables depend on it
   (`anchored`: created before tables, dropped after them);
2. finds changes that break their dependents — an object that must be dropped and
   created again, a dropped object, a column whose type changes or that is dropped, a
   table the driver re-creates to change it — and drops and re-creates every
   dependent object around them, transitively;
3. carries the columns of a replaced type over to the new one where the driver can
   (an enum that loses a label) and adopts objects that exist as part of another
   (a serial column's sequence declared on its own);
4. refuses, with a message naming both, a change that would have to re-create a table.

Whether an object change can be made in place, and which column changes break
dependents, is the driver's knowledge (`DependencyRules`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from atlas_operator.engine.changes import (
    AddObject,
    Change,
    ColumnUse,
    DropColumn,
    DropObject,
    DropTable,
    ModifyColumn,
    ModifyObject,
    ModifyTable,
    TableChange,
)
from atlas_operator.engine.drivers.base import UnsupportedChangeError
from atlas_operator.engine.model import Column, ObjectRef, Realm, SchemaObject

ALWAYS_ANCHORED = frozenset({"extension", "collation"})
"""Kinds created before every table and dropped after them, whatever the catalogs say
(types and functions an extension brings are not modelled one by one; a column's
collation is recorded, but one in an index expression may not be)."""


class DependencyRules(Protocol):
    def replaces(self, before: SchemaObject, after: SchemaObject) -> bool:
        """Whether the object must be dropped and created again (not changed in place)."""
        ...

    def breaks_dependents(self, change: TableChange) -> bool:
        """Whether a table change needs the objects using the column out of the way."""
        ...

    def converts_columns(self, obj: SchemaObject) -> bool:
        """Whether table columns of this type can be carried over to a replacement."""
        ...

    def implicit_object(self, current: Realm, obj: SchemaObject) -> SchemaObject | None:
        """An object `current` has without modelling it (a serial column's sequence)
        that the new object `obj` would collide with, as the model would describe it."""
        ...

    def recreates_table(self, change: ModifyTable) -> bool:
        """Whether the driver makes this table change by building a new table in place
        of the old one (SQLite's rebuild: create, copy, drop, rename). Then every object
        depending on the table, not only on a changed column, is dropped before the
        change and created again after it, transitively."""
        ...


class DefaultRules:
    """Every object change replaces; dropped columns break their dependents."""

    def replaces(self, before: SchemaObject, after: SchemaObject) -> bool:
        return True

    def breaks_dependents(self, change: TableChange) -> bool:
        return isinstance(change, DropColumn)

    def converts_columns(self, obj: SchemaObject) -> bool:
        return False

    def implicit_object(self, current: Realm, obj: SchemaObject) -> SchemaObject | None:
        return None

    def recreates_table(self, change: ModifyTable) -> bool:
        return False


Element = tuple[str, str | None, str, str | None]
"""(kind, schema, name, table) of an object, or ("table", schema, name, None)."""


def element(ref: ObjectRef, bound: bool) -> Element:
    """A reference without its column, schema-less in schema scope (where the dev
    schema's name need not be the target's)."""
    schema = None if bound else ref.schema
    if ref.kind == "table":
        return ("table", schema, ref.name, None)
    return (ref.kind, schema, ref.name, ref.sub)


def object_element(schema: str | None, obj: SchemaObject, bound: bool) -> Element:
    return (obj.kind, None if bound else schema, obj.name, obj.table)


@dataclass
class Graph:
    """Who needs what, from one realm's recorded dependencies."""

    needs: dict[Element, set[Element]]
    dependents: dict[Element, set[Element]]
    column_dependents: dict[tuple[Element, str], set[Element]]

    @classmethod
    def of(cls, realm: Realm, bound: bool) -> Graph:
        needs: dict[Element, set[Element]] = defaultdict(set)
        dependents: dict[Element, set[Element]] = defaultdict(set)
        columns: dict[tuple[Element, str], set[Element]] = defaultdict(set)
        for dep in realm.dependencies:
            dependent, referenced = element(dep.dependent, bound), element(dep.referenced, bound)
            needs[dependent].add(referenced)
            dependents[referenced].add(dependent)
            if dep.referenced.kind == "table" and dep.referenced.sub:
                columns[(referenced, dep.referenced.sub)].add(dependent)
        return cls(needs, dependents, columns)

    def transitive_dependents(
        self, roots: Iterable[Element], modelled: Iterable[Element]
    ) -> set[Element]:
        """Modelled objects and tables depending on `roots`, through modelled objects
        only (a serial column's own sequence is the column's business)."""
        through = set(modelled)
        found: set[Element] = set()
        stack = list(roots)
        while stack:
            for dependent in self.dependents.get(stack.pop(), ()):
                if dependent in found:
                    continue
                if dependent[0] == "table":
                    found.add(dependent)
                elif dependent in through:
                    found.add(dependent)
                    stack.append(dependent)
        return found

    def tables_depend_on(self, item: Element) -> bool:
        return any(d[0] == "table" for d in self.dependents.get(item, ()))


def objects_of(realm: Realm, bound: bool) -> dict[Element, tuple[str | None, SchemaObject]]:
    found: dict[Element, tuple[str | None, SchemaObject]] = {}
    for schema in realm.schemas:
        for obj in schema.objects:
            found[object_element(schema.name, obj, bound)] = (schema.name, obj)
    for obj in realm.objects:
        found[object_element(None, obj, bound)] = (None, obj)
    return found


def link_changes(
    changes: Sequence[Change],
    current: Realm,
    desired: Realm,
    rules: DependencyRules,
    *,
    bound: bool,
) -> list[Change]:
    """The changes with dependents re-created around what breaks them, and every object
    change told what it needs and whether tables depend on it."""
    before, after = Graph.of(current, bound), Graph.of(desired, bound)
    existing, wanted = objects_of(current, bound), objects_of(desired, bound)
    dropped_tables = {
        ("table", None if bound else c.schema, c.table.name, None)
        for c in changes
        if isinstance(c, DropTable)
    }
    changes = adopt_implicit_objects(changes, current, desired, rules)
    replaced, dropped, in_the_way = broken_elements(changes, before, rules, bound)
    changes, converted, users = convert_columns(changes, current, desired, before, rules, bound)
    in_the_way = (in_the_way | users) & existing.keys()
    dependents = before.transitive_dependents(replaced | in_the_way, existing) | in_the_way
    dependents -= dropped_tables | converted
    refuse_table_dependents(dependents, replaced)
    # A dropped object's table users change in the same plan (the desired tables cannot
    # use what the desired state lacks): only its dependent objects go first, as do the
    # objects on a dropped table that the desired state keeps (on whatever replaces it).
    dependents |= {
        d
        for d in before.transitive_dependents(dropped | dropped_tables, existing)
        if d[0] != "table"
    }
    linked = recreate_dependents(changes, dependents, existing, wanted, bound)
    return [annotate(c, before, after, bound) for c in split_sequence_owners(linked)]


def adopt_implicit_objects(
    changes: Sequence[Change], current: Realm, desired: Realm, rules: DependencyRules
) -> list[Change]:
    """An object that exists, or is to exist, as part of something else (a serial
    column's sequence, declared on its own on the other side) is changed, never created
    next to it or dropped from under it."""
    out: list[Change] = []
    for change in changes:
        if isinstance(change, AddObject):
            existing = rules.implicit_object(current, change.object)
            if existing is not None:
                out.append(ModifyObject(change.schema, existing, change.object))
                continue
        if isinstance(change, DropObject):
            kept = rules.implicit_object(desired, change.object)
            if kept is not None:
                out.append(ModifyObject(change.schema, change.object, kept))
                continue
        out.append(change)
    return out


def convert_columns(
    changes: Sequence[Change],
    current: Realm,
    desired: Realm,
    before: Graph,
    rules: DependencyRules,
    bound: bool,
) -> tuple[list[Change], set[Element], set[Element]]:
    """Types that must be replaced while table columns use them and whose values the
    driver can carry over (`converts_columns`): the change lists those columns, so the
    plan converts them in place instead of refusing. Returns the changes, the tables
    whose columns are converted and the objects using those columns (in the way)."""
    out: list[Change] = []
    tables: set[Element] = set()
    users: set[Element] = set()
    for change in changes:
        if not (
            isinstance(change, ModifyObject)
            and rules.replaces(change.before, change.after)
            and rules.converts_columns(change.after)
        ):
            out.append(change)
            continue
        item = object_element(change.schema, change.before, bound)
        columns = []
        for dep in current.dependencies:
            ref = dep.dependent
            if ref.kind != "table" or not ref.sub or element(dep.referenced, bound) != item:
                continue
            table = element(ref, bound)
            tables.add(table)
            users |= before.column_dependents.get((table, ref.sub), set())
            column = desired_column(desired, ref)
            if column is not None:
                use = ColumnUse(ref.schema or "", ref.name, ref.sub, column.type, column.default)
                columns.append(use)
        if not columns:
            out.append(change)  # nothing to carry over: a plain drop and create
            continue
        out.append(replace(change, columns=tuple(sorted(set(columns), key=str))))
        if change.after.kind != "function":
            # The type renamed away goes once every table changed or went (a table the
            # plan drops may still use it until then).
            old = SchemaObject(kind=change.before.kind, name=renamed_away(change.before.name))
            out.append(DropObject(change.schema, old, recreate=True, anchored=True))
    return out, tables, users


def renamed_away(name: str) -> str:
    """The name a replaced type takes while its columns move to the new one."""
    return f"{name}__atlas_old"


def desired_column(desired: Realm, ref: ObjectRef) -> Column | None:
    """The column `ref` names, as the desired state has it (None: it goes away)."""
    for schema in desired.schemas:
        table = schema.table(ref.name)
        if table is not None and (len(desired.schemas) == 1 or schema.name == ref.schema):
            return table.column(ref.sub or "")
    return None


def broken_elements(
    changes: Sequence[Change], before: Graph, rules: DependencyRules, bound: bool
) -> tuple[set[Element], set[Element], set[Element]]:
    """Objects replaced (dropped and created again) and objects dropped, whose dependents
    cannot stay in place while the change runs, and the objects using columns a table
    change breaks or using a table the change re-creates (they cannot stay either)."""
    replaced: set[Element] = set()
    dropped: set[Element] = set()
    in_the_way: set[Element] = set()
    for change in changes:
        if isinstance(change, ModifyObject) and rules.replaces(change.before, change.after):
            replaced.add(object_element(change.schema, change.before, bound))
        elif isinstance(change, DropObject):
            dropped.add(object_element(change.schema, change.object, bound))
        elif isinstance(change, ModifyTable):
            table: Element = ("table", None if bound else change.schema, change.before.name, None)
            if rules.recreates_table(change):
                in_the_way.update(d for d in before.dependents.get(table, ()) if d[0] != "table")
            for c in change.changes:
                if not rules.breaks_dependents(c):
                    continue
                if isinstance(c, DropColumn):
                    column = c.column.name
                elif isinstance(c, ModifyColumn):
                    column = c.before.name
                else:
                    continue
                in_the_way.update(before.column_dependents.get((table, column), ()))
    return replaced, dropped, in_the_way


def refuse_table_dependents(dependents: set[Element], broken: set[Element]) -> None:
    """A table is never dropped to let something it uses change."""
    tables = sorted((d for d in dependents if d[0] == "table"), key=str)
    if not tables:
        return
    causes = sorted(f'{kind} "{name}"' for kind, _, name, _ in broken if kind != "table")
    table = tables[0][2]
    raise UnsupportedChangeError(
        f'cannot change {", ".join(causes) or "a column"}: table "{table}" depends on it and'
        " the change cannot be made in place; change the table's columns in a separate step"
    )


def recreate_dependents(
    changes: Sequence[Change],
    dependents: set[Element],
    existing: dict[Element, tuple[str | None, SchemaObject]],
    wanted: dict[Element, tuple[str | None, SchemaObject]],
    bound: bool,
) -> list[Change]:
    """Drops each dependent before and creates it again after (from the desired state).
    A dependent that is modified anyway becomes a drop and a create; one that goes away
    is dropped already."""
    handled: set[Element] = set()
    out: list[Change] = []
    for change in changes:
        if isinstance(change, (DropObject, ModifyObject)):
            obj = change.object if isinstance(change, DropObject) else change.before
            item = object_element(change.schema, obj, bound)
            if item in dependents:
                handled.add(item)
                if isinstance(change, ModifyObject):
                    out.append(DropObject(change.schema, change.before, recreate=True))
                    out.append(AddObject(change.schema, change.after, recreate=True))
                    continue
        out.append(change)
    for item in sorted(dependents - handled, key=str):
        if item not in existing or item[0] == "table":
            continue
        schema, obj = existing[item]
        out.append(DropObject(schema, obj, recreate=True))
        if item in wanted:
            new_schema, new_obj = wanted[item]
            # In schema scope the desired side is the dev schema, whose name need not be
            # the target's: the object is created again where it was.
            out.append(AddObject(schema if bound else new_schema, new_obj, recreate=True))
    return out


def split_sequence_owners(changes: Sequence[Change]) -> list[Change]:
    """A new sequence `OWNED BY` a column is created bare before the tables (a default
    may draw from it) and given its owner after them."""
    out: list[Change] = []
    for change in changes:
        if (
            isinstance(change, AddObject)
            and change.object.kind == "sequence"
            and change.object.attr("owned_by")
        ):
            obj = change.object
            bare = replace(obj, attrs=tuple(a for a in obj.attrs if a[0] != "owned_by"))
            out.append(replace(change, object=bare))
            out.append(ModifyObject(change.schema, bare, obj))
            continue
        out.append(change)
    return out


def annotate(change: Change, before: Graph, after: Graph, bound: bool) -> Change:
    if isinstance(change, DropObject):
        item = object_element(change.schema, change.object, bound)
        return replace(
            change,
            needs=needs_of(before, item, change.schema, bound),
            anchored=change.anchored or is_anchored(before, item),
        )
    if isinstance(change, (AddObject, ModifyObject)):
        obj = change.object if isinstance(change, AddObject) else change.after
        item = object_element(change.schema, obj, bound)
        needs = needs_of(after, item, change.schema, bound)
        if isinstance(change, AddObject) and obj.kind == "sequence":
            needs = tuple(n for n in needs if n.kind != "table")  # its owner comes later
        return replace(change, needs=needs, anchored=is_anchored(after, item))
    return change


def is_anchored(graph: Graph, item: Element) -> bool:
    return item[0] in ALWAYS_ANCHORED or graph.tables_depend_on(item)


def needs_of(graph: Graph, item: Element, schema: str | None, bound: bool) -> tuple[ObjectRef, ...]:
    """What `item` needs, named as changes name them (in schema scope, every element is
    in the change's own schema)."""
    return tuple(
        ObjectRef(kind, schema if bound else ref_schema, name, table)
        for kind, ref_schema, name, table in sorted(graph.needs.get(item, ()), key=str)
    )
