"""PostgreSQL driver on the real test server: sessions, inspection round trips, plans,
transactional apply, concurrent indexes and dev-database cleaning.

Every test works in databases of its own (`CREATE DATABASE t_<random>`), dropped at
the end. The server comes from the session fixture `databases`: when it cannot be
started or reached, these tests fail; they never skip.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg
import pytest

from atlas_operator.engine.changes import AddIndex, DropIndex, ModifyTable
from atlas_operator.engine.declarative import (
    ApplyPolicy,
    ApplyReport,
    DestructiveChangesError,
    execute_plan,
    load_sql_on_dev,
    plan_apply,
    schema_apply,
)
from atlas_operator.engine.diff import diff_schemas
from atlas_operator.engine.drivers.base import (
    DatabaseError,
    Scope,
    Session,
    UnsupportedChangeError,
)
from atlas_operator.engine.drivers.postgres import PostgresDriver, PostgresSession
from atlas_operator.engine.model import (
    Check,
    Column,
    ForeignKey,
    Generated,
    Identity,
    Index,
    IndexPart,
    PrimaryKey,
    Realm,
    Schema,
    Table,
)
from atlas_operator.engine.urls import DatabaseURL, parse_url
from tests.rig.services import ServiceURLs

DRIVER = PostgresDriver()
PUBLIC = Scope(bound="public")
REALM = Scope()

# The seed's migration (shared/spec/engine.md §1), as the operator's users write it.
SEED = """
create sequence users_seq;
create table users (
  id int not null default nextval ('users_seq'),
  name varchar(255) not null,
  email varchar(255) unique not null,
  short_bio varchar(255) not null,
  primary key (id)
);
"""

RICH = """
create table teams (
  id bigint generated always as identity (start with 10 increment by 5) primary key,
  name text collate "C" not null,
  constraint teams_name_key unique (name)
);
create table members (
  id serial primary key,
  team_id bigint references teams (id) on delete cascade on update set null,
  email varchar(255) not null,
  score numeric(10, 2) not null default 0,
  tags text[] default '{}',
  meta jsonb,
  joined timestamp with time zone not null default now(),
  double_id integer generated always as (id * 2) stored,
  constraint members_email_key unique (email) include (score),
  constraint positive_score check (score >= 0),
  constraint short_email check (length(email) < 200)
);
comment on table members is 'people in teams';
comment on column members.email is 'where to write';
create index members_lower_email on members (lower(email) desc, team_id)
  include (joined) where team_id is not null;
create index members_meta on members using gin (meta jsonb_path_ops);
create index members_joined on members (joined desc);
"""


# --- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture
def admin(databases: ServiceURLs) -> DatabaseURL:
    return parse_url(databases.postgres)


@pytest.fixture
def new_db(admin: DatabaseURL) -> Iterator[Callable[..., DatabaseURL]]:
    """Creates databases on demand (schema-bound to `public` unless told otherwise)."""
    created: list[str] = []

    def create(schema: str | None = "public") -> DatabaseURL:
        name = f"t_{uuid.uuid4().hex[:12]}"
        admin_sql(admin, f"CREATE DATABASE {name}")
        created.append(name)
        url = admin.with_database(name)
        return url.with_schema(schema) if schema else url

    yield create
    for name in created:
        admin_sql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def admin_sql(url: DatabaseURL, *statements: str) -> None:
    with psycopg.connect(url.dsn_for_psycopg(), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def fetch(url: DatabaseURL, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Reads the catalog directly, independently of the driver under test."""
    with psycopg.connect(url.dsn_for_psycopg(), autocommit=True) as conn:
        return list(conn.execute(sql.encode(), tuple(params) or None).fetchall())


def run(url: DatabaseURL, sql: str) -> None:
    with psycopg.connect(url.dsn_for_psycopg(), autocommit=True) as conn:
        conn.execute(sql.encode())


def columns_of(url: DatabaseURL, table: str) -> list[tuple[str, str, bool, str | None]]:
    return [
        (row[0], row[1], row[2], row[3])
        for row in fetch(
            url,
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
            " pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a LEFT JOIN pg_attrdef d"
            " ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
            " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped"
            " ORDER BY a.attnum",
            [table],
        )
    ]


def relation_exists(url: DatabaseURL, name: str) -> bool:
    return fetch(url, "SELECT to_regclass(%s) IS NOT NULL", [name])[0][0] is True


def inspect(url: DatabaseURL, scope: Scope = PUBLIC) -> Realm:
    with DRIVER.open(url) as session:
        return DRIVER.inspect(session, scope)


def only_schema(url: DatabaseURL) -> Schema:
    realm = inspect(url)
    assert len(realm.schemas) == 1
    return realm.schemas[0]


