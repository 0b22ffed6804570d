"""MySQL/MariaDB driver against the real MariaDB test server, plus renderer and row
normalisation unit tests for the MySQL 8 paths that server cannot exercise.

Every server test creates its own databases under random names and drops them
afterwards; realm-scoped operations are always narrowed to those names, because the
server is shared with other tests.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import pymysql
import pytest

from atlas_operator.engine.changes import (
    AddCheck,
    AddColumn,
    AddIndex,
    AddSchema,
    AddTable,
    DropCheck,
    DropIndex,
    DropSchema,
    DropTable,
    ModifyCheck,
    ModifyColumn,
    ModifySchema,
    ModifyTable,
    ModifyTableAttr,
)
from atlas_operator.engine.declarative import (
    ApplyPolicy,
    ApplyReport,
    execute_plan,
    load_sql_on_dev,
    plan_apply,
    schema_apply,
)
from atlas_operator.engine.drivers import driver_for
from atlas_operator.engine.drivers.base import DatabaseError, Scope
from atlas_operator.engine.drivers.mysql import (
    MARIADB,
    MYSQL,
    ColumnRow,
    IndexRow,
    MySQLDriver,
    MySQLSession,
    Planner,
    ServerInfo,
    TableBuild,
    column_from_row,
    index_from_rows,
    normalize_default,
)
from atlas_operator.engine.model import (
    Check,
    Column,
    ForeignKey,
    Generated,
    Index,
    IndexPart,
    PrimaryKey,
    Realm,
    Schema,
    Table,
)
from atlas_operator.engine.urls import DatabaseURL, parse_url
from tests.rig.services import ServiceURLs

DB = pytest.mark.databases

SEED = """
create table users (
  id int not null auto_increment,
  name varchar(255) not null,
  email varchar(255) unique not null,
  short_bio varchar(255) not null,
  primary key (id)
);
"""

RICH = """
create table teams (id int primary key, name varchar(50) not null) comment 'the teams';
create table members (
  id bigint unsigned not null auto_increment primary key,
  title varchar(20) default 'abc',
  quoted varchar(20) default 'it''s',
  literal_null varchar(20) default 'NULL',
  nothing varchar(20),
  score int not null default 0,
  ratio decimal(10,2) default 1.50,
  flag bit(1) default b'1',
  kind enum('A','b') default 'A',
  created timestamp not null default current_timestamp on update current_timestamp,
  touched datetime(3) default current_timestamp(3) on update current_timestamp(3),
  twice int as (score * 2) virtual,
  plus int generated always as (score + 1) stored,
  bio text comment 'about ''me''',
  code varchar(10) character set latin1 collate latin1_bin,
  doc json,
  positive int check (positive > 0),
  team_id int,
  constraint score_ok check (score >= 0),
  unique key uq_title (title, nothing),
  key k_prefix (bio(10)),
  key k_desc (score desc, title) comment 'by score',
  fulltext key ft_nothing (nothing),
  constraint fk_team foreign key (team_id) references teams (id)
    on delete cascade on update set null
) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci comment='people';
"""

# --- fixtures and helpers ------------------------------------------------------------


def admin_connection(url: DatabaseURL) -> Any:
    kwargs = replace(url, database=None, schema=None).pymysql_kwargs()
    return pymysql.connect(**kwargs, autocommit=True)


def admin_run(url: DatabaseURL, *statements: str) -> list[tuple[Any, ...]]:
    """Runs statements with a plain PyMySQL connection; returns the last one's rows."""
    conn = admin_connection(url)
    try:
        rows: list[tuple[Any, ...]] = []
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
                rows = list(cursor.fetchall())
        return rows
    finally:
        conn.close()


@pytest.fixture
def server(databases: ServiceURLs) -> DatabaseURL:
    """The MariaDB server, addressed with the mariadb:// scheme, at realm scope."""
    return parse_url(databases.mariadb)


MakeDatabase = Callable[..., str]


@pytest.fixture
def make_database(server: DatabaseURL) -> Iterator[MakeDatabase]:
    """Creates databases with random names (or only reserves a name) and drops them after."""
    names: list[str] = []

    def make(prefix: str, *, create: bool = True) -> str:
        name = f"{prefix}_{secrets.token_hex(4)}"
        names.append(name)
        if create:
            admin_run(server, f"CREATE DATABASE `{name}`")
        return name

    yield make
    if names:
        drops = (f"DROP DATABASE IF EXISTS `{n}`" for n in names)
        admin_run(server, "SET FOREIGN_KEY_CHECKS = 0", *drops)


@pytest.fixture
def pair(server: DatabaseURL, make_database: MakeDatabase) -> tuple[DatabaseURL, DatabaseURL]:
    """(target, dev): two empty databases, schema-bound URLs."""
    return server.with_schema(make_database("target")), server.with_schema(make_database("dev"))


def apply(target: DatabaseURL, dev: DatabaseURL, sql: str, **policy: Any) -> list[str]:
    report = schema_apply(target, sql, dev, ApplyPolicy(**policy))
    assert report.error is None, report.error
    return report.applied


def replan(target: DatabaseURL, dev: DatabaseURL, sql: str) -> list[str]:
    return schema_apply(target, sql, dev, ApplyPolicy(), dry_run=True).pending


def inspect(url: DatabaseURL, schemas: Sequence[str] = ()) -> Realm:
    driver = driver_for(url)
    with driver.open(url) as session:
        return driver.inspect(session, driver.scope_of(url, schemas))


def table_of(url: DatabaseURL, name: str) -> Table:
    table = inspect(url).schemas[0].table(name)
    assert table is not None, f"no table {name}"
    return table


def is_mariadb(url: DatabaseURL) -> bool:
    version = admin_run(url, "SELECT VERSION()")[0][0]
    return "MariaDB" in str(version)


# --- sessions -------------------------------------------------------------------------


