"""PostgreSQL constraint and index attributes on plain tables, on the real server.

Every attribute is driven the same way: the desired SQL is applied to an empty
database and to one holding the current SQL; each time the plan must do something,
the result must match (by `pg_get_constraintdef` and `pg_get_indexdef`, read outside
the engine) a database where the desired SQL ran verbatim, and a second plan must be
empty. Plans that only validate or alter a constraint in place are pinned too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from atlas_operator.engine.changes import ModifyTable
from atlas_operator.engine.diff import diff_schemas
from atlas_operator.engine.model import (
    Check,
    ForeignKey,
    Index,
    IndexPart,
    PrimaryKey,
    Schema,
    Table,
)
from atlas_operator.engine.plan import order_changes
from atlas_operator.engine.urls import DatabaseURL
from tests.engine.drivers.test_postgres import apply, fetch, replan, run, table_of

# `new_db` (tests/engine/drivers/conftest.py): a fresh database per call, dropped at the end.

NewDB = Callable[..., DatabaseURL]

CONSTRAINTS = """
SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c WHERE c.connamespace = 'public'::regnamespace AND c.contype <> 'n'
ORDER BY 1, 2
"""
INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
WHERE t.relnamespace = 'public'::regnamespace ORDER BY 1
"""


def definitions(url: DatabaseURL) -> list[tuple[Any, ...]]:
    """Every constraint and index of `public` as PostgreSQL prints it."""
    return fetch(url, CONSTRAINTS) + fetch(url, INDEXES)


def verbatim(new_db: NewDB, sql: str) -> list[tuple[Any, ...]]:
    """The oracle: the desired SQL run as written on a database of its own."""
    url = new_db()
    run(url, sql)
    return definitions(url)


def converge(new_db: NewDB, current: str, desired: str) -> list[str]:
    """Applies `desired` from scratch and over `current`; both must end as the verbatim
    desired database does, and plan nothing more. Returns the plan over `current`."""
    dev, expected = new_db(), verbatim(new_db, desired)
    scratch = new_db()
    apply(scratch, dev, desired)
    assert definitions(scratch) == expected
    assert replan(scratch, dev, desired) == []
    target = new_db()
    run(target, current)
    report = apply(target, dev, desired)
    assert report.applied, "the current state differs: the plan cannot be empty"
    assert definitions(target) == expected
    assert replan(target, dev, desired) == []
    return report.applied


# --- constraint attributes ----------------------------------------------------------------

PAIR = "create table t (id int primary key, a int, b int, {});"


@pytest.mark.parametrize(
    ("current", "desired"),
    [
        ("unique (a, b) not deferrable", "unique (a, b) deferrable"),
        ("unique (a, b) deferrable", "unique (a, b) deferrable initially deferred"),
        ("unique (a, b) deferrable initially deferred", "unique (a, b)"),
        ("check (a > 0)", "check (a > 0) no inherit"),
        ("check (a > 0) no inherit", "check (a > 0)"),
    ],
)
def test_unique_and_check_attributes(new_db: NewDB, current: str, desired: str) -> None:
    applied = converge(new_db, PAIR.format(current), PAIR.format(desired))
    # PostgreSQL cannot alter these in place: drop and add in one statement.
    assert len(applied) == 1
    assert "DROP CONSTRAINT" in applied[0]
    assert "ADD CONSTRAINT" in applied[0]


def test_primary_key_deferral_include_and_storage(new_db: NewDB) -> None:
    current = "create table t (id int primary key, a int);"
    desired = (
        "create table t (id int, a int,"
        " primary key (id) include (a) with (fillfactor = 60) deferrable initially deferred);"
    )
    applied = converge(new_db, current, desired)
    assert applied == [
        'ALTER TABLE "t" DROP CONSTRAINT "t_pkey", ADD PRIMARY KEY ("id") INCLUDE ("a")'
        " WITH (fillfactor = 60) DEFERRABLE INITIALLY DEFERRED"
    ]


FKS = """
create table p (id int primary key);
create table c (id int, pid int, constraint c_fk foreign key (pid) references p (id) {});
"""