def table_of(url: DatabaseURL, name: str) -> Table:
    table = only_schema(url).table(name)
    assert table is not None, f"no table {name}"
    return table


def apply(target: DatabaseURL, dev: DatabaseURL, sql: str, **policy: Any) -> ApplyReport:
    report = schema_apply(target, sql, dev, ApplyPolicy(**policy))
    assert report.error is None, f"{report.error_stmt}: {report.error}"
    return report


def replan(target: DatabaseURL, dev: DatabaseURL, sql: str, **policy: Any) -> list[str]:
    return schema_apply(target, sql, dev, ApplyPolicy(**policy), dry_run=True).pending


class CountingSession(Session):
    """Counts the queries the inspector sends."""

    def __init__(self, inner: Session) -> None:
        self.inner = inner
        self.url = inner.url
        self.queries = 0

    def execute(self, sql: str) -> None:
        self.inner.execute(sql)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.queries += 1
        return self.inner.query(sql, params)

    def begin(self) -> None:
        self.inner.begin()

    def commit(self) -> None:
        self.inner.commit()

    def rollback(self) -> None:
        self.inner.rollback()

    def close(self) -> None:
        self.inner.close()


# --- session ----------------------------------------------------------------------------


def test_connection_errors_name_the_redacted_url(admin: DatabaseURL) -> None:
    wrong = parse_url(admin.redacted().replace(":xxxxx@", ":wrong-secret-42@", 1))
    with pytest.raises(DatabaseError) as failed:
        PostgresSession(wrong)
    message = str(failed.value)
    assert message.startswith(f"cannot connect to {wrong.redacted()}: ")
    assert "password authentication failed" in message
    assert "wrong-secret-42" not in message

    refused = parse_url(admin.redacted().replace(":xxxxx@", ":s3cret@").replace(":15432", ":1"))
    with pytest.raises(DatabaseError, match=r"^cannot connect to postgres://atlas:xxxxx@") as err:
        PostgresSession(refused)
    assert "s3cret" not in str(err.value)


def test_statement_errors_carry_the_server_message(new_db: Callable[..., DatabaseURL]) -> None:
    with DRIVER.open(new_db()) as session:
        with pytest.raises(DatabaseError) as missing:
            session.execute("SELECT 1\nFROM nowhere")
        assert str(missing.value) == 'relation "nowhere" does not exist (line 2, column 6)'
        session.execute("CREATE TABLE p (id int PRIMARY KEY)")
        session.execute("CREATE TABLE c (p int REFERENCES p)")
        with pytest.raises(DatabaseError) as violation:
            session.execute("INSERT INTO c VALUES (7)")
        assert str(violation.value) == (
            'insert or update on table "c" violates foreign key constraint "c_p_fkey": '
            'Key (p)=(7) is not present in table "p".'
        )
        # A failed statement leaves the session usable (autocommit).
        assert session.query("SELECT 1") == [(1,)]


def test_schema_bound_url_sets_search_path(new_db: Callable[..., DatabaseURL]) -> None:
    url = new_db(schema=None)
    run(url, "CREATE SCHEMA app")
    with DRIVER.open(url.with_schema("app")) as session:
        assert session.query("SHOW search_path") == [("app",)]
        session.execute("CREATE TABLE t (id int)")
    assert relation_exists(url, "app.t")
    with DRIVER.open(url) as session:
        assert session.query("SHOW search_path") == [('"$user", public',)]


def test_begin_commit_rollback_are_explicit(new_db: Callable[..., DatabaseURL]) -> None:
    url = new_db()
    with DRIVER.open(url) as session:
        session.begin()
        session.execute("CREATE TABLE rolled (id int)")
        session.rollback()
        with session.transaction():
            session.execute("CREATE TABLE kept (id int)")
    assert not relation_exists(url, "rolled")
    assert relation_exists(url, "kept")


# --- inspection -------------------------------------------------------------------------