@DB
def test_connect_error_names_the_redacted_url_and_never_the_password(
    server: DatabaseURL,
) -> None:
    wrong = replace(server, password="wrong-secret-7Qz")
    with pytest.raises(DatabaseError) as refused:
        MySQLSession(wrong)
    message = str(refused.value)
    assert message.startswith(f"cannot connect to {wrong.redacted()}: Error 1045")
    assert "wrong-secret-7Qz" not in message
    assert "xxxxx" in message

    with pytest.raises(DatabaseError, match=r"cannot connect to .*Error 2003"):
        MySQLSession(replace(server, port=1))


@DB
def test_statement_errors_carry_the_server_error_number(server: DatabaseURL) -> None:
    with MySQLSession(server) as session:
        with pytest.raises(DatabaseError, match=r"^Error 1064 \(42000\): You have an error"):
            session.execute("SELEC 1")
        # A `%` in a statement is text, not a parameter marker.
        session.execute("SELECT '100%'")
        assert session.query("SELECT %s + 1", [41]) == [(42,)]


@DB
def test_a_mysql_url_to_mariadb_behaves_as_mariadb(databases: ServiceURLs) -> None:
    url = parse_url(databases.mysql)
    driver = driver_for(url)
    assert isinstance(driver, MySQLDriver)
    assert driver.flavor == MYSQL
    with driver.open(url) as session:
        assert isinstance(session, MySQLSession)
        assert session.flavor == MARIADB
    assert driver.flavor == MARIADB
    assert not driver.transactional_ddl
    change = ModifyTable("s", Table("t"), Table("t"), (DropCheck(Check("c", "a > 0")),))
    assert [s.sql for s in driver.plan([change], Scope(bound="s"))] == [
        "ALTER TABLE `t` DROP CONSTRAINT `c`"
    ]


@DB
def test_begin_and_rollback_are_explicit(server: DatabaseURL, make_database: MakeDatabase) -> None:
    url = server.with_schema(make_database("tx"))
    admin_run(url, f"CREATE TABLE `{url.schema}`.t (id int) ENGINE=InnoDB")
    with MySQLSession(url) as session:
        session.begin()
        session.execute("INSERT INTO t VALUES (1)")
        session.rollback()
        session.execute("INSERT INTO t VALUES (2)")  # autocommit again
        with session.transaction():
            session.execute("INSERT INTO t VALUES (3)")
    assert admin_run(url, f"SELECT id FROM `{url.schema}`.t ORDER BY id") == [(2,), (3,)]


# --- the seed's example ----------------------------------------------------------------


@DB
@pytest.mark.parametrize("scheme", ["mysql", "mariadb"])
def test_seed_example_applies_through_both_schemes_and_replans_empty(
    databases: ServiceURLs, make_database: MakeDatabase, scheme: str
) -> None:
    base = parse_url(databases.mysql if scheme == "mysql" else databases.mariadb)
    assert base.scheme == scheme
    target = base.with_schema(make_database("myapp"))
    dev = base.with_schema(make_database("devdb"))
    int_type = "int(11)" if is_mariadb(base) else "int"
    driver = driver_for(target)

    # The dev step on its own: the SQL becomes a model in database normal form.
    desired = load_sql_on_dev(SEED, dev, driver.scope_of(target), ApplyPolicy())
    assert desired.schemas[0].tables == (
        Table(
            "users",
            columns=(
                Column("id", int_type, nullable=False, auto_increment=True),
                Column("name", "varchar(255)", nullable=False),
                Column("email", "varchar(255)", nullable=False),
                Column("short_bio", "varchar(255)", nullable=False),
            ),
            primary_key=PrimaryKey(("id",)),
            indexes=(Index("email", (IndexPart(column="email"),), unique=True),),
        ),
    )

    report = schema_apply(target, SEED, dev, ApplyPolicy())

    assert report.error is None
    assert [s.comment for s in report.plan.statements] == ['Create "users" table']
    assert report.applied == [
        "CREATE TABLE `users` (\n"
        f"  `id` {int_type} NOT NULL AUTO_INCREMENT,\n"
        "  `name` varchar(255) NOT NULL,\n"
        "  `email` varchar(255) NOT NULL,\n"
        "  `short_bio` varchar(255) NOT NULL,\n"
        "  PRIMARY KEY (`id`),\n"
        "  UNIQUE INDEX `email` (`email`)\n"
        ")"
    ]
    assert admin_run(base, f"DESCRIBE `{target.schema}`.users") == [
        ("id", int_type, "NO", "PRI", None, "auto_increment"),
        ("name", "varchar(255)", "NO", "", None, ""),
        ("email", "varchar(255)", "NO", "UNI", None, ""),
        ("short_bio", "varchar(255)", "NO", "", None, ""),
    ]
    assert replan(target, dev, SEED) == []
    # The dev database is left clean.
    with driver.open(dev) as session:
        assert driver.is_clean(session, driver.scope_of(dev))


# --- inspection ---------------------------------------------------------------------