@pytest.mark.parametrize(
    ("current", "desired", "clause"),
    [
        ("", "deferrable", "DEFERRABLE INITIALLY IMMEDIATE"),
        ("deferrable", "deferrable initially deferred", "DEFERRABLE INITIALLY DEFERRED"),
        ("deferrable initially deferred", "not deferrable", "NOT DEFERRABLE"),
    ],
)
def test_foreign_key_deferral_changes_in_place(
    new_db: NewDB, current: str, desired: str, clause: str
) -> None:
    applied = converge(new_db, FKS.format(current), FKS.format(desired))
    assert applied == [f'ALTER TABLE "c" ALTER CONSTRAINT "c_fk" {clause}']


@pytest.mark.parametrize(
    ("desired", "tail"),
    [
        ("match full", " MATCH FULL ON UPDATE NO ACTION ON DELETE NO ACTION"),
        ("on delete set null (pid)", " ON UPDATE NO ACTION ON DELETE SET NULL (pid)"),
    ],
)
def test_foreign_key_match_and_set_null_columns(new_db: NewDB, desired: str, tail: str) -> None:
    applied = converge(new_db, FKS.format(""), FKS.format(desired))
    assert applied == [
        'ALTER TABLE "c" DROP CONSTRAINT "c_fk"',
        f'ALTER TABLE "c" ADD CONSTRAINT "c_fk" FOREIGN KEY ("pid") REFERENCES "p" ("id"){tail}',
    ]


# --- NOT VALID ------------------------------------------------------------------------------

TABLES = """
create table p (id int primary key);
create table c (id int, pid int, a int);
"""
NOT_VALID = (
    TABLES
    + """
alter table c add constraint c_fk foreign key (pid) references p (id) not valid;
alter table c add constraint c_ck check (a > 0) not valid;
"""
)
VALID = (
    TABLES
    + """
alter table c add constraint c_fk foreign key (pid) references p (id);
alter table c add constraint c_ck check (a > 0);
"""
)


def test_not_valid_constraints_are_added_not_valid(new_db: NewDB) -> None:
    applied = converge(new_db, TABLES, NOT_VALID)
    assert applied == [
        'ALTER TABLE "c" ADD CONSTRAINT "c_ck" CHECK (a > 0) NOT VALID',
        'ALTER TABLE "c" ADD CONSTRAINT "c_fk" FOREIGN KEY ("pid") REFERENCES "p" ("id")'
        " ON UPDATE NO ACTION ON DELETE NO ACTION NOT VALID",
    ]


def test_not_valid_constraints_of_a_new_table_stay_not_valid(new_db: NewDB) -> None:
    # CREATE TABLE validates whatever it holds: the plan adds them afterwards.
    dev, target = new_db(), new_db()
    report = apply(target, dev, NOT_VALID)
    assert report.applied[-1] == (
        'ALTER TABLE "c" ADD CONSTRAINT "c_fk" FOREIGN KEY ("pid") REFERENCES "p" ("id")'
        " ON UPDATE NO ACTION ON DELETE NO ACTION NOT VALID,"
        ' ADD CONSTRAINT "c_ck" CHECK (a > 0) NOT VALID'
    )
    assert definitions(target) == verbatim(new_db, NOT_VALID)
    assert replan(target, dev, NOT_VALID) == []


def test_not_valid_constraints_become_valid_by_validation(new_db: NewDB) -> None:
    applied = converge(new_db, NOT_VALID, VALID)
    assert applied == ['ALTER TABLE "c" VALIDATE CONSTRAINT "c_fk", VALIDATE CONSTRAINT "c_ck"']


def test_valid_constraints_satisfy_a_not_valid_desired_state(new_db: NewDB) -> None:
    dev, target = new_db(), new_db()
    run(target, VALID)
    assert replan(target, dev, NOT_VALID) == []
    # Any other change re-creates the constraint as declared, NOT VALID.
    changed = NOT_VALID.replace("check (a > 0)", "check (a > 1)")
    assert replan(target, dev, changed) == [
        'ALTER TABLE "c" DROP CONSTRAINT "c_ck", ADD CONSTRAINT "c_ck" CHECK (a > 1) NOT VALID'
    ]


# --- index attributes -----------------------------------------------------------------------

COLUMNS = "create table t (id int primary key, a int, b int, name text, v tsvector);\n"