def test_inspection_reads_every_table_feature(new_db: Callable[..., DatabaseURL]) -> None:
    url = new_db()
    run(url, RICH)
    schema = only_schema(url)
    assert schema.name == "public"
    assert [t.name for t in schema.tables] == ["members", "teams"]

    teams = table_of(url, "teams")
    assert teams.columns == (
        Column(
            "id",
            "bigint",
            nullable=False,
            identity=Identity(always=True, start=10, increment=5),
        ),
        Column("name", "text", nullable=False, collation="C"),
    )
    assert teams.primary_key == PrimaryKey(("id",), name="teams_pkey")
    assert teams.indexes == (
        Index("teams_name_key", (IndexPart(column="name"),), unique=True, constraint=True),
    )

    members = table_of(url, "members")
    assert members.comment == "people in teams"
    assert members.columns == (
        Column("id", "serial", nullable=False),
        Column("team_id", "bigint"),
        Column("email", "character varying(255)", nullable=False, comment="where to write"),
        Column("score", "numeric(10,2)", nullable=False, default="0"),
        Column("tags", "text[]", default="'{}'::text[]"),
        Column("meta", "jsonb"),
        Column("joined", "timestamp with time zone", nullable=False, default="now()"),
        Column("double_id", "integer", generated=Generated("id * 2", stored=True)),
    )
    assert members.primary_key == PrimaryKey(("id",), name="members_pkey")
    assert members.indexes == (
        Index(
            "members_email_key",
            (IndexPart(column="email"),),
            unique=True,
            include=("score",),
            constraint=True,
        ),
        Index("members_joined", (IndexPart(column="joined", desc=True),)),
        Index(
            "members_lower_email",
            (IndexPart(expr="lower(email::text)", desc=True), IndexPart(column="team_id")),
            where="team_id IS NOT NULL",
            include=("joined",),
        ),
        Index(
            "members_meta",
            (IndexPart(column="meta", opclass="jsonb_path_ops"),),
            method="gin",
        ),
    )
    assert members.foreign_keys == (
        ForeignKey(
            "members_team_id_fkey",
            ("team_id",),
            "teams",
            ("id",),
            on_update="SET NULL",
            on_delete="CASCADE",
        ),
    )
    assert members.checks == (
        Check("positive_score", "score >= 0::numeric"),
        Check("short_email", "length(email::text) < 200"),
    )


def test_inspection_skips_system_and_extension_objects(
    new_db: Callable[..., DatabaseURL],
) -> None:
    url = new_db(schema=None)
    run(url, "CREATE SCHEMA app; CREATE TABLE app.t (id int); CREATE TABLE public.p (id int)")
    run(url, "CREATE TEMP TABLE tmp (id int)")  # its session ends: the temp schema stays
    realm = inspect(url, REALM)
    assert [s.name for s in realm.schemas] == ["app", "public"]
    assert [t.name for t in realm.schemas[0].tables] == ["t"]
    narrowed = inspect(url, Scope(schemas=("app",)))
    assert [s.name for s in narrowed.schemas] == ["app"]
    with pytest.raises(DatabaseError, match='schema "nope" was not found'):
        inspect(url.with_schema("nope"), Scope(bound="nope"))


def test_inspection_uses_a_fixed_number_of_queries(new_db: Callable[..., DatabaseURL]) -> None:
    url = new_db()
    run(url, RICH)
    counts = []
    for extra in (0, 6):
        for i in range(extra):
            run(url, f"CREATE TABLE extra_{i} (id int PRIMARY KEY)")
        with DRIVER.open(url) as inner:
            session = CountingSession(inner)
            realm = DRIVER.inspect(session, PUBLIC)
            counts.append(session.queries)
        assert len(realm.schemas[0].tables) == 2 + extra
    # One query per catalog (tables, columns, indexes, constraints, each object kind,
    # row security, relations, dependencies), however many tables there are.
    assert counts[0] == counts[1] <= 20


def test_rich_schema_round_trips_through_a_plan(new_db: Callable[..., DatabaseURL]) -> None:
    target, dev = new_db(), new_db()
    report = apply(target, dev, RICH)
    assert report.applied[0].startswith('CREATE TABLE "teams" (\n  "id" bigint NOT NULL GENERATED')
    assert replan(target, dev, RICH) == []
    desired = load_sql_on_dev(RICH, dev, PUBLIC, ApplyPolicy())
    assert inspect(target) == desired


# --- the seed's table -------------------------------------------------------------------


def test_seed_table_applies_into_a_target_that_has_the_sequence(
    new_db: Callable[..., DatabaseURL],
) -> None:
    # Sequences are not in the model: the plan cannot create users_seq, the target has it.
    target, dev = new_db(), new_db()
    run(target, "CREATE SEQUENCE users_seq")
    report = apply(target, dev, SEED)
    assert report.applied == [
        'CREATE TABLE "users" (\n'
        "  \"id\" integer NOT NULL DEFAULT nextval('users_seq'::regclass),\n"
        '  "name" character varying(255) NOT NULL,\n'
        '  "email" character varying(255) NOT NULL,\n'
        '  "short_bio" character varying(255) NOT NULL,\n'
        '  PRIMARY KEY ("id"),\n'
        '  CONSTRAINT "users_email_key" UNIQUE ("email")\n'
        ")"
    ]
    assert columns_of(target, "users") == [
        ("id", "integer", True, "nextval('users_seq'::regclass)"),
        ("name", "character varying(255)", True, None),
        ("email", "character varying(255)", True, None),
        ("short_bio", "character varying(255)", True, None),
    ]
    assert replan(target, dev, SEED) == []