@DB
def test_rich_table_round_trips_through_inspection_and_planning(
    pair: tuple[DatabaseURL, DatabaseURL], server: DatabaseURL
) -> None:
    target, dev = pair
    driver = MySQLDriver(MARIADB)
    desired = load_sql_on_dev(RICH, dev, driver.scope_of(target), ApplyPolicy())
    members = desired.schemas[0].table("members")
    assert members is not None
    column = members.column
    int_type = "int(11)" if is_mariadb(server) else "int"

    assert column("id") == Column(
        "id", "bigint(20) unsigned" if int_type != "int" else "bigint unsigned",
        nullable=False, auto_increment=True,
    )  # fmt: skip
    assert column("title") == Column("title", "varchar(20)", default="'abc'")
    assert column("quoted") == Column("quoted", "varchar(20)", default="'it''s'")
    assert column("literal_null") == Column("literal_null", "varchar(20)", default="'NULL'")
    assert column("nothing") == Column("nothing", "varchar(20)")
    assert column("score") == Column("score", int_type, nullable=False, default="0")
    assert column("ratio") == Column("ratio", "decimal(10,2)", default="1.50")
    assert column("flag") == Column("flag", "bit(1)", default="b'1'")
    assert column("kind") == Column("kind", "enum('A','b')", default="'A'")
    assert column("created") == Column(
        "created", "timestamp", nullable=False,
        default="current_timestamp()", on_update="current_timestamp()",
    )  # fmt: skip
    assert column("touched") == Column(
        "touched", "datetime(3)",
        default="current_timestamp(3)", on_update="current_timestamp(3)",
    )  # fmt: skip
    twice, plus = column("twice"), column("plus")
    assert twice is not None
    assert twice.generated is not None
    assert twice.generated.stored is False
    assert "score" in twice.generated.expr
    assert plus is not None
    assert plus.generated is not None
    assert plus.generated.stored
    assert column("bio") == Column("bio", "text", comment="about 'me'")
    assert column("code") == Column("code", "varchar(10)", charset="latin1", collation="latin1_bin")
    assert column("doc") == Column("doc", "json")
    assert members.comment == "people"
    assert members.options == (("charset", "utf8mb4"), ("collation", "utf8mb4_unicode_ci"))
    assert members.primary_key == PrimaryKey(("id",))
    assert members.index("uq_title") == Index(
        "uq_title", (IndexPart(column="title"), IndexPart(column="nothing")), unique=True
    )
    assert members.index("k_prefix") == Index("k_prefix", (IndexPart(column="bio", prefix=10),))
    assert members.index("k_desc") == Index(
        "k_desc",
        (IndexPart(column="score", desc=True), IndexPart(column="title")),
        comment="by score",
    )
    assert members.index("ft_nothing") == Index(
        "ft_nothing", (IndexPart(column="nothing"),), method="FULLTEXT"
    )
    assert members.foreign_keys == (
        ForeignKey(
            "fk_team", ("team_id",), "teams", ("id",), on_update="SET NULL", on_delete="CASCADE"
        ),
    )
    # The JSON column's implicit json_valid check does not leak; real checks do not hide.
    assert {c.name for c in members.checks} == {"positive", "score_ok"}
    teams = desired.schemas[0].table("teams")
    assert teams is not None
    assert teams.comment == "the teams"
    assert teams.options == ()

    applied = apply(target, dev, RICH)
    assert [s.split(" (")[0] for s in applied] == [
        "CREATE TABLE `teams`",
        "CREATE TABLE `members`",
    ]
    assert inspect(target).schemas[0].tables == desired.schemas[0].tables
    assert replan(target, dev, RICH) == []