@pytest.mark.parametrize(
    ("current", "desired", "statement"),
    [
        (
            "create index i on t (a);",
            "create index i on t (a) with (fillfactor = 70, deduplicate_items = off);",
            'CREATE INDEX "i" ON "t" ("a") WITH (fillfactor = 70, deduplicate_items = off)',
        ),
        (
            "create index i on t (name);",
            'create index i on t (name collate "C");',
            'CREATE INDEX "i" ON "t" ("name" COLLATE "C")',
        ),
        (
            "create index i on t ((lower(name)));",
            'create index i on t ((lower(name)) collate "POSIX" text_pattern_ops desc);',
            'CREATE INDEX "i" ON "t" ((lower(name)) COLLATE "POSIX" text_pattern_ops DESC)',
        ),
        (
            "create index i on t using gist (v);",
            "create index i on t using gist (v tsvector_ops (siglen = 100));",
            'CREATE INDEX "i" ON "t" USING gist ("v" tsvector_ops(siglen=100))',
        ),
        (
            "create index i on t (a, b desc);",
            "create index i on t (a nulls first, b desc nulls last);",
            'CREATE INDEX "i" ON "t" ("a" NULLS FIRST, "b" DESC NULLS LAST)',
        ),
        (
            "create unique index i on t (a, b);",
            "create unique index i on t (a, b) nulls not distinct;",
            'CREATE UNIQUE INDEX "i" ON "t" ("a", "b") NULLS NOT DISTINCT',
        ),
    ],
)
def test_index_attributes_drop_and_recreate(
    new_db: NewDB, current: str, desired: str, statement: str
) -> None:
    applied = converge(new_db, COLUMNS + current, COLUMNS + desired)
    assert applied == ['DROP INDEX "i"', statement]


@pytest.mark.parametrize(
    ("current", "desired", "clause"),
    [
        (
            "unique (a)",
            "unique (a) with (fillfactor = 70)",
            'UNIQUE ("a") WITH (fillfactor = 70)',
        ),
        ("unique (a)", "unique nulls not distinct (a)", 'UNIQUE NULLS NOT DISTINCT ("a")'),
        ("unique (a)", "unique (a) include (b)", 'UNIQUE ("a") INCLUDE ("b")'),
    ],
)
def test_unique_constraint_index_parameters(
    new_db: NewDB, current: str, desired: str, clause: str
) -> None:
    sql = "create table t (id int primary key, a int, b int, constraint t_a_key {});"
    applied = converge(new_db, sql.format(current), sql.format(desired))
    assert applied == [
        f'ALTER TABLE "t" DROP CONSTRAINT "t_a_key", ADD CONSTRAINT "t_a_key" {clause}'
    ]


def test_index_attributes_are_inspected(new_db: NewDB) -> None:
    url = new_db()
    run(
        url,
        COLUMNS + "create unique index i on t (a nulls first, b desc nulls last) include (name)"
        " nulls not distinct with (fillfactor = 80) where a > 0;"
        "create index g on t using gist (v tsvector_ops (siglen = 64));"
        'create index c on t (name collate "C" text_pattern_ops);',
    )
    table = table_of(url, "t")
    assert table.indexes == (
        Index("c", (IndexPart(column="name", collation="C", opclass="text_pattern_ops"),)),
        Index("g", (IndexPart(column="v", opclass="tsvector_ops(siglen=64)"),), method="gist"),
        Index(
            "i",
            (
                IndexPart(column="a", nulls_first=True),
                IndexPart(column="b", desc=True, nulls_first=False),
            ),
            unique=True,
            where="a > 0",
            include=("name",),
            nulls_not_distinct=True,
            params=(("fillfactor", "80"),),
        ),
    )


# --- exclusion constraints -----------------------------------------------------------------

ROOMS = "create table r (id int primary key, room int, during int4range, {});"


def test_exclusion_constraints_are_inspected(new_db: NewDB) -> None:
    url = new_db()
    run(
        url,
        ROOMS.format(
            "constraint no_overlap exclude using gist (during with &&) where (room > 0)"
            " deferrable initially deferred, exclude (room with =)"
        ),
    )
    table = table_of(url, "r")
    assert table.indexes == (
        Index(
            "no_overlap",
            (IndexPart(column="during"),),
            method="gist",
            where="room > 0",
            constraint=True,
            exclusion=("&&",),
            deferrable=True,
            initially_deferred=True,
        ),
        Index("r_room_excl", (IndexPart(column="room"),), constraint=True, exclusion=("=",)),
    )