def test_seed_table_with_serial_applies_into_an_empty_target(
    new_db: Callable[..., DatabaseURL],
) -> None:
    sql = SEED.replace("create sequence users_seq;", "").replace(
        "id int not null default nextval ('users_seq')", "id serial"
    )
    target, dev = new_db(), new_db()
    report = apply(target, dev, sql)
    assert report.applied[0].startswith('CREATE TABLE "users" (\n  "id" serial NOT NULL,\n')
    assert columns_of(target, "users")[0] == (
        "id",
        "integer",
        True,
        "nextval('users_id_seq'::regclass)",
    )
    assert replan(target, dev, sql) == []


# --- modifications ----------------------------------------------------------------------


def test_types_nullability_and_defaults_change_in_one_statement(
    new_db: Callable[..., DatabaseURL],
) -> None:
    target, dev = new_db(), new_db()
    v1 = "create table t (a int, b varchar(10) not null default 'x', c text, d text default 'y');"
    v2 = "create table t (a bigint not null default 7, b text, c varchar(20) default 'z', d text);"
    apply(target, dev, v1)
    run(target, "INSERT INTO t (a, b, c) VALUES (1, 'one', '12345')")
    report = apply(target, dev, v2)
    assert report.applied == [
        'ALTER TABLE "t" ALTER COLUMN "a" TYPE bigint USING "a"::bigint,'
        ' ALTER COLUMN "a" SET NOT NULL, ALTER COLUMN "a" SET DEFAULT 7,'
        ' ALTER COLUMN "b" DROP DEFAULT, ALTER COLUMN "b" TYPE text USING "b"::text,'
        ' ALTER COLUMN "b" DROP NOT NULL,'
        ' ALTER COLUMN "c" TYPE character varying(20) USING "c"::character varying(20),'
        " ALTER COLUMN \"c\" SET DEFAULT 'z'::character varying,"
        ' ALTER COLUMN "d" DROP DEFAULT'
    ]
    assert columns_of(target, "t") == [
        ("a", "bigint", True, "7"),
        ("b", "text", False, None),
        ("c", "character varying(20)", False, "'z'::character varying"),
        ("d", "text", False, None),
    ]
    assert fetch(target, "SELECT a, b, c FROM t") == [(1, "one", "12345")]
    assert replan(target, dev, v2) == []


def test_columns_indexes_foreign_keys_and_checks_are_added_and_dropped(
    new_db: Callable[..., DatabaseURL],
) -> None:
    target, dev = new_db(), new_db()
    v1 = """
    create table owners (id int primary key);
    create table pets (
      id int primary key, owner int references owners (id), name text, old text,
      constraint named check (id > 0)
    );
    create index pets_name on pets (name);
    """
    v2 = """
    create table owners (id int primary key);
    create table pets (
      id int primary key, owner int, name text not null default '', age int,
      constraint age_ok check (age >= 0),
      constraint pets_owner_fk foreign key (owner) references owners (id) on delete set null
    );
    create unique index pets_name_owner on pets (name, owner) where age is not null;
    """
    apply(target, dev, v1)
    report = apply(target, dev, v2)
    assert report.applied == [
        'ALTER TABLE "pets" DROP CONSTRAINT "pets_owner_fkey"',
        'DROP INDEX "pets_name"',
        'ALTER TABLE "pets" DROP CONSTRAINT "named", ALTER COLUMN "name" SET NOT NULL,'
        ' ALTER COLUMN "name" SET DEFAULT \'\'::text, DROP COLUMN "old",'
        ' ADD COLUMN "age" integer, ADD CONSTRAINT "age_ok" CHECK (age >= 0)',
        'CREATE UNIQUE INDEX "pets_name_owner" ON "pets" ("name", "owner") WHERE age IS NOT NULL',
        'ALTER TABLE "pets" ADD CONSTRAINT "pets_owner_fk" FOREIGN KEY ("owner")'
        ' REFERENCES "owners" ("id") ON UPDATE NO ACTION ON DELETE SET NULL',
    ]
    pets = table_of(target, "pets")
    assert [c.name for c in pets.columns] == ["id", "owner", "name", "age"]
    assert [i.name for i in pets.indexes] == ["pets_name_owner"]
    assert [f.name for f in pets.foreign_keys] == ["pets_owner_fk"]
    assert pets.checks == (Check("age_ok", "age >= 0"),)
    assert replan(target, dev, v2) == []
    # And back: everything that was added is dropped again.
    apply(target, dev, v1)
    assert replan(target, dev, v1) == []
    assert [f.name for f in table_of(target, "pets").foreign_keys] == ["pets_owner_fkey"]