@DB
def test_inspection_runs_a_fixed_number_of_queries(
    server: DatabaseURL, make_database: MakeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six catalog queries for tables and four for views, routines, triggers and events
    (test_mysql_objects.py), plus on MariaDB one batch of SHOW CREATE TABLE for the tables
    with a B-tree key (explicit USING / KEY_BLOCK_SIZE: test_mysql_options.py)."""
    small, large = make_database("small"), make_database("large")
    admin_run(server, f"CREATE TABLE `{small}`.t0 (id int primary key)")
    admin_run(
        server,
        *(
            f"CREATE TABLE `{large}`.t{i} (id int primary key, v int check (v > 0),"
            f" key (v), constraint fk{i} foreign key (id) references `{large}`.t0 (id))"
            if i
            else f"CREATE TABLE `{large}`.t0 (id int primary key)"
            for i in range(8)
        ),
    )
    driver = MySQLDriver()

    def count(url: DatabaseURL, schemas: Sequence[str] = ()) -> tuple[int, Realm]:
        with driver.open(url) as session:
            assert isinstance(session, MySQLSession)
            seen: list[str] = []
            original, original_sets = session.query, session.query_sets

            def counting(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
                seen.append(sql)
                return original(sql, params)

            def counting_sets(sql: str) -> list[list[tuple[Any, ...]]]:
                seen.append(sql)
                return original_sets(sql)

            monkeypatch.setattr(session, "query", counting)
            monkeypatch.setattr(session, "query_sets", counting_sets)
            realm = driver.inspect(session, driver.scope_of(url, schemas))
            return len(seen), realm

    small_count, _ = count(server.with_schema(small))
    large_count, large_realm = count(server.with_schema(large))
    assert len(large_realm.schemas[0].tables) == 8
    assert (small_count, large_count) == (10, 11)  # `small` has no key but its primary one
    realm_count, realm = count(server, [small, large])
    assert realm_count == 11
    assert [s.name for s in realm.schemas] == sorted([small, large])


# --- changes ------------------------------------------------------------------------


@DB
def test_type_null_and_default_changes_are_one_alter_per_table(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    target, dev = pair
    v1 = """create table t (id int primary key, a int not null,
            b varchar(10) null default 'x', c varchar(20) not null);"""
    v2 = """create table t (id int primary key, a bigint not null,
            b varchar(10) not null default 'y', c varchar(20) null default 'z');"""
    apply(target, dev, v1)
    admin_run(target, f"INSERT INTO `{target.schema}`.t VALUES (1, 2, 'q', 'r')")
    int_big = "bigint(20)" if is_mariadb(target) else "bigint"

    applied = apply(target, dev, v2)

    assert applied == [
        "ALTER TABLE `t` MODIFY COLUMN `a` " + int_big + " NOT NULL, "
        "MODIFY COLUMN `b` varchar(10) NOT NULL DEFAULT 'y', "
        "MODIFY COLUMN `c` varchar(20) NULL DEFAULT 'z'"
    ]
    assert replan(target, dev, v2) == []
    t = table_of(target, "t")
    assert t.column("b") == Column("b", "varchar(10)", nullable=False, default="'y'")
    assert admin_run(target, f"SELECT a, b, c FROM `{target.schema}`.t") == [(2, "q", "r")]


@DB
def test_columns_indexes_foreign_keys_and_checks_are_added_and_dropped(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    target, dev = pair
    v1 = """
    create table parent (id int primary key);
    create table child (
      id int primary key, parent_id int, old int, x int,
      key old_idx (old),
      constraint child_parent foreign key (parent_id) references parent (id),
      constraint x_pos check (x > 0)
    );"""
    v2 = """
    create table parent (id int primary key);
    create table child (
      id int primary key, parent_id int, x int, note varchar(20),
      key note_idx (note),
      constraint x_big check (x > 10)
    );"""
    apply(target, dev, v1)

    applied = apply(target, dev, v2)

    assert applied[0] == "ALTER TABLE `child` DROP FOREIGN KEY `child_parent`"
    assert applied[1] == (
        "ALTER TABLE `child` DROP CONSTRAINT `x_pos`, DROP INDEX `child_parent`, "
        "DROP INDEX `old_idx`, DROP COLUMN `old`, ADD COLUMN `note` varchar(20) NULL, "
        "ADD INDEX `note_idx` (`note`), ADD CONSTRAINT `x_big` CHECK (`x` > 10)"
    )
    assert len(applied) == 2
    assert replan(target, dev, v2) == []

    # Back again: the key's index is created before the key that needs it.
    applied = apply(target, dev, v1)
    assert applied[-1] == (
        "ALTER TABLE `child` ADD CONSTRAINT `child_parent` FOREIGN KEY (`parent_id`) "
        "REFERENCES `parent` (`id`)"
    )
    assert "ADD INDEX `child_parent` (`parent_id`)" in applied[0]
    assert replan(target, dev, v1) == []
    child = table_of(target, "child")
    assert [fk.name for fk in child.foreign_keys] == ["child_parent"]
    assert [c.name for c in child.checks] == ["x_pos"]
    assert child.column("note") is None


@DB
def test_mariadb_column_checks_are_changed_through_the_column(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    target, dev = pair
    assert is_mariadb(target)
    v1 = "create table t (a int check (a > 0), b int);"
    v2 = "create table t (a int check (a > 1), b int);"
    v3 = "create table t (a bigint check (a > 1), b int);"
    v4 = "create table t (a bigint, b int);"
    apply(target, dev, v1)

    assert apply(target, dev, v2) == [
        "ALTER TABLE `t` MODIFY COLUMN `a` int(11) NULL CHECK (`a` > 1)"
    ]
    assert replan(target, dev, v2) == []
    # A type change repeats the check: MariaDB drops it on every MODIFY COLUMN otherwise.
    assert apply(target, dev, v3) == [
        "ALTER TABLE `t` MODIFY COLUMN `a` bigint(20) NULL CHECK (`a` > 1)"
    ]
    assert [c.expr for c in table_of(target, "t").checks] == ["`a` > 1"]
    assert apply(target, dev, v4) == ["ALTER TABLE `t` MODIFY COLUMN `a` bigint(20) NULL"]
    assert table_of(target, "t").checks == ()
    assert replan(target, dev, v4) == []


@DB
def test_table_options_change_and_text_columns_follow_the_charset(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    target, dev = pair
    v1 = "create table t (id int primary key, a varchar(10), n int) comment 'one';"
    v2 = (
        "create table t (id int primary key, a varchar(10), n int)"
        " comment 'two' engine=MyISAM charset latin1;"
    )
    apply(target, dev, v1)

    assert apply(target, dev, v2) == [
        "ALTER TABLE `t` MODIFY COLUMN `a` varchar(10) NULL, COMMENT 'two', "
        "CHARSET latin1, COLLATE latin1_swedish_ci, ENGINE MyISAM"
    ]
    assert replan(target, dev, v2) == []
    t = table_of(target, "t")
    assert t.options == (
        ("charset", "latin1"), ("collation", "latin1_swedish_ci"), ("engine", "MyISAM")
    )  # fmt: skip
    assert t.column("a") == Column("a", "varchar(10)")  # follows the table: no own collation
    assert apply(target, dev, v1) == [
        "ALTER TABLE `t` MODIFY COLUMN `a` varchar(10) NULL, COMMENT 'one', "
        "CHARSET DEFAULT, COLLATE DEFAULT, ENGINE InnoDB"
    ]
    assert replan(target, dev, v1) == []


@DB
def test_repointing_a_key_keeps_the_index_the_server_made_for_it(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    target, dev = pair
    schema = target.schema
    # Created outside the engine: the key's index is the server's implicit one.
    admin_run(
        target,
        f"CREATE TABLE `{schema}`.users (id int primary key)",
        f"CREATE TABLE `{schema}`.admins (id int primary key)",
        f"CREATE TABLE `{schema}`.posts (id int primary key, author_id int,"
        f" FOREIGN KEY (author_id) REFERENCES `{schema}`.users (id))",
    )
    desired = """
    create table users (id int primary key);
    create table admins (id int primary key);
    create table posts (id int primary key, author_id int,
      foreign key (author_id) references admins (id));
    """

    applied = apply(target, dev, desired)

    assert applied == [
        "ALTER TABLE `posts` DROP FOREIGN KEY `posts_ibfk_1`",
        "ALTER TABLE `posts` DROP INDEX `author_id`, ADD INDEX `author_id` (`author_id`), "
        "ADD CONSTRAINT `posts_ibfk_1` FOREIGN KEY (`author_id`) REFERENCES `admins` (`id`)",
    ]
    assert [i.name for i in table_of(target, "posts").indexes] == ["author_id"]
    assert replan(target, dev, desired) == []


@DB
def test_columns_turning_virtual_are_dropped_and_added_with_their_indexes(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    target, dev = pair
    regular = "create table t (id int primary key, b int, c int, key cb (c, b));"
    virtual = "create table t (id int primary key, b int, c int as (b * 2) virtual, key cb (c, b));"
    stored = "create table t (id int primary key, b int, c int as (b * 2) stored, key cb (c, b));"
    apply(target, dev, regular)
    admin_run(target, f"INSERT INTO `{target.schema}`.t (id, b, c) VALUES (1, 2, 3)")

    assert apply(target, dev, virtual) == [
        "ALTER TABLE `t` DROP INDEX `cb`, DROP COLUMN `c`, "
        "ADD COLUMN `c` int(11) GENERATED ALWAYS AS (`b` * 2) VIRTUAL, "
        "ADD INDEX `cb` (`c`, `b`)"
    ]
    assert replan(target, dev, virtual) == []
    assert admin_run(target, f"SELECT c FROM `{target.schema}`.t") == [(4,)]
    # VIRTUAL → STORED cannot be modified in place either; regular ↔ STORED can.
    assert "DROP COLUMN `c`" in apply(target, dev, stored)[0]
    assert apply(target, dev, regular) == ["ALTER TABLE `t` MODIFY COLUMN `c` int(11) NULL"]
    assert replan(target, dev, regular) == []
    assert [i.name for i in table_of(target, "t").indexes] == ["cb"]


@DB
def test_foreign_key_cycle_between_new_tables_is_closed_with_alter(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    target, dev = pair
    sql = """
    create table a (id int primary key, b_id int);
    create table b (id int primary key, a_id int,
      constraint b_a foreign key (a_id) references a (id));
    alter table a add constraint a_b foreign key (b_id) references b (id);
    """
    report = schema_apply(target, sql, dev, ApplyPolicy())

    assert report.error is None
    statements = report.applied
    assert len(statements) == 3
    assert statements[0].startswith("CREATE TABLE `")
    assert statements[1].startswith("CREATE TABLE `")
    assert "FOREIGN KEY" not in statements[0]
    assert statements[2].startswith("ALTER TABLE `")
    assert "ADD CONSTRAINT" in statements[2]
    assert "FOREIGN KEY" in statements[2]
    assert [s.comment for s in report.plan.statements][2].startswith('Modify "')
    assert {fk.name for t in inspect(target).schemas[0].tables for fk in t.foreign_keys} == {
        "a_b",
        "b_a",
    }
    assert replan(target, dev, sql) == []


@DB
def test_realm_scope_qualifies_names_and_creates_and_drops_databases(
    server: DatabaseURL, make_database: MakeDatabase
) -> None:
    kept, added, dropped = (
        make_database("kept"),
        make_database("added", create=False),
        make_database("dropped"),
    )
    dev_kept, dev_added = make_database("dk", create=False), make_database("da", create=False)
    admin_run(
        server,
        f"CREATE TABLE `{kept}`.t1 (id int primary key)",
        f"CREATE TABLE `{dropped}`.gone (id int)",
    )
    # The server is shared, so the desired realm is built under other names on it and
    # renamed; the dev realm is narrowed to those names and cleaned after use.
    desired_sql = f"""
    create database `{dev_kept}`;
    create database `{dev_added}`;
    create table `{dev_kept}`.t1 (id int primary key, label varchar(10));
    create table `{dev_added}`.t2 (id int primary key, t1_id int,
      constraint t2_t1 foreign key (t1_id) references `{dev_kept}`.t1 (id));
    """
    policy = ApplyPolicy(schemas=(dev_kept, dev_added))
    loaded = load_sql_on_dev(desired_sql, server, Scope(schemas=policy.schemas), policy)
    assert [s.name for s in loaded.schemas] == sorted([dev_added, dev_kept])
    desired = rename_schemas(loaded, {dev_kept: kept, dev_added: added})
    driver = MySQLDriver()
    with driver.open(server) as session:
        assert driver.is_clean(session, Scope(schemas=(dev_kept, dev_added)))
        target_policy = ApplyPolicy(schemas=(kept, added, dropped))
        plan = plan_apply(session, driver, desired, target_policy)
        by_comment = {s.comment: s.sql for s in plan.statements}
        assert by_comment[f'Add new schema named "{added}"'] == f"CREATE DATABASE `{added}`"
        assert by_comment[f'Drop schema named "{dropped}"'] == f"DROP DATABASE `{dropped}`"
        assert by_comment['Modify "t1" table'] == (
            f"ALTER TABLE `{kept}`.`t1` ADD COLUMN `label` varchar(10) NULL"
        )
        assert by_comment['Create "t2" table'].startswith(f"CREATE TABLE `{added}`.`t2` (")
        assert f"REFERENCES `{kept}`.`t1` (`id`)" in by_comment['Create "t2" table']
        assert plan.statements[0].comment == f'Add new schema named "{added}"'
        assert plan.statements[-1].comment == f'Drop schema named "{dropped}"'

        report = execute_plan(session, driver, plan, "file")
        assert report.error is None
        assert plan_apply(session, driver, desired, target_policy).statements == []
    names = {row[0] for row in admin_run(server, "SHOW DATABASES")}
    assert kept in names
    assert added in names
    assert dropped not in names


def rename_schemas(realm: Realm, names: dict[str, str]) -> Realm:
    def table(t: Table) -> Table:
        fks = tuple(
            replace(fk, ref_schema=names.get(fk.ref_schema, fk.ref_schema)) if fk.ref_schema else fk
            for fk in t.foreign_keys
        )
        return replace(t, foreign_keys=fks)

    return Realm(
        schemas=tuple(
            replace(s, name=names[s.name], tables=tuple(table(t) for t in s.tables))
            for s in realm.schemas
        )
    )


@DB
def test_a_failing_third_statement_leaves_the_first_two_applied(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    target, dev = pair
    schema = target.schema
    admin_run(
        target,
        f"CREATE TABLE `{schema}`.c (id int primary key, v int)",
        f"INSERT INTO `{schema}`.c VALUES (1, 5), (2, 5)",
        f"CREATE TABLE `{schema}`.d (id int primary key)",
    )
    desired = """
    create table a (id int primary key);
    create table b (id int primary key);
    create table c (id int primary key, v int, unique key c_v (v));
    """

    report: ApplyReport = schema_apply(target, desired, dev, ApplyPolicy(tx_mode="file"))

    planned = report.plan.sql
    assert [s.split(" (")[0] for s in planned] == [
        "CREATE TABLE `a`",
        "CREATE TABLE `b`",
        "ALTER TABLE `c` ADD UNIQUE INDEX `c_v`",
        "DROP TABLE `d`",
    ]
    assert report.applied == planned[:2]
    assert report.error_stmt == planned[2]
    assert report.error is not None
    assert report.error.startswith("Error 1062")
    assert report.pending == planned[2:]
    tables = {t.name for t in inspect(target).schemas[0].tables}
    assert tables == {"a", "b", "c", "d"}  # DDL committed; the DROP never ran
    assert table_of(target, "c").indexes == ()


@DB
def test_clean_empties_the_bound_database_or_the_realm_in_scope(
    server: DatabaseURL, make_database: MakeDatabase
) -> None:
    bound, other, spared = make_database("clean"), make_database("other"), make_database("spare")
    admin_run(
        server,
        f"CREATE TABLE `{bound}`.p (id int primary key)",
        f"CREATE TABLE `{bound}`.c (id int, p int, foreign key (p) references `{bound}`.p (id))",
        f"CREATE VIEW `{bound}`.v AS SELECT id FROM `{bound}`.p",
        f"CREATE TABLE `{other}`.x (id int)",
    )
    driver = MySQLDriver()
    url = server.with_schema(bound)
    with driver.open(url) as session:
        scope = driver.scope_of(url)
        assert not driver.is_clean(session, scope)
        driver.clean(session, scope)
        assert driver.is_clean(session, scope)
        assert session.query("SELECT @@FOREIGN_KEY_CHECKS") == [(1,)]
    assert admin_run(server, f"SHOW TABLES FROM `{other}`") == [("x",)]

    with driver.open(server) as session:
        realm = Scope(schemas=(bound, other))
        assert not driver.is_clean(session, realm)
        driver.clean(session, realm)
        assert driver.is_clean(session, realm)
    names = {row[0] for row in admin_run(server, "SHOW DATABASES")}
    assert bound not in names
    assert other not in names
    assert spared in names


# --- renderer and row normalisation (MySQL 8 paths; no server) -----------------------

MYSQL8 = ServerInfo("8.0.36", "InnoDB", "utf8mb4", "utf8mb4_0900_ai_ci")
MARIA = ServerInfo("10.11.6-MariaDB", "InnoDB", "utf8mb4", "utf8mb4_general_ci")


def test_server_info_tells_flavours_and_features_apart() -> None:
    assert MYSQL8.flavor == MYSQL
    assert MARIA.flavor == MARIADB
    assert MYSQL8.has_index_expressions
    assert not MARIA.has_index_expressions
    assert MARIA.has_schema_comments
    assert not MYSQL8.has_schema_comments
    assert MYSQL8.supports_checks
    assert MARIA.supports_checks
    assert not ServerInfo("8.0.15", "InnoDB", "utf8mb4", "x").supports_checks


@pytest.mark.parametrize(
    ("raw", "extra", "column_type", "flavor", "expected"),
    [
        ("abc", "", "varchar(10)", MYSQL, "'abc'"),
        ("it's", "", "varchar(10)", MYSQL, "'it''s'"),
        ("a\\b", "", "varchar(10)", MYSQL, "'a\\\\b'"),
        ("", "", "varchar(10)", MYSQL, "''"),
        ("NULL", "", "varchar(10)", MYSQL, "'NULL'"),
        ("0", "", "int", MYSQL, "0"),
        ("1.50", "", "decimal(10,2)", MYSQL, "1.50"),
        ("b'1'", "", "bit(1)", MYSQL, "b'1'"),
        ("2020-01-01 00:00:00", "", "datetime", MYSQL, "'2020-01-01 00:00:00'"),
        ("x", "", "enum('x','y')", MYSQL, "'x'"),
        ("CURRENT_TIMESTAMP", "DEFAULT_GENERATED", "timestamp", MYSQL, "current_timestamp()"),
        ("CURRENT_TIMESTAMP(3)", "DEFAULT_GENERATED", "datetime(3)", MYSQL, "current_timestamp(3)"),
        ("CURRENT_TIMESTAMP", "", "timestamp", MYSQL, "current_timestamp()"),
        ("CURRENT_TIMESTAMP", "", "varchar(20)", MYSQL, "'CURRENT_TIMESTAMP'"),
        ("(rand() * 10)", "DEFAULT_GENERATED", "double", MYSQL, "(rand() * 10)"),
        ("uuid()", "DEFAULT_GENERATED", "varchar(36)", MYSQL, "(uuid())"),
        ("concat(_utf8mb4\\'a\\',`b`)", "DEFAULT_GENERATED", "text", MYSQL,
         "(concat(_utf8mb4'a',`b`))"),
        (None, "", "int", MYSQL, None),
        ("NULL", "", "varchar(10)", MARIADB, None),
        ("'NULL'", "", "varchar(10)", MARIADB, "'NULL'"),
        ("'abc'", "", "varchar(10)", MARIADB, "'abc'"),
        ("current_timestamp()", "", "timestamp", MARIADB, "current_timestamp()"),
        ("(1 + 1)", "", "int(11)", MARIADB, "(1 + 1)"),
    ],
)  # fmt: skip
def test_defaults_are_normalised_to_sql_text(
    raw: str | None, extra: str, column_type: str, flavor: str, expected: str | None
) -> None:
    assert normalize_default(raw, extra, column_type, flavor) == expected


def test_mysql8_column_rows_keep_on_update_generation_and_relative_collation() -> None:
    build = TableBuild("t", "utf8mb4_0900_ai_ci", None, [])
    touched = ColumnRow(
        "touched", "datetime(3)", "YES", "CURRENT_TIMESTAMP(3)",
        "DEFAULT_GENERATED on update CURRENT_TIMESTAMP(3)", "", "", None, None,
    )  # fmt: skip
    assert column_from_row(touched, build, MYSQL) == Column(
        "touched", "datetime(3)", default="current_timestamp(3)", on_update="current_timestamp(3)"
    )
    generated = ColumnRow(
        "g", "varchar(20)", "YES", None, "STORED GENERATED",
        "concat(`a`,_utf8mb4\\'-\\')", "", "utf8mb4", "utf8mb4_0900_ai_ci",
    )  # fmt: skip
    assert column_from_row(generated, build, MYSQL) == Column(
        "g", "varchar(20)", generated=Generated("concat(`a`,_utf8mb4'-')", stored=True)
    )
    other = ColumnRow("code", "VARCHAR(10)", "NO", "x", "", None, "a code", "latin1", "latin1_bin")
    assert column_from_row(other, build, MYSQL) == Column(
        "code", "varchar(10)", nullable=False, default="'x'", comment="a code",
        charset="latin1", collation="latin1_bin",
    )  # fmt: skip
    # MySQL 8 has a real JSON type: a longtext is never mistaken for one.
    text = ColumnRow("doc", "longtext", "YES", None, "", None, "", "utf8mb4", "utf8mb4_bin")
    assert column_from_row(text, build, MYSQL).type == "longtext"


def test_mysql8_expression_index_parts_are_read_and_rendered() -> None:
    rows = [
        IndexRow(0, None, "lower(`email`)", "D", None, "BTREE", "by mail"),
        IndexRow(0, "name", None, "A", 10, "BTREE", "by mail"),
    ]
    index = index_from_rows("users_email", rows, MYSQL)
    assert index == Index(
        "users_email",
        (IndexPart(expr="lower(`email`)", desc=True), IndexPart(column="name", prefix=10)),
        unique=True,
        comment="by mail",
    )
    planner = Planner(Scope(bound="app"), MYSQL, MYSQL8)
    change = ModifyTable("app", Table("users"), Table("users"), (AddIndex(index),))
    assert [s.sql for s in planner.change(change)] == [
        "ALTER TABLE `users` ADD UNIQUE INDEX `users_email` ((lower(`email`)) DESC, `name`(10))"
        " COMMENT 'by mail'"
    ]


def test_mysql8_checks_are_table_constraints_dropped_with_drop_check() -> None:
    table = Table(
        "t",
        columns=(Column("a", "int"),),
        checks=(Check("a", "(`a` > 0)"), Check("t_chk_1", "(`a` < 9)")),
    )
    mysql = Planner(Scope(bound="app"), MYSQL, MYSQL8)
    created = mysql.create_table("app", table).sql
    assert created == (
        "CREATE TABLE `t` (\n  `a` int NULL,\n"
        "  CONSTRAINT `a` CHECK (`a` > 0),\n  CONSTRAINT `t_chk_1` CHECK (`a` < 9)\n)"
    )
    change = ModifyTable(
        "app",
        table,
        table,
        (
            DropCheck(Check("old", "`a` > 1")),
            ModifyCheck(Check("a", "`a` > 0"), Check("a", "`a` > 2")),
        ),
    )
    assert [s.sql for s in mysql.change(change)] == [
        "ALTER TABLE `t` DROP CHECK `old`, DROP CHECK `a`, ADD CONSTRAINT `a` CHECK (`a` > 2)"
    ]
    # MariaDB writes the check named after column `a` inline, and changes it through it.
    maria = Planner(Scope(bound="app"), MARIADB, MARIA)
    assert "`a` int NULL CHECK (`a` > 0)" in maria.create_table("app", table).sql
    assert [s.sql for s in maria.change(change)] == [
        "ALTER TABLE `t` DROP CONSTRAINT `old`, MODIFY COLUMN `a` int NULL CHECK (`a` > 0)"
    ]


def test_column_definitions_render_every_attribute() -> None:
    columns = (
        Column("id", "bigint", nullable=False, auto_increment=True),
        Column("at", "timestamp", nullable=False, default="current_timestamp()",
               on_update="current_timestamp()", comment="it's \\ here"),
        Column("g", "int", nullable=False, generated=Generated("(`id` * 2)", stored=False)),
        Column("c", "varchar(5)", charset="latin1", collation="latin1_bin"),
    )  # fmt: skip
    table = Table(
        "t",
        columns=columns,
        primary_key=PrimaryKey(("id",)),
        indexes=(
            Index("h", (IndexPart(column="c"),), method="HASH"),
            Index("sp", (IndexPart(column="c"),), method="SPATIAL"),
        ),
        comment="a table",
        options=(("charset", "latin1"), ("collation", "latin1_bin"), ("engine", "MEMORY")),
    )
    sql = Planner(Scope(bound="app"), MYSQL, MYSQL8).create_table("app", table).sql
    assert sql == (
        "CREATE TABLE `t` (\n"
        "  `id` bigint NOT NULL AUTO_INCREMENT,\n"
        "  `at` timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp()"
        " COMMENT 'it''s \\\\ here',\n"
        "  `g` int GENERATED ALWAYS AS (`id` * 2) VIRTUAL NOT NULL,\n"
        "  `c` varchar(5) CHARACTER SET latin1 COLLATE latin1_bin NULL,\n"
        "  PRIMARY KEY (`id`),\n"
        "  INDEX `h` (`c`) USING HASH,\n"
        "  SPATIAL INDEX `sp` (`c`)\n"
        ") ENGINE MEMORY CHARSET latin1 COLLATE latin1_bin COMMENT 'a table'"
    )


def test_alter_table_sub_commands_are_comma_separated_in_a_safe_order() -> None:
    before = Table("t", columns=(Column("a", "int"), Column("b", "int")))
    after = Table("t", columns=(Column("a", "bigint"), Column("c", "int")))
    change = ModifyTable(
        "app",
        before,
        after,
        (
            ModifyTableAttr("comment", None, "new"),
            ModifyTableAttr("engine", "MyISAM", None),
            ModifyTableAttr("collation", "latin1_bin", None),
            AddIndex(Index("c_idx", (IndexPart(column="c"),))),
            ModifyColumn(Column("a", "int"), Column("a", "bigint"), frozenset({"type"})),
            AddColumn(Column("c", "int")),
            DropIndex(Index("b_idx", (IndexPart(column="b"),))),
            AddCheck(Check("c_pos", "c > 0")),
        ),
    )
    statements = Planner(Scope(bound="app"), MYSQL, MYSQL8).change(change)
    assert [(s.sql, s.comment) for s in statements] == [
        (
            "ALTER TABLE `t` DROP INDEX `b_idx`, ADD COLUMN `c` int NULL, "
            "MODIFY COLUMN `a` bigint NULL, ADD INDEX `c_idx` (`c`), "
            "ADD CONSTRAINT `c_pos` CHECK (c > 0), COMMENT 'new', ENGINE InnoDB, COLLATE DEFAULT",
            'Modify "t" table',
        )
    ]


def test_realm_statements_are_qualified_and_commented_like_atlas() -> None:
    planner = Planner(Scope(), MYSQL, MYSQL8)
    users = Table(
        "users",
        columns=(Column("id", "int", nullable=False), Column("team", "int")),
        foreign_keys=(ForeignKey("users_team", ("team",), "teams", ("id",), ref_schema="org"),),
    )
    statements = [
        s
        for change in (
            AddSchema(Schema("app", charset="latin1", collation="latin1_bin")),
            AddTable("app", users),
            DropTable("app", Table("old")),
            ModifySchema(Schema("org"), Schema("org", charset="utf8mb4", collation="utf8mb4_bin")),
            ModifySchema(Schema("x", collation="latin1_bin"), Schema("x")),
            DropSchema(Schema("gone")),
        )
        for s in planner.change(change)
    ]
    assert [(s.sql.split("\n")[0], s.comment) for s in statements] == [
        ("CREATE DATABASE `app` CHARSET latin1 COLLATE latin1_bin", 'Add new schema named "app"'),
        ("CREATE TABLE `app`.`users` (", 'Create "users" table'),
        ("DROP TABLE `app`.`old`", 'Drop "old" table'),
        ("ALTER DATABASE `org` CHARSET utf8mb4 COLLATE utf8mb4_bin", 'Modify "org" schema'),
        ("ALTER DATABASE `x` CHARSET utf8mb4 COLLATE utf8mb4_0900_ai_ci", 'Modify "x" schema'),
        ("DROP DATABASE `gone`", 'Drop schema named "gone"'),
    ]
    assert "REFERENCES `org`.`teams` (`id`)" in statements[1].sql
    # Schema scope: unqualified, but a key into another schema still names it.
    bound = Planner(Scope(bound="app"), MYSQL, MYSQL8).create_table("app", users).sql
    assert bound.startswith("CREATE TABLE `users` (")
    assert "REFERENCES `org`.`teams` (`id`)" in bound


def test_plan_orders_changes_and_comments_drops() -> None:
    driver = MySQLDriver(MYSQL)
    parent = Table("parent", columns=(Column("id", "int", nullable=False),))
    child = Table(
        "child",
        columns=(Column("p", "int"),),
        foreign_keys=(ForeignKey("child_p", ("p",), "parent", ("id",)),),
    )
    statements = driver.plan(
        [DropTable("app", Table("t")), AddTable("app", child), AddTable("app", parent)],
        Scope(bound="app"),
    )
    assert [s.comment for s in statements] == [
        'Create "parent" table',
        'Create "child" table',
        'Drop "t" table',
    ]
    assert statements[-1].sql == "DROP TABLE `t`"


UNMANAGED = """
create table t (id int primary key);
create view v as select id from t;
create function f() returns int deterministic return 1;
create procedure p() begin select 1; end;
create trigger tr before insert on t for each row set new.id = new.id;
create event ev on schedule every 1 day disable do delete from t;
create sequence s;
"""


def test_objects_the_model_lacks_are_named_and_cleaned_away(
    pair: tuple[DatabaseURL, DatabaseURL],
) -> None:
    """Views, routines, triggers and events are modelled (test_mysql_objects.py); a
    sequence is named as unmanaged. The dev database is cleaned of all of them."""
    target, dev = pair
    driver = driver_for(target)
    desired = load_sql_on_dev(UNMANAGED, dev, driver.scope_of(target), ApplyPolicy())
    assert [(u.kind, u.name, u.table) for u in desired.unmanaged] == [("sequence", "s", None)]
    assert [(o.kind, o.name, o.table) for o in desired.schemas[0].objects] == [
        ("event", "ev", None),
        ("function", "f", None),
        ("procedure", "p", None),
        ("trigger", "tr", "t"),
        ("view", "v", None),
    ]
    # The dev database is clean again: the same SQL loads a second time.
    again = load_sql_on_dev(UNMANAGED + "\n-- again", dev, driver.scope_of(target), ApplyPolicy())
    assert again == desired
    assert again.unmanaged == desired.unmanaged
    excluded = load_sql_on_dev(
        UNMANAGED, dev, driver.scope_of(target), ApplyPolicy(exclude=("v[type=view]", "f", "s"))
    )
    assert [o.name for o in excluded.schemas[0].objects] == ["ev", "p", "tr"]
    assert excluded.unmanaged == ()
    with driver.open(dev) as session:
        assert driver.is_clean(session, driver.scope_of(dev))


def test_default_fractional_precision_equals_none(pair: tuple[DatabaseURL, DatabaseURL]) -> None:
    target, dev = pair
    apply(target, dev, "create table t (a datetime(0), b time(0), c timestamp(0) null);")
    assert replan(target, dev, "create table t (a datetime, b time, c timestamp null);") == []
    assert replan(target, dev, "create table t (a datetime(3), b time, c timestamp null);")