def test_exclusion_constraints_are_created_changed_and_dropped(new_db: NewDB) -> None:
    plain = ROOMS.format("constraint ex exclude using gist (during with &&)")
    changed = ROOMS.format(
        "constraint ex exclude using gist (during with &&) with (fillfactor = 80)"
        " where (room > 0) deferrable"
    )
    applied = converge(new_db, plain, changed)
    assert applied == [
        'ALTER TABLE "r" DROP CONSTRAINT "ex", ADD CONSTRAINT "ex" EXCLUDE USING gist'
        ' ("during" WITH &&) WITH (fillfactor = 80) WHERE (room > 0) DEFERRABLE'
    ]
    none = "create table r (id int primary key, room int, during int4range);"
    assert converge(new_db, none, plain) == [
        'ALTER TABLE "r" ADD CONSTRAINT "ex" EXCLUDE USING gist ("during" WITH &&)'
    ]
    dev, target = new_db(), new_db()
    run(target, plain)
    assert apply(target, dev, none).applied == ['ALTER TABLE "r" DROP CONSTRAINT "ex"']
    assert definitions(target) == verbatim(new_db, none)


# --- statement order around keys ------------------------------------------------------------


def test_new_table_key_waits_for_the_unique_constraint_it_references(new_db: NewDB) -> None:
    current = "create table p (id int primary key, code int);"
    desired = (
        "create table p (id int primary key, code int unique);"
        "create table c (code int constraint c_fk references p (code));"
    )
    applied = converge(new_db, current, desired)
    assert applied == [
        'CREATE TABLE "c" (\n  "code" integer\n)',
        'ALTER TABLE "p" ADD CONSTRAINT "p_code_key" UNIQUE ("code")',
        'ALTER TABLE "c" ADD CONSTRAINT "c_fk" FOREIGN KEY ("code") REFERENCES "p" ("code")'
        " ON UPDATE NO ACTION ON DELETE NO ACTION",
    ]


def test_new_table_key_waits_for_a_new_unique_index_and_primary_key(new_db: NewDB) -> None:
    current = "create table p (id int, code int);"
    desired = (
        "create table p (id int primary key, code int);"
        "create unique index p_code on p (code);"
        "create table c (code int references p (code), pid int references p);"
    )
    applied = converge(new_db, current, desired)
    assert applied[0] == 'CREATE TABLE "c" (\n  "code" integer,\n  "pid" integer\n)'
    assert applied[-1].startswith('ALTER TABLE "c" ADD CONSTRAINT "c_code_fkey"')


def test_self_reference_to_a_unique_index_of_a_new_table(new_db: NewDB) -> None:
    desired = (
        "create table t (id int not null, parent int);"
        "create unique index t_id on t (id);"
        "alter table t add constraint t_parent foreign key (parent) references t (id);"
    )
    applied = converge(new_db, "create table other (id int);", desired)
    assert applied == [
        'CREATE TABLE "t" (\n  "id" integer NOT NULL,\n  "parent" integer\n)',
        'CREATE UNIQUE INDEX "t_id" ON "t" ("id")',
        'ALTER TABLE "t" ADD CONSTRAINT "t_parent" FOREIGN KEY ("parent") REFERENCES "t" ("id")'
        " ON UPDATE NO ACTION ON DELETE NO ACTION",
        'DROP TABLE "other"',
    ]


REFERENCED = """
create table p (id int primary key, code int constraint p_code_key unique);
create table c (
  pid int constraint c_pid references p,
  code int constraint c_code references p (code)
);
"""


@pytest.mark.parametrize(
    "desired",
    [
        "create table p (id int, code int unique);",
        "create table p (id int primary key);",
        "create table p (id int primary key, code int,"
        " constraint p_code_key unique (code) with (fillfactor = 70));",
        "create table p (id bigint primary key, code int);",
    ],
)
def test_keys_of_a_dropped_table_go_before_what_they_reference(new_db: NewDB, desired: str) -> None:
    applied = converge(new_db, REFERENCED, desired)
    assert applied[0].startswith('ALTER TABLE "c" DROP CONSTRAINT')
    assert applied[-1] == 'DROP TABLE "c"'


def test_dropped_keys_go_before_the_key_they_reference(new_db: NewDB) -> None:
    desired = "create table p (id int, code int); create table c (pid int, code int);"
    applied = converge(new_db, REFERENCED, desired)
    assert applied == [
        'ALTER TABLE "c" DROP CONSTRAINT "c_code", DROP CONSTRAINT "c_pid"',
        'ALTER TABLE "p" DROP CONSTRAINT "p_pkey", DROP CONSTRAINT "p_code_key",'
        ' ALTER COLUMN "id" DROP NOT NULL',
    ]