def test_index_and_unique_constraint_modifications_drop_and_recreate(
    new_db: Callable[..., DatabaseURL],
) -> None:
    target, dev = new_db(), new_db()
    v1 = "create table t (a int, b int, constraint t_u unique (a)); create index t_i on t (a);"
    v2 = (
        "create table t (a int, b int, constraint t_u unique (a, b));"
        " create index t_i on t (a desc); comment on index t_i is 'newest first';"
    )
    apply(target, dev, v1)
    report = apply(target, dev, v2)
    assert report.applied == [
        'DROP INDEX "t_i"',
        'ALTER TABLE "t" DROP CONSTRAINT "t_u", ADD CONSTRAINT "t_u" UNIQUE ("a", "b")',
        'CREATE INDEX "t_i" ON "t" ("a" DESC)',
        "COMMENT ON INDEX \"t_i\" IS 'newest first'",
    ]
    assert replan(target, dev, v2) == []


def test_fk_cycle_between_new_tables(new_db: Callable[..., DatabaseURL]) -> None:
    target, dev = new_db(), new_db()
    sql = """
    create table a (id int primary key, b_id int);
    create table b (id int primary key, a_id int references a (id));
    alter table a add constraint a_b_fk foreign key (b_id) references b (id);
    """
    report = apply(target, dev, sql)
    assert [s.split(" (")[0] for s in report.applied] == [
        'CREATE TABLE "a"',
        'CREATE TABLE "b"',
        'ALTER TABLE "a" ADD CONSTRAINT "a_b_fk" FOREIGN KEY',
    ]
    assert 'REFERENCES "a"' in report.applied[1]
    assert replan(target, dev, sql) == []
    # Dropping both tables drops them in an order the keys allow.
    apply(target, dev, "create table c (id int);")
    assert [t.name for t in only_schema(target).tables] == ["c"]


def test_identity_columns_are_added_altered_and_dropped(
    new_db: Callable[..., DatabaseURL],
) -> None:
    target, dev = new_db(), new_db()
    v1 = "create table t (id int not null, n int generated by default as identity);"
    v2 = (
        "create table t (id int generated always as identity (start with 100),"
        " n int generated always as identity (start with 5 increment by 2 cache 10));"
    )
    v3 = "create table t (id int not null default 0, n int not null);"
    apply(target, dev, v1)
    report = apply(target, dev, v2)
    assert report.applied == [
        'ALTER TABLE "t" ALTER COLUMN "id" ADD GENERATED ALWAYS AS IDENTITY (START WITH 100),'
        ' ALTER COLUMN "n" SET GENERATED ALWAYS SET START WITH 5 SET INCREMENT BY 2'
        " SET CACHE 10"
    ]
    n = table_of(target, "t").column("n")
    assert n is not None
    assert n.identity == Identity(always=True, start=5, increment=2, cache=10)
    assert replan(target, dev, v2) == []
    report = apply(target, dev, v3)
    assert report.applied == [
        # The identity goes first: an identity column takes no default.
        'ALTER TABLE "t" ALTER COLUMN "id" DROP IDENTITY, ALTER COLUMN "id" SET DEFAULT 0,'
        ' ALTER COLUMN "n" DROP IDENTITY'
    ]
    assert replan(target, dev, v3) == []


def test_serial_columns_switch_to_and_from_integers(new_db: Callable[..., DatabaseURL]) -> None:
    target, dev = new_db(), new_db()
    apply(target, dev, "create table t (id int not null);")
    report = apply(target, dev, "create table t (id bigserial);")
    assert report.applied == [
        'CREATE SEQUENCE IF NOT EXISTS "t_id_seq" AS bigint OWNED BY "t"."id"',
        'ALTER TABLE "t" ALTER COLUMN "id" SET DEFAULT nextval(\'"t_id_seq"\'::regclass),'
        ' ALTER COLUMN "id" TYPE bigint USING "id"::bigint',
    ]
    assert columns_of(target, "t") == [("id", "bigint", True, "nextval('t_id_seq'::regclass)")]
    assert replan(target, dev, "create table t (id bigserial);") == []
    report = apply(target, dev, "create table t (id int not null);")
    assert report.applied == [
        'ALTER TABLE "t" ALTER COLUMN "id" DROP DEFAULT,'
        ' ALTER COLUMN "id" TYPE integer USING "id"::integer',
        'DROP SEQUENCE IF EXISTS "t_id_seq"',
    ]
    assert not relation_exists(target, "t_id_seq")


