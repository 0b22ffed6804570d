"""Pure diff, skip, exclude and ordering logic on hand-built models."""

from __future__ import annotations

from atlas_operator.engine.changes import (
    AddColumn,
    AddForeignKey,
    AddTable,
    Change,
    DropColumn,
    DropForeignKey,
    DropTable,
    ModifyColumn,
    ModifyTable,
    destructive_changes,
    skip_changes,
)
from atlas_operator.engine.diff import diff_realms, diff_schemas, strip_parens
from atlas_operator.engine.exclude import exclude_realm
from atlas_operator.engine.model import (
    Check,
    Column,
    ForeignKey,
    Index,
    IndexPart,
    PrimaryKey,
    Realm,
    Schema,
    Table,
)
from atlas_operator.engine.plan import order_changes

ID = Column("id", "integer", nullable=False)


def table(name: str, *columns: Column, fks: tuple[ForeignKey, ...] = ()) -> Table:
    return Table(name, columns=(ID, *columns), primary_key=PrimaryKey(("id",)), foreign_keys=fks)


def fk(name: str, column: str, ref: str) -> ForeignKey:
    return ForeignKey(name, (column,), ref, ("id",))


def test_identical_models_have_no_changes() -> None:
    schema = Schema("public", (table("users", Column("name", "text")),))
    assert diff_schemas(schema, schema) == []


def test_column_changes_name_their_kinds() -> None:
    before = Schema("s", (table("t", Column("a", "integer")),))
    after = Schema("s", (table("t", Column("a", "bigint", nullable=False, default="0")),))
    (change,) = diff_schemas(before, after)
    assert isinstance(change, ModifyTable)
    (modify,) = change.changes
    assert isinstance(modify, ModifyColumn)
    assert modify.kinds == {"type", "nullable", "default"}


def test_realm_diff_adds_and_drops_schemas() -> None:
    current = Realm((Schema("old", (table("a"),)),))
    desired = Realm((Schema("new", (table("b"),)),))
    kinds = [type(c).__name__ for c in diff_realms(current, desired)]
    assert kinds == ["DropSchema", "AddSchema", "AddTable"]


def test_skip_policy_filters_nested_changes() -> None:
    before = Schema("s", (table("t", Column("a", "text")), table("gone")))
    after = Schema("s", (table("t", Column("b", "text")),))
    changes = diff_schemas(before, after)
    kept = skip_changes(changes, frozenset({"drop_column", "drop_table"}))
    (modify,) = kept
    assert isinstance(modify, ModifyTable)
    assert [type(c) for c in modify.changes] == [AddColumn]


def test_destructive_changes_are_drops_of_tables_and_columns() -> None:
    before = Schema("s", (table("t", Column("a", "text")), table("gone")))
    after = Schema("s", (table("t"),))
    found = destructive_changes(diff_schemas(before, after))
    assert {type(c) for c in found} == {DropTable, ModifyTable}
    modify = next(c for c in found if isinstance(c, ModifyTable))
    assert [type(c) for c in modify.changes] == [DropColumn]


def test_checks_match_by_expression_ignoring_outer_parentheses() -> None:
    before = Schema("s", (Table("t", checks=(Check(None, "(a > 0)"),)),))
    after = Schema("s", (Table("t", checks=(Check(None, "a > 0"),)),))
    assert diff_schemas(before, after) == []
    assert strip_parens("(a) + (b)") == "(a) + (b)"


def test_new_tables_are_created_referenced_first_and_cycles_are_broken() -> None:
    a = table("a", Column("b_id", "integer"), fks=(fk("a_b", "b_id", "b"),))
    b = table("b", Column("a_id", "integer"), fks=(fk("b_a", "a_id", "a"),))
    c = table("c", Column("a_id", "integer"), fks=(fk("c_a", "a_id", "a"),))
    ordered = order_changes([AddTable("s", c), AddTable("s", b), AddTable("s", a)])
    created = [ch.table.name for ch in ordered if isinstance(ch, AddTable)]
    assert created.index("a") < created.index("c")
    detached = [ch for ch in ordered if isinstance(ch, ModifyTable)]
    assert len(detached) == 1
    assert all(isinstance(x, AddForeignKey) for x in detached[0].changes)
    assert ordered.index(detached[0]) > max(
        ordered.index(ch) for ch in ordered if isinstance(ch, AddTable)
    )


def test_foreign_key_drops_come_first_and_referencing_tables_drop_first() -> None:
    parent, child = (
        table("parent"),
        table("child", Column("p", "integer"), fks=(fk("child_p", "p", "parent"),)),
    )
    other = table("other", Column("p", "integer"), fks=(fk("other_p", "p", "parent"),))
    other_after = table("other", Column("p", "integer"))
    changes: list[Change] = [
        DropTable("s", parent),
        DropTable("s", child),
        ModifyTable("s", other, other_after, (DropForeignKey(other.foreign_keys[0]),)),
    ]
    ordered = order_changes(changes)
    assert isinstance(ordered[0], ModifyTable)
    names = [ch.table.name for ch in ordered if isinstance(ch, DropTable)]
    assert names == ["child", "parent"]


def test_exclude_patterns_in_schema_and_realm_scope() -> None:
    users = Table(
        "users",
        columns=(ID, Column("secret", "text")),
        indexes=(Index("users_secret", (IndexPart(column="secret"),)),),
    )
    realm = Realm((Schema("public", (users, table("ignore_me"))), Schema("audit")))
    bound = exclude_realm(realm, ("ignore_me", "*.secret"), "public")
    public = bound.schema("public")
    assert public is not None
    assert [t.name for t in public.tables] == ["users"]
    assert [c.name for c in public.tables[0].columns] == ["id"]
    assert public.tables[0].indexes == ()
    realm_scoped = exclude_realm(realm, ("audit", "public.*[type=table]"), None)
    assert [s.name for s in realm_scoped.schemas] == ["public"]
    assert realm_scoped.schemas[0].tables == ()
    typed = exclude_realm(realm, ("public.users.users_*[type=index]",), None)
    assert typed.schemas[0].tables[0].column("secret") is not None
    assert typed.schemas[0].tables[0].indexes == ()