# --- the diff and the order on models ------------------------------------------------------


def test_validity_and_attributes_in_the_diff() -> None:
    fk = ForeignKey("f", ("a",), "p", ("id",))
    check = Check("c", "a > 0")

    def table(*, fk: ForeignKey = fk, check: Check = check) -> Schema:
        return Schema("s", (Table("t", foreign_keys=(fk,), checks=(check,)),))

    relaxed = table(
        fk=ForeignKey("f", ("a",), "p", ("id",), not_valid=True),
        check=Check("c", "(a > 0)", not_valid=True),
    )
    assert diff_schemas(table(), relaxed) == []
    (change,) = diff_schemas(relaxed, table())
    assert isinstance(change, ModifyTable)
    assert [type(c).__name__ for c in change.changes] == ["ModifyForeignKey", "ModifyCheck"]
    (change,) = diff_schemas(table(), table(check=Check("c", "a > 0", no_inherit=True)))
    assert isinstance(change, ModifyTable)
    assert [type(c).__name__ for c in change.changes] == ["ModifyCheck"]


def test_key_attributes_and_storage_parameter_order_in_the_diff() -> None:
    def keyed(pk: PrimaryKey, *indexes: Index) -> Schema:
        return Schema("s", (Table("t", primary_key=pk, indexes=indexes),))

    (change,) = diff_schemas(
        keyed(PrimaryKey(("id",), name="t_pkey")), keyed(PrimaryKey(("id",), deferrable=True))
    )
    assert isinstance(change, ModifyTable)
    assert [type(c).__name__ for c in change.changes] == ["ModifyPrimaryKey"]
    params = (("fillfactor", "70"), ("deduplicate_items", "off"))
    part = (IndexPart(column="a"),)
    written = keyed(PrimaryKey(("id",), params=params), Index("i", part, params=params))
    reordered = tuple(reversed(params))
    other = keyed(PrimaryKey(("id",), params=reordered), Index("i", part, params=reordered))
    assert diff_schemas(written, other) == []


def test_deferral_changes_are_not_split_into_drop_and_add() -> None:
    before = ForeignKey("f", ("a",), "p", ("id",))
    after = ForeignKey("f", ("a",), "p", ("id",), deferrable=True)
    table = Table("t", foreign_keys=(before,))
    (change,) = diff_schemas(
        Schema("s", (table,)), Schema("s", (Table("t", foreign_keys=(after,)),))
    )
    ordered = order_changes([change])
    assert len(ordered) == 1
    assert isinstance(ordered[0], ModifyTable)
    assert [type(c).__name__ for c in ordered[0].changes] == ["ModifyForeignKey"]


EVERYTHING = """
create table p (
  id int, code int, during int4range, name text,
  primary key (id) include (name) with (fillfactor = 90),
  constraint p_code unique nulls not distinct (code) include (name) with (fillfactor = 80),
  constraint p_code_later unique (code, id) deferrable initially deferred,
  constraint p_during exclude using gist (during with &&, (int4range(code, code + 1)) with &&)
    where (code > 0),
  constraint p_code_positive check (code > 0) no inherit
);
create index p_name on p (name collate "C" desc nulls last, (lower(name)) nulls first)
  include (code) with (fillfactor = 50) where id > 0;
create table c (
  pid int constraint c_pid references p deferrable initially deferred,
  code int
);
alter table c add constraint c_code foreign key (code) references p (code) not valid;
alter table c add constraint c_code_small check (code < 100) not valid;
"""


def test_every_attribute_at_once_from_an_empty_database(new_db: NewDB) -> None:
    applied = converge(new_db, "create table other (id int);", EVERYTHING)
    assert applied[0].startswith('CREATE TABLE "p" (\n  "id" integer NOT NULL,')


def test_storage_parameters_compare_whatever_order_they_were_written_in(new_db: NewDB) -> None:
    dev, target = new_db(), new_db()
    index = "create table t (a int); create index i on t (a) with ({});"
    run(target, index.format("fillfactor = 70, deduplicate_items = off"))
    desired = index.format("deduplicate_items = off, fillfactor = 70")
    assert replan(target, dev, desired) == []