def test_generated_columns_drop_their_expression_or_are_added_again(
    new_db: Callable[..., DatabaseURL],
) -> None:
    target, dev = new_db(), new_db()
    generated = "create table t (a int, b int generated always as (a + 1) stored);"
    apply(target, dev, generated)
    run(target, "INSERT INTO t (a) VALUES (41)")
    report = apply(target, dev, "create table t (a int, b int);")
    assert report.applied == ['ALTER TABLE "t" ALTER COLUMN "b" DROP EXPRESSION']
    assert fetch(target, "SELECT b FROM t") == [(42,)]
    # PostgreSQL cannot make a column generated or change the expression in place: the
    # column is dropped and added, its values computed again (and the lint says so).
    with pytest.raises(DestructiveChangesError):
        replan(target, dev, generated, lint_destructive_error=True)
    assert apply(target, dev, generated).applied == [
        'ALTER TABLE "t" DROP COLUMN "b", ADD COLUMN "b" integer GENERATED ALWAYS AS (a + 1) STORED'
    ]
    changed = generated.replace("a + 1", "a * 2")
    apply(target, dev, changed)
    assert fetch(target, "SELECT b FROM t") == [(82,)]
    assert replan(target, dev, changed) == []


def test_comments_on_tables_and_columns_change(new_db: Callable[..., DatabaseURL]) -> None:
    target, dev = new_db(), new_db()
    apply(target, dev, "create table t (a int); comment on table t is 'it''s';")
    report = apply(target, dev, "create table t (a int); comment on column t.a is 'the a';")
    assert report.applied == [
        'COMMENT ON TABLE "t" IS NULL',
        'COMMENT ON COLUMN "t"."a" IS \'the a\'',
    ]
    assert [s.comment for s in report.plan.statements] == [
        'Set comment to table: "t"',
        'Set comment to column: "a" on table: "t"',
    ]


# --- realm scope -------------------------------------------------------------------------


def test_realm_scope_qualifies_names_and_manages_schemas(
    new_db: Callable[..., DatabaseURL],
) -> None:
    target, dev = new_db(schema=None), new_db(schema=None)
    v1 = """
    create schema app;
    create table app.users (id int primary key);
    create table public.posts (id int primary key, author int references app.users (id));
    create index posts_author on public.posts (author);
    """
    report = apply(target, dev, v1)
    assert report.applied == [
        'CREATE SCHEMA "app"',
        'CREATE TABLE "app"."users" (\n  "id" integer NOT NULL,\n  PRIMARY KEY ("id")\n)',
        'CREATE TABLE "public"."posts" (\n  "id" integer NOT NULL,\n  "author" integer,\n'
        '  PRIMARY KEY ("id"),\n'
        '  CONSTRAINT "posts_author_fkey" FOREIGN KEY ("author") REFERENCES "app"."users" ("id")'
        " ON UPDATE NO ACTION ON DELETE NO ACTION\n)",
        'CREATE INDEX "posts_author" ON "public"."posts" ("author")',
    ]
    assert [s.comment for s in report.plan.statements] == [
        'Add new schema named "app"',
        'Create "users" table',
        'Create "posts" table',
        'Create index "posts_author" to table: "posts"',
    ]
    assert replan(target, dev, v1) == []
    v2 = "create table public.posts (id int primary key, author int);"
    report = apply(target, dev, v2)
    assert report.applied == [
        'ALTER TABLE "public"."posts" DROP CONSTRAINT "posts_author_fkey"',
        'DROP INDEX "public"."posts_author"',
        'DROP SCHEMA "app" CASCADE',
    ]
    assert report.plan.statements[-1].comment == 'Drop schema named "app"'
    assert [s.name for s in inspect(target, REALM).schemas] == ["public"]
    assert replan(target, dev, v2) == []


def test_schema_scope_never_touches_other_schemas(new_db: Callable[..., DatabaseURL]) -> None:
    target, dev = new_db(), new_db()
    run(target, "CREATE SCHEMA other; CREATE TABLE other.keep (id int)")
    report = apply(target, dev, "create table t (id int);")
    assert report.applied == ['CREATE TABLE "t" (\n  "id" integer\n)']
    assert relation_exists(target, "other.keep")


# --- concurrent indexes and transactions ---------------------------------------------------


def test_concurrent_indexes_on_existing_tables_run_outside_a_transaction(
    new_db: Callable[..., DatabaseURL],
) -> None:
    target, dev = new_db(), new_db()
    apply(target, dev, "create table t (a int, b int); create index t_a on t (a);")
    v2 = "create table t (a int, b int); create index t_b on t (b); create table n (c int);"
    v2 += " create index n_c on n (c);"
    with DRIVER.open(target) as session:
        policy = ApplyPolicy(concurrent_create=True, concurrent_drop=True)
        desired = load_sql_on_dev(v2, dev, PUBLIC, policy)
        plan = plan_apply(session, DRIVER, desired, policy)
        assert [(s.sql, s.transactional) for s in plan.statements] == [
            ('CREATE TABLE "n" (\n  "c" integer\n)', True),
            ('CREATE INDEX "n_c" ON "n" ("c")', True),
            ('DROP INDEX CONCURRENTLY "t_a"', False),
            ('CREATE INDEX CONCURRENTLY "t_b" ON "t" ("b")', False),
        ]
        # CREATE/DROP INDEX CONCURRENTLY fail inside a transaction block: the executor
        # runs such a plan without one, even in tx-mode "file".
        report = execute_plan(session, DRIVER, plan, "file")
    assert report.error is None, report.error
    assert fetch(target, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_b'::regclass") == [
        (True,)
    ]
    assert not relation_exists(target, "t_a")


def test_concurrent_index_flags_are_independent() -> None:
    table = Table("t", columns=(Column("a", "integer"),))
    old = Index("old", (IndexPart(column="a"),))
    new = Index("new", (IndexPart(expr="a + 1"),), method="hash")
    change = ModifyTable("s", table, table, (DropIndex(old), AddIndex(new)))
    statements = DRIVER.plan([change], REALM, concurrent_index=(True, False))
    assert [(s.sql, s.transactional) for s in statements] == [
        ('DROP INDEX "s"."old"', True),
        ('CREATE INDEX CONCURRENTLY "new" ON "s"."t" USING hash ((a + 1))', False),
    ]


def test_a_failing_statement_rolls_back_the_whole_plan(
    new_db: Callable[..., DatabaseURL],
) -> None:
    target, dev = new_db(), new_db()
    apply(target, dev, "create table t (a int);")
    run(target, "INSERT INTO t VALUES (1)")
    report = schema_apply(
        target,
        "create table audit (id int); create table t (a int, b int not null);",
        dev,
        ApplyPolicy(),
    )
    assert report.error == 'column "b" of relation "t" contains null values'
    assert report.error_stmt == 'ALTER TABLE "t" ADD COLUMN "b" integer NOT NULL'
    assert report.applied == []
    assert report.pending == report.plan.sql
    assert report.plan.sql[0].startswith('CREATE TABLE "audit"')
    assert not relation_exists(target, "audit")


# --- dev database cleaning -----------------------------------------------------------------


CLUTTER = """
create type mood as enum ('sad', 'ok');
create domain positive as int check (value > 0);
create type pair as (a int, b int);
create collation ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
create sequence loose_seq;
create table t (id serial primary key, m mood, p positive);
create table child (id int references t (id));
create view v as select id from t;
create materialized view mv as select id from t;
create function f(t) returns int language sql as 'select 1';
create procedure pr() language sql as 'select 1';
"""


def test_clean_empties_the_bound_schema(new_db: Callable[..., DatabaseURL]) -> None:
    url = new_db()
    run(url, "CREATE EXTENSION IF NOT EXISTS citext")  # extension objects are left alone
    with DRIVER.open(url) as session:
        assert DRIVER.is_clean(session, PUBLIC)
        session.execute("CREATE SEQUENCE only_a_sequence")
        assert not DRIVER.is_clean(session, PUBLIC)
        session.execute(CLUTTER)
        session.begin()  # a desired state may leave a transaction open
        DRIVER.clean(session, PUBLIC)
        assert DRIVER.is_clean(session, PUBLIC)
    leftovers = fetch(
        url,
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind <> 'i'",
    )
    assert leftovers == [(0,)]
    assert fetch(url, "SELECT count(*) FROM pg_extension WHERE extname = 'citext'") == [(1,)]
    assert fetch(url, "SELECT obj_description('public'::regnamespace)") == [
        ("standard public schema",)
    ]


def test_clean_in_realm_scope_drops_schemas_and_empties_public(
    new_db: Callable[..., DatabaseURL],
) -> None:
    url = new_db(schema=None)
    with DRIVER.open(url) as session:
        assert DRIVER.is_clean(session, REALM)
        session.execute("CREATE SCHEMA empty_one")
        assert not DRIVER.is_clean(session, REALM)
        session.execute("CREATE SCHEMA app")
        session.execute("CREATE TABLE app.t (id int PRIMARY KEY)")
        session.execute("CREATE TABLE public.p (id int REFERENCES app.t (id) DEFERRABLE)")
        DRIVER.clean(session, Scope(schemas=("app",)))
        assert DRIVER.is_clean(session, REALM)
    assert [s.name for s in inspect(url, REALM).schemas] == ["public"]
    assert not relation_exists(url, "public.p")


def test_declarative_apply_leaves_the_dev_database_clean(
    new_db: Callable[..., DatabaseURL],
) -> None:
    target, dev = new_db(), new_db()
    objects = "create type mood as enum ('sad'); create sequence s; create view v as select 1;"
    report = apply(target, dev, objects + RICH)
    assert len(report.applied) == 10
    with DRIVER.open(dev) as session:
        assert DRIVER.is_clean(session, PUBLIC)
    assert fetch(dev, "SELECT count(*) FROM pg_class WHERE relname IN ('s', 'v', 'members')") == [
        (0,)
    ]


# --- planning without a database -----------------------------------------------------------


def test_plan_quotes_identifiers_and_strings() -> None:
    table = Table(
        'we"ird',
        columns=(Column("x y", "text", default="'it''s'::text", comment="it's"),),
        primary_key=PrimaryKey(("x y",), name="custom_pk"),
        checks=(Check("c", 'length("x y") > 0'),),
    )
    current = Schema("public")
    desired = Schema("public", tables=(table,))
    statements = DRIVER.plan(diff_schemas(current, desired), PUBLIC)
    assert [s.sql for s in statements] == [
        'CREATE TABLE "we""ird" (\n'
        "  \"x y\" text DEFAULT 'it''s'::text,\n"
        '  CONSTRAINT "custom_pk" PRIMARY KEY ("x y"),\n'
        '  CONSTRAINT "c" CHECK (length("x y") > 0)\n'
        ")",
        'COMMENT ON COLUMN "we""ird"."x y" IS \'it\'\'s\'',
    ]
    assert statements[0].comment == 'Create "we"ird" table'
    dropped = DRIVER.plan(diff_schemas(desired, current), PUBLIC)
    assert [(s.sql, s.comment) for s in dropped] == [
        ('DROP TABLE "we""ird"', 'Drop "we"ird" table')
    ]


def test_schema_changes_are_refused_in_schema_scope() -> None:
    from atlas_operator.engine.changes import AddSchema

    with pytest.raises(UnsupportedChangeError, match='bound to schema "public"'):
        DRIVER.plan([AddSchema(Schema("other"))], PUBLIC)


UNMANAGED = """
create type mood as enum ('sad', 'ok');
create type span as range (subtype = int4);
create table t (id serial primary key, m mood);
create view v as select id from t;
create rule keep as on delete to t do instead nothing;
create aggregate total (int) (sfunc = int4pl, stype = int);
create function touch() returns trigger language plpgsql as $$ begin return new; end $$;
create trigger tr before insert on t for each row execute function touch();
"""


def test_objects_the_model_lacks_are_named(new_db: Callable[..., DatabaseURL]) -> None:
    dev = new_db()
    desired = load_sql_on_dev(UNMANAGED, dev, PUBLIC, ApplyPolicy())
    # Views, enums, functions and triggers are modelled; the rest is named, not dropped.
    assert [(u.kind, u.name, u.table) for u in desired.unmanaged] == [
        ("aggregate", "total", None),
        ("range type", "span", None),
        ("rule", "keep", "t"),
    ]
    assert [o.kind for o in desired.schemas[0].objects] == ["enum", "function", "trigger", "view"]
    excluded = load_sql_on_dev(
        UNMANAGED, dev, PUBLIC, ApplyPolicy(exclude=("t.keep[type=rule]", "total[type=aggregate]"))
    )
    assert [u.name for u in excluded.unmanaged] == ["span"]


TIME_COLUMNS = ("timestamp", "timestamptz", "time", "timetz", "interval")


def time_table(precision: str) -> str:
    columns = ", ".join(f"c{i} {kind}{precision}" for i, kind in enumerate(TIME_COLUMNS))
    return f"create table t ({columns}, a timestamp{precision}[]);"


@pytest.mark.parametrize(("created", "desired"), [("(6)", ""), ("", "(6)")])
def test_default_time_precision_equals_none(
    new_db: Callable[..., DatabaseURL], created: str, desired: str
) -> None:
    target, dev = new_db(), new_db()
    run(target, time_table(created))
    assert replan(target, dev, time_table(desired)) == []


def test_other_time_precisions_still_change(new_db: Callable[..., DatabaseURL]) -> None:
    target, dev = new_db(), new_db()
    run(target, "create table t (a timestamp(3), b interval(3));")
    assert replan(target, dev, "create table t (a timestamp, b interval);") == [
        'ALTER TABLE "t" ALTER COLUMN "a" TYPE timestamp without time zone'
        ' USING "a"::timestamp without time zone, ALTER COLUMN "b" TYPE interval'
        ' USING "b"::interval'
    ]
