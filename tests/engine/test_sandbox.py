"""The desired-state sandbox, statement by statement, per dialect (no database needed):
what a desired schema may define, what it may not, and the message it gets."""

from __future__ import annotations

import os

import pytest

from atlas_operator.engine.drivers.base import Driver, Scope
from atlas_operator.engine.drivers.mysql import MySQLDriver
from atlas_operator.engine.drivers.postgres import PostgresDriver
from atlas_operator.engine.drivers.sqlite import SQLiteDriver
from atlas_operator.engine.sandbox import SandboxError, check_desired_sql, check_dev_url
from atlas_operator.engine.sqlhead import head_tokens
from atlas_operator.engine.urls import parse_url

PG, MY, SQ = PostgresDriver(), MySQLDriver(), SQLiteDriver()
PUBLIC = Scope(bound="public")
REALM = Scope()
APP_DB = Scope(bound="app")
MAIN = Scope(bound="main")


def refused(driver: Driver, sql: str, scope: Scope) -> str | None:
    found = driver.sandbox_refusal(sql, scope)
    return None if found is None else found.subject


# --- PostgreSQL ----------------------------------------------------------------------------

PG_ALLOWED = [
    "CREATE TABLE t (id int primary key, note text default 'x')",
    "create table if not exists public.t (id int)",
    "CREATE UNLOGGED TABLE t (id int)",
    "CREATE TABLE p (id int) PARTITION BY RANGE (id)",
    "CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (1) TO (10)",
    "CREATE TABLE c (id int REFERENCES public.t (id), a int GENERATED ALWAYS AS (id * 2) STORED)",
    "CREATE TABLE t2 AS SELECT * FROM t WITH NO DATA",
    "ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey PRIMARY KEY (id)",
    "ALTER TABLE public.t OWNER TO atlas",
    "ALTER TABLE t RENAME TO t3",
    "ALTER TABLE t SET SCHEMA public",
    "DROP TABLE IF EXISTS t, public.u CASCADE",
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON public.t USING btree (lower(note))",
    "CREATE INDEX ON t (id)",
    "DROP INDEX CONCURRENTLY IF EXISTS public.i",
    "CREATE OR REPLACE VIEW v AS SELECT id FROM t WHERE id IN (SELECT id FROM t)",
    "CREATE MATERIALIZED VIEW public.mv AS SELECT id FROM t WITH NO DATA",
    "CREATE SEQUENCE public.s START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1",
    "ALTER SEQUENCE public.s OWNED BY public.t.id",
    "CREATE TYPE mood AS ENUM ('a', 'b')",
    "CREATE DOMAIN positive AS int CHECK (VALUE > 0)",
    # Bodies may hold anything: they are definitions, not executions.
    "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM other.x;"
    " INSERT INTO other.y VALUES (1); RETURN NEW; END $$",
    "CREATE OR REPLACE FUNCTION g(a int) RETURNS int LANGUAGE sql IMMUTABLE AS 'select a'",
    "CREATE PROCEDURE pr() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1);"
    " SELECT CASE WHEN true THEN 1 END; END;",
    "DROP FUNCTION IF EXISTS f(int, text), public.g(int)",
    "CREATE TRIGGER tr BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION f()",
    "CREATE CONSTRAINT TRIGGER ct AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()",
    "DROP TRIGGER IF EXISTS tr ON t",
    "CREATE POLICY p ON t USING (true)",
    "ALTER TABLE t ENABLE ROW LEVEL SECURITY",
    "CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING",
    "CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public",
    "COMMENT ON EXTENSION pgcrypto IS 'cryptographic functions'",
    "COMMENT ON TABLE public.t IS 'hi'",
    "COMMENT ON COLUMN public.t.note IS 'n'",
    "COMMENT ON CONSTRAINT t_pkey ON public.t IS 'pk'",
    "CREATE SCHEMA IF NOT EXISTS public",
    "COMMENT ON SCHEMA public IS 'standard public schema'",
    "CREATE STATISTICS st ON id, note FROM t",
    "CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
    # pg_dump's header and settings.
    "SET statement_timeout = 0",
    "SET lock_timeout = 0",
    "SET idle_in_transaction_session_timeout = 0",
    "SET client_encoding = 'UTF8'",
    "SET standard_conforming_strings = on",
    "SELECT pg_catalog.set_config('search_path', '', false);",
    "SET check_function_bodies = false",
    "SET xmloption = content",
    "SET client_min_messages = warning",
    "SET row_security = off",
    "SET default_tablespace = ''",
    "SET default_table_access_method = heap",
    "SET search_path TO public, pg_catalog",
    "SET search_path = ''",
    "RESET search_path",
    "BEGIN",
    "COMMIT",
    "START TRANSACTION",
    "-- only a comment",
]

SECOND_STATEMENT = "a second statement after a semicolon in the same statement"
PG_REFUSED = [
    ("DELETE FROM t.canary", "DELETE"),
    ("INSERT INTO t VALUES (1)", "INSERT"),
    ("UPDATE t SET id = 1", "UPDATE"),
    ("MERGE INTO t USING u ON true WHEN MATCHED THEN DELETE", "MERGE"),
    ("TRUNCATE t", "TRUNCATE"),
    ("SELECT 1", "SELECT"),
    ("SELECT * INTO t2 FROM t", "SELECT"),
    ("SELECT set_config('role', 'postgres', false)", "SELECT set_config('role', …)"),
    ("WITH d AS (DELETE FROM t RETURNING *) SELECT 1", "WITH"),
    ("DO $$ BEGIN DELETE FROM t; END $$", "DO"),
    ("CALL pr()", "CALL"),
    ("COPY t TO PROGRAM 'rm -rf /'", "COPY"),
    ("COPY t FROM '/etc/passwd'", "COPY"),
    ("VACUUM", "VACUUM"),
    ("LOAD 'plugin'", "LOAD"),
    ("CREATE DATABASE x", "CREATE DATABASE"),
    ("DROP DATABASE target", "DROP DATABASE"),
    ("ALTER DATABASE target OWNER TO x", "ALTER DATABASE"),
    ("CREATE ROLE r SUPERUSER", "CREATE ROLE"),
    ("CREATE USER u PASSWORD 'p'", "CREATE USER"),
    ("ALTER ROLE atlas SUPERUSER", "ALTER ROLE"),
    ("DROP ROLE r", "DROP ROLE"),
    ("CREATE TABLESPACE ts LOCATION '/tmp'", "CREATE TABLESPACE"),
    ("ALTER SYSTEM SET shared_buffers = '1GB'", "ALTER SYSTEM"),
    ("GRANT ALL ON t TO PUBLIC", "GRANT"),
    ("REVOKE ALL ON SCHEMA public FROM PUBLIC", "REVOKE"),
    ("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO r", "ALTER DEFAULT PRIVILEGES"),
    ("CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw", "CREATE SERVER"),
    ("CREATE FOREIGN TABLE ft (a int) SERVER s", "CREATE FOREIGN TABLE"),
    ("CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p", "CREATE SUBSCRIPTION"),
    ("CREATE PUBLICATION p FOR ALL TABLES", "CREATE PUBLICATION"),
    ("CREATE LANGUAGE plperlu", "CREATE LANGUAGE"),
    ("CREATE EXTENSION dblink", "CREATE EXTENSION dblink"),
    ("CREATE EXTENSION IF NOT EXISTS postgres_fdw", "CREATE EXTENSION postgres_fdw"),
    (
        "CREATE FUNCTION f() RETURNS int AS '/tmp/evil.so', 'f' LANGUAGE C",
        "a function in LANGUAGE c",
    ),
    ("DROP OWNED BY atlas", "DROP OWNED"),
    ("REASSIGN OWNED BY a TO b", "REASSIGN"),
    ("CREATE TABLE t2 AS SELECT * FROM t", "CREATE TABLE … AS"),
    ("CREATE TABLE t2 (a) AS VALUES (1)", "CREATE TABLE … AS"),
    ("REFRESH MATERIALIZED VIEW mv", "REFRESH"),
    ("SET ROLE postgres", "SET ROLE"),
    ("SET SESSION AUTHORIZATION postgres", "SET SESSION AUTHORIZATION"),
    ("RESET ROLE", "RESET ROLE"),
    ("RESET ALL", "RESET all"),
    ("SET work_mem = '1GB'", "SET work_mem"),
    ("SET default_tablespace = fast", "SET default_tablespace"),
    ("SET myapp.x = 1", "SET myapp.x"),
    ("SET standard_conforming_strings = off", "SET standard_conforming_strings"),
    ("CREATE TABLE t (id int); DELETE FROM x", SECOND_STATEMENT),
    ("CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT 1; END; DELETE x;", SECOND_STATEMENT),
    ("COMMIT PREPARED 'x'", "COMMIT PREPARED"),
    ("LISTEN x", "LISTEN"),
    ("NOTIFY x", "NOTIFY"),
    ("IMPORT FOREIGN SCHEMA s FROM SERVER x INTO public", "IMPORT"),
    ("SECURITY LABEL ON TABLE t IS 'x'", "SECURITY"),
    ("CREATE TABEL t (id int)", "CREATE TABEL"),
    ("\\restrict abc\nSET lock_timeout = 0", "the psql command \\restrict"),
]

# Names outside a schema-bound scope (public).
PG_OUT_OF_SCHEMA = [
    ("CREATE TABLE other.t (id int)", 'the name "other"."t"'),
    ('CREATE TABLE "Other".t (id int)', 'the name "Other"."t"'),
    ("DROP TABLE t, other.u", 'the name "other"."u"'),
    ("ALTER TABLE other.t ADD COLUMN c int", 'the name "other"."t"'),
    ("ALTER TABLE t SET SCHEMA other", 'the name "other".""'),
    ("CREATE TABLE c (id int REFERENCES other.p (id))", 'the name "other"."p"'),
    (
        "ALTER TABLE c ADD CONSTRAINT fk FOREIGN KEY (id) REFERENCES other.p (id)",
        'the name "other"."p"',
    ),
    ("CREATE TABLE c (id int) INHERITS (other.p)", 'the name "other"."p"'),
    ("CREATE TABLE c PARTITION OF other.p DEFAULT", 'the name "other"."p"'),
    ("ALTER TABLE p ATTACH PARTITION other.c DEFAULT", 'the name "other"."c"'),
    ("CREATE INDEX i ON other.t (id)", 'the name "other"."t"'),
    ("CREATE TRIGGER tr AFTER DELETE ON other.t EXECUTE FUNCTION f()", 'the name "other"."t"'),
    ("CREATE POLICY p ON other.t USING (true)", 'the name "other"."t"'),
    ("CREATE RULE r AS ON DELETE TO other.t DO INSTEAD NOTHING", 'the name "other"."t"'),
    ("COMMENT ON COLUMN other.t.c IS 'x'", 'the name "other"."t"."c"'),
    ("CREATE FUNCTION other.f() RETURNS int LANGUAGE sql AS 'select 1'", 'the name "other"."f"'),
    ("CREATE SCHEMA other", 'the schema "other"'),
    ("DROP SCHEMA other CASCADE", 'the schema "other"'),
    ("ALTER SCHEMA public RENAME TO other", 'the schema "other"'),
    ("CREATE EXTENSION hstore SCHEMA other", 'the schema "other"'),
    ("CREATE TABLE pg_catalog.t (id int)", 'the name "pg_catalog"."t"'),
    ("CREATE TABLE db.public.t (id int)", 'the name "db"."public"."t"'),
    ("SET search_path = other", "SET search_path"),
    ('SET search_path = "$user", public', "SET search_path"),
    ("SELECT pg_catalog.set_config('search_path', 'other', false)", "SELECT set_config"),
]


@pytest.mark.parametrize("sql", PG_ALLOWED)
def test_postgres_allows_schema_definitions(sql: str) -> None:
    assert refused(PG, sql, PUBLIC) is None
    assert refused(PG, sql, REALM) is None


@pytest.mark.parametrize(("sql", "subject"), PG_REFUSED)
def test_postgres_refuses_everything_else(sql: str, subject: str) -> None:
    assert refused(PG, sql, PUBLIC) == subject
    assert refused(PG, sql, REALM) == subject


@pytest.mark.parametrize(("sql", "subject"), PG_OUT_OF_SCHEMA)
def test_postgres_refuses_names_outside_a_bound_schema(sql: str, subject: str) -> None:
    found = refused(PG, sql, PUBLIC)
    assert found is not None
    assert found.startswith(subject)


def test_postgres_realm_scope_allows_other_schemas_of_the_database_only() -> None:
    for sql in ("CREATE SCHEMA other", "CREATE TABLE other.t (id int REFERENCES app.p (id))"):
        assert refused(PG, sql, REALM) is None
    narrowed = Scope(schemas=("app",))
    assert refused(PG, "CREATE TABLE app.t (id int)", narrowed) is None
    assert refused(PG, "CREATE TABLE other.t (id int)", narrowed) == 'the name "other"."t"'
    assert refused(PG, "CREATE TABLE information_schema.t ()", REALM) is not None
    assert refused(PG, "CREATE TABLE db.public.t (id int)", REALM) is not None


def test_postgres_bodies_are_one_token() -> None:
    body = "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $x$ $body$ LANGUAGE sql"
    tokens = head_tokens(body, quotes='"', dollar_quotes=True)
    assert [t.kind for t in tokens][-3:] == ["string", "word", "word"]
    assert tokens[-3].text == " SELECT 1; $x$ "
    # Without the option the tokenizer reads as before.
    assert "string" not in [t.kind for t in head_tokens(body, quotes='"')]


PG_DUMP = """--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

CREATE SCHEMA app;
ALTER SCHEMA app OWNER TO atlas;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;
COMMENT ON EXTENSION pgcrypto IS 'cryptographic functions';
CREATE TYPE app.mood AS ENUM (
    'a',
    'b'
);
ALTER TYPE app.mood OWNER TO atlas;
CREATE FUNCTION app.f() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ begin delete from app.c; return new; end $$;
ALTER FUNCTION app.f() OWNER TO atlas;
SET default_tablespace = '';
SET default_table_access_method = heap;
CREATE TABLE app.c (
    id integer
);
CREATE TABLE app.t (
    id integer NOT NULL,
    m app.mood,
    note text DEFAULT 'x'::text
);
COMMENT ON TABLE app.t IS 'hi';
COMMENT ON COLUMN app.t.note IS 'n';
CREATE MATERIALIZED VIEW app.mv AS
 SELECT t.id
   FROM app.t
  WITH NO DATA;
ALTER TABLE app.mv OWNER TO atlas;
CREATE SEQUENCE app.t_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE app.t_id_seq OWNED BY app.t.id;
CREATE VIEW app.v AS
 SELECT t.id
   FROM app.t;
ALTER TABLE ONLY app.t ALTER COLUMN id SET DEFAULT nextval('app.t_id_seq'::regclass);
ALTER TABLE ONLY app.t
    ADD CONSTRAINT t_pkey PRIMARY KEY (id);
CREATE INDEX t_note_idx ON app.t USING btree (note);
CREATE TRIGGER tr BEFORE INSERT ON app.t FOR EACH ROW EXECUTE FUNCTION app.f();
ALTER TABLE ONLY app.c
    ADD CONSTRAINT c_id_fkey FOREIGN KEY (id) REFERENCES app.t(id);
CREATE POLICY p ON app.t USING (true);
ALTER TABLE app.t ENABLE ROW LEVEL SECURITY;
"""


def test_pg_dump_schema_only_output_passes() -> None:
    check_desired_sql(PG, PG_DUMP, REALM, "dump.sql")
    check_desired_sql(PG, PG_DUMP, Scope(schemas=("app", "public")), "dump.sql")
    app_only = PG_DUMP.replace(" WITH SCHEMA public", "").replace("COMMENT ON EXTENSION", "--")
    check_desired_sql(PG, app_only.replace("CREATE SCHEMA app;", ""), Scope(bound="app"), "d")


def test_the_message_names_the_statement_the_line_and_the_text() -> None:
    sql = "create table t (id int);\n\n-- a comment\n\nDELETE FROM t.canary;\n"
    with pytest.raises(SandboxError) as caught:
        check_desired_sql(PG, sql, PUBLIC, "schema.sql")
    assert str(caught.value) == (
        "desired state: statement 2 (line 5): DELETE is not allowed in a desired schema:"
        ' it only defines schema objects (found "DELETE FROM t.canary;")'
    )


# --- MySQL / MariaDB -----------------------------------------------------------------------

MY_ALLOWED = [
    "CREATE TABLE t (id int primary key auto_increment, note varchar(10) default 'x')",
    "CREATE TABLE IF NOT EXISTS `app`.`t` (id int)",
    "CREATE TEMPORARY TABLE tmp (id int)",
    "CREATE TABLE c (id int, FOREIGN KEY (id) REFERENCES app.t (id) ON DELETE CASCADE)",
    "CREATE TABLE p (id int) PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (10))",
    "CREATE TABLE l LIKE t",
    "ALTER TABLE t ADD COLUMN c int, RENAME TO t2",
    "ALTER TABLE t RENAME COLUMN a TO b",
    "RENAME TABLE t TO t2, app.u TO app.u2",
    "DROP TABLE IF EXISTS `t`, app.u",
    "CREATE UNIQUE INDEX i ON t (note)",
    "DROP INDEX i ON app.t",
    "CREATE OR REPLACE VIEW v AS SELECT id FROM t",
    "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`%` SQL SECURITY DEFINER VIEW v AS SELECT 1",
    "CREATE FUNCTION f() RETURNS int DETERMINISTIC RETURN 1",
    "CREATE DEFINER=CURRENT_USER() PROCEDURE p() BEGIN DELETE FROM other.t; END",
    "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW DELETE FROM other.x",
    "DROP TRIGGER IF EXISTS app.tr",
    "CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM t",
    "CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DO DELETE FROM t",
    "ALTER EVENT ev ENABLE",
    "CREATE SEQUENCE s START WITH 1",
    "ALTER DATABASE CHARACTER SET utf8mb4",
    "ALTER DATABASE app CHARACTER SET utf8mb4",
    "CREATE DATABASE IF NOT EXISTS app",
    "SET NAMES utf8mb4",
    "SET foreign_key_checks = 0",
    "SET SESSION sql_mode = 'ANSI_QUOTES'",
    "SET @@session.sql_mode = ''",
    "SET @x = 1, @@character_set_client = utf8mb4",
    "/*!40101 SET NAMES utf8mb4 */",
    "/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */",
    "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */",
    "/*!50003 SET sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION' */",
    "/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013 DEFINER=`root`@`127.0.0.1` SQL SECURITY"
    " DEFINER */\n/*!50001 VIEW `v` AS select `t`.`id` AS `id` from `t` */",
    "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`%`*/ /*!50003 trigger tr before insert on t"
    " for each row set new.note = 'y' */",
    "BEGIN",
    "START TRANSACTION",
    "COMMIT",
]

MY_REFUSED = [
    ("INSERT INTO t VALUES (1)", "INSERT"),
    ("REPLACE INTO t VALUES (1)", "REPLACE"),
    ("UPDATE t SET id = 1", "UPDATE"),
    ("DELETE FROM other.canary", "DELETE"),
    ("SELECT 1", "SELECT"),
    ("SELECT * FROM t INTO OUTFILE '/tmp/x'", "SELECT … INTO OUTFILE"),
    ("SELECT 1 INTO DUMPFILE '/tmp/x'", "SELECT … INTO DUMPFILE"),
    ("LOAD DATA INFILE '/etc/passwd' INTO TABLE t", "LOAD DATA"),
    ("LOAD XML INFILE 'x' INTO TABLE t", "LOAD XML"),
    ("CALL p()", "CALL"),
    ("DO SLEEP(1)", "DO"),
    ("BEGIN NOT ATOMIC DELETE FROM other.t; END", "BEGIN NOT ATOMIC"),
    ("HANDLER t OPEN", "HANDLER"),
    ("USE other", "USE"),
    ("DROP DATABASE app", "DROP DATABASE"),
    ("DROP SCHEMA IF EXISTS other", "DROP SCHEMA"),
    ("CREATE USER u IDENTIFIED BY 'p'", "CREATE USER"),
    ("CREATE ROLE r", "CREATE ROLE"),
    ("DROP USER root", "DROP USER"),
    ("ALTER USER root IDENTIFIED BY 'x'", "ALTER USER"),
    ("RENAME USER a TO b", "RENAME USER"),
    ("GRANT ALL ON *.* TO u", "GRANT"),
    ("REVOKE ALL ON *.* FROM u", "REVOKE"),
    ("CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (HOST 'x')", "CREATE SERVER"),
    ("CREATE TABLESPACE ts ADD DATAFILE 'x'", "CREATE TABLESPACE"),
    ("INSTALL PLUGIN p SONAME 'p.so'", "INSTALL PLUGIN"),
    ("INSTALL SONAME 'ha_connect'", "INSTALL SONAME"),
    ("CREATE FUNCTION udf RETURNS STRING SONAME 'udf.so'", "CREATE FUNCTION … SONAME"),
    ("CREATE TABLE t SELECT * FROM other.t", "CREATE TABLE … SELECT"),
    ("CREATE TABLE t (id int) AS SELECT 1", "CREATE TABLE … SELECT"),
    ("CREATE TABLE f (id int) ENGINE=FEDERATED", "a table of ENGINE=FEDERATED"),
    ("CREATE TABLE f (id int) ENGINE CONNECT TABLE_TYPE=MYSQL", "a table of ENGINE=CONNECT"),
    ("CREATE TABLE f (id int) CONNECTION='mysql://u@h/db/t'", "a table with CONNECTION="),
    ("CREATE TABLE f (id int) DATA DIRECTORY = '/var/lib/other'", "DATA DIRECTORY"),
    ("ALTER TABLE t ENGINE=SPIDER", "a table of ENGINE=SPIDER"),
    ("SET GLOBAL general_log = 1", "SET GLOBAL general_log"),
    ("SET @@global.sql_mode = ''", "SET @@global.sql_mode"),
    ("SET PERSIST max_connections = 1", "SET PERSIST max_connections"),
    ("SET PASSWORD = PASSWORD('x')", "SET with an expression"),
    ("SET PASSWORD FOR root = 'x'", "SET PASSWORD FOR root"),
    ("SET ROLE admin", "SET ROLE admin"),
    ("SET DEFAULT ROLE admin FOR u", "SET DEFAULT ROLE admin FOR u"),
    ("SET @x = (SELECT count(*) FROM other.t)", "SET with an expression"),
    ("SET @x = f()", "SET with an expression"),
    ("SET STATEMENT max_statement_time=1 FOR DELETE FROM t", "SET STATEMENT max_statement_time"),
    ("SET autocommit = 0", "SET autocommit"),
    ("FLUSH PRIVILEGES", "FLUSH"),
    ("TRUNCATE TABLE t", "TRUNCATE"),
    ("LOCK TABLES t WRITE", "LOCK"),
    ("CREATE TABEL t (id int)", "CREATE TABEL"),
]

MY_OUT_OF_DATABASE = [
    ("CREATE TABLE other.t (id int)", 'the name "other"."t"'),
    ("CREATE TABLE `other`.`t` (id int)", 'the name "other"."t"'),
    ("DROP TABLE t, other.canary", 'the name "other"."canary"'),
    ("ALTER TABLE other.canary DROP COLUMN c", 'the name "other"."canary"'),
    ("ALTER TABLE t RENAME TO other.t", 'the name "other"."t"'),
    ("ALTER TABLE t RENAME other.t", 'the name "other"."t"'),
    ("RENAME TABLE t TO other.t", 'the name "other"."t"'),
    ("RENAME TABLE other.canary TO t", 'the name "other"."canary"'),
    ("CREATE TABLE c (id int, FOREIGN KEY (id) REFERENCES other.p (id))", 'the name "other"."p"'),
    ("CREATE TABLE c LIKE other.canary", 'the name "other"."canary"'),
    ("ALTER TABLE p EXCHANGE PARTITION p0 WITH TABLE other.t", 'the name "other"."t"'),
    ("CREATE INDEX i ON other.t (id)", 'the name "other"."t"'),
    ("CREATE TRIGGER other.tr BEFORE INSERT ON t FOR EACH ROW SET @a = 1", 'the name "other"'),
    ("CREATE TRIGGER tr BEFORE INSERT ON other.t FOR EACH ROW SET @a = 1", 'the name "other"'),
    ("CREATE VIEW other.v AS SELECT 1", 'the name "other"."v"'),
    ("CREATE PROCEDURE other.p() SELECT 1", 'the name "other"."p"'),
    ("CREATE DATABASE other", 'the database "other"'),
    ("ALTER DATABASE other CHARACTER SET latin1", 'the database "other"'),
    ("CREATE TABLE mysql.t (id int)", 'the name "mysql"."t"'),
]


@pytest.mark.parametrize("sql", MY_ALLOWED)
def test_mysql_allows_schema_definitions(sql: str) -> None:
    assert refused(MY, sql, APP_DB) is None


@pytest.mark.parametrize(("sql", "subject"), MY_REFUSED)
def test_mysql_refuses_everything_else(sql: str, subject: str) -> None:
    assert refused(MY, sql, APP_DB) == subject
    assert refused(MY, sql, REALM) == subject


@pytest.mark.parametrize(("sql", "subject"), MY_OUT_OF_DATABASE)
def test_mysql_refuses_names_outside_the_bound_database(sql: str, subject: str) -> None:
    found = refused(MY, sql, APP_DB)
    assert found is not None
    assert found.startswith(subject)


def test_mysql_realm_scope_allows_the_databases_of_the_scope_only() -> None:
    assert refused(MY, "CREATE DATABASE other", REALM) is None
    assert refused(MY, "CREATE TABLE other.t (id int)", REALM) is None
    narrowed = Scope(schemas=("app", "b"))
    assert refused(MY, "CREATE TABLE b.t (id int REFERENCES app.t (id))", narrowed) is None
    assert refused(MY, "CREATE TABLE other.t (id int)", narrowed) == 'the name "other"."t"'
    assert refused(MY, "CREATE DATABASE other", narrowed) == 'the database "other"'
    assert refused(MY, "CREATE TABLE performance_schema.t (id int)", REALM) is not None


MYSQLDUMP = """/*M!999999\\- enable the sandbox mode */
-- MariaDB dump 10.19
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;
DROP TABLE IF EXISTS `t`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `t` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `note` varchar(10) DEFAULT 'x',
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;
/*!50003 SET sql_mode              = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO' */ ;
DELIMITER ;;
/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`127.0.0.1`*/ /*!50003 trigger tr before insert on t
 for each row set new.note = 'y' */;;
DELIMITER ;
/*!50003 SET sql_mode              = @saved_sql_mode */ ;
DROP TABLE IF EXISTS `v`;
/*!50001 DROP VIEW IF EXISTS `v`*/;
SET @saved_cs_client     = @@character_set_client;
SET character_set_client = utf8mb4;
/*!50001 CREATE VIEW `v` AS SELECT
 NULL AS `id` */;
SET character_set_client = @saved_cs_client;
/*!50003 DROP FUNCTION IF EXISTS `f` */;
DELIMITER ;;
CREATE DEFINER=`root`@`127.0.0.1` FUNCTION `f`() RETURNS int(11)
    DETERMINISTIC
return 1
;;
DELIMITER ;
/*!50001 DROP VIEW IF EXISTS `v`*/;
/*!50001 CREATE ALGORITHM=UNDEFINED */
/*!50013 DEFINER=`root`@`127.0.0.1` SQL SECURITY DEFINER */
/*!50001 VIEW `v` AS select `t`.`id` AS `id` from `t` */;
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;
/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;
"""


def test_mysqldump_no_data_output_passes() -> None:
    check_desired_sql(MY, MYSQLDUMP, APP_DB, "dump.sql")


# --- SQLite --------------------------------------------------------------------------------

SQ_ALLOWED = [
    "CREATE TABLE t (id integer primary key, p int references parents (id))",
    "CREATE TABLE IF NOT EXISTS main.t (id)",
    "CREATE TEMP TABLE tmp (id)",
    "CREATE UNIQUE INDEX i ON t (id)",
    "CREATE INDEX main.i ON t (id) WHERE id > 0",
    "CREATE VIEW v AS SELECT id FROM t",
    "CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM t WHERE id < 0; END",
    "CREATE VIRTUAL TABLE f USING fts5(body)",
    "ALTER TABLE t ADD COLUMN c int",
    "ALTER TABLE t RENAME TO u",
    "DROP TABLE IF EXISTS t",
    "DROP INDEX main.i",
    "PRAGMA foreign_keys=OFF",
    "PRAGMA main.foreign_keys = on",
    "PRAGMA defer_foreign_keys = 1",
    "BEGIN TRANSACTION",
    "COMMIT",
    "END",
    # An unknown kind is left to SQLite, whose grammar has no other: it fails there.
    "create tabel broken (id int)",
]

SQ_REFUSED = [
    ("ATTACH '/srv/target.db' AS t", "ATTACH"),
    ("ATTACH DATABASE 'file:x?mode=memory' AS t", "ATTACH"),
    ("DETACH t", "DETACH"),
    ("VACUUM INTO '/tmp/copy.db'", "VACUUM INTO"),
    ("VACUUM", "VACUUM"),
    ("DELETE FROM t.canary", "DELETE"),
    ("INSERT INTO t VALUES (1)", "INSERT"),
    ("REPLACE INTO t VALUES (1)", "REPLACE"),
    ("UPDATE t SET id = 1", "UPDATE"),
    ("SELECT 1", "SELECT"),
    ("WITH x AS (SELECT 1) DELETE FROM t", "WITH"),
    ("PRAGMA journal_mode = delete", "PRAGMA journal_mode"),
    ("PRAGMA writable_schema = 1", "PRAGMA writable_schema"),
    ("PRAGMA t.foreign_keys = 1", "PRAGMA t.foreign_keys"),
    ("REINDEX", "REINDEX"),
    ("ANALYZE", "ANALYZE"),
    ("CREATE TABLE t AS SELECT * FROM other.canary", "CREATE TABLE … AS SELECT"),
    ("CREATE TABLE t.canary (id)", "the name t.canary"),
    ("CREATE INDEX t.i ON canary (id)", "the name t.i"),
    ("DROP TABLE t.canary", "the name t.canary"),
    ("CREATE TRIGGER t.tr AFTER INSERT ON canary BEGIN SELECT 1; END", "the name t.tr"),
]


@pytest.mark.parametrize("sql", SQ_ALLOWED)
def test_sqlite_allows_schema_definitions(sql: str) -> None:
    assert refused(SQ, sql, MAIN) is None


@pytest.mark.parametrize(("sql", "subject"), SQ_REFUSED)
def test_sqlite_refuses_everything_else(sql: str, subject: str) -> None:
    assert refused(SQ, sql, MAIN) == subject


def test_sqlite_dump_schema_passes() -> None:
    dump = (
        "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n"
        "CREATE TABLE t (id integer primary key, note text);\n"
        "CREATE INDEX t_note ON t (note);\nCOMMIT;\n"
    )
    check_desired_sql(SQ, dump, MAIN, "dump.sql")


# --- the dev URL ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dev", "target"),
    [
        ("postgres://u:p@db:5432/app", "postgres://v:q@db/app?search_path=public"),
        ("postgres://u:p@localhost:5432/app", "postgres://u:p@127.0.0.1/app"),
        ("postgres://u:p@DB/app?search_path=dev", "postgres://u:p@db/app?search_path=public"),
        ("mysql://u:p@db:3306/app", "maria://u:p@db/app"),
        ("mysql://u:p@db/", "mysql://u:p@db/app"),
        ("mysql://u:p@db/dev", "mysql://u:p@db/"),
        ("sqlite://{tmp}/a.db", "sqlite://{tmp}/./a.db"),
        ("sqlite://{tmp}/link.db", "sqlite://{tmp}/a.db"),
        ("sqlite://dev?mode=memory", "sqlite://dev?mode=memory"),
    ],
)
def test_a_dev_url_pointing_at_the_target_is_refused(
    dev: str, target: str, tmp_path: object
) -> None:
    os.symlink(f"{tmp_path}/a.db", f"{tmp_path}/link.db")
    with pytest.raises(SandboxError, match="points at the target database"):
        check_dev_url(parse_url(dev.format(tmp=tmp_path)), parse_url(target.format(tmp=tmp_path)))


@pytest.mark.parametrize(
    ("dev", "target"),
    [
        ("postgres://u:p@db:5432/dev", "postgres://u:p@db:5432/app"),
        ("postgres://u:p@db:5433/app", "postgres://u:p@db:5432/app"),
        ("postgres://u:p@other/app", "postgres://u:p@db/app"),
        ("mysql://u:p@db/dev", "mysql://u:p@db/app"),
        ("mysql://u:p@devdb/", "mysql://u:p@db/"),
        ("sqlite://dev?mode=memory", "sqlite://app.db"),
        ("sqlite://dev?mode=memory", "sqlite://other?mode=memory"),
        ("postgres://u:p@db/app", "mysql://u:p@db/app"),
    ],
)
def test_a_separate_dev_database_is_accepted(dev: str, target: str) -> None:
    check_dev_url(parse_url(dev), parse_url(target))
    check_dev_url(parse_url(dev), None)


# --- HCL states ----------------------------------------------------------------------------

HCL = """
schema "public" {}
schema "other" {}
table "t" {
  schema = schema.other
  column "id" { type = int }
}
"""


def test_sql_rendered_from_hcl_is_sandboxed_too() -> None:
    from atlas_operator.engine.declarative import ApplyPolicy, load_hcl_on_dev

    # Refused before any connection is made: the dev server need not exist.
    dev = parse_url("postgres://u:p@nowhere.invalid:5432/dev")
    policy = ApplyPolicy(schemas=("public",))
    with pytest.raises(SandboxError, match=r'the schema "other" is not allowed'):
        load_hcl_on_dev(HCL, dev, Scope(schemas=("public",)), policy)
    mysql_dev = parse_url("mysql://u:p@nowhere.invalid:3306/")
    with pytest.raises(SandboxError, match=r'the database "other" is not allowed'):
        load_hcl_on_dev(HCL, mysql_dev, Scope(schemas=("public",)), policy)


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE MATERIALIZED VIEW mv AS SELECT f()",
        "CREATE MATERIALIZED VIEW mv AS SELECT f() WITH DATA;",
        "create materialized view mv as select f()\n  with   data",
    ],
)
def test_postgres_loads_materialized_views_without_running_their_query(sql: str) -> None:
    """Allowed, and created on the dev database WITH NO DATA: the query (which may call
    the desired state's own functions) never runs there."""
    assert refused(PG, sql, PUBLIC) is None
    loaded = PG.for_dev(sql)
    assert loaded.endswith("f() WITH NO DATA")
    assert "with   data" not in loaded
    assert "WITH DATA" not in loaded
    assert PG.for_dev("CREATE VIEW v AS SELECT 1") == "CREATE VIEW v AS SELECT 1"
    assert PG.for_dev("CREATE MATERIALIZED VIEW m AS SELECT 1 WITH NO DATA").endswith(
        "SELECT 1 WITH NO DATA"
    )


@pytest.mark.parametrize(
    ("sql", "loaded"),
    [
        (
            "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM t",
            "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM t",
        ),
        (
            "create definer='u'@'%' event `e` on schedule every 1 day\ncomment 'x' do begin\n"
            "  delete from t; end",
            "create definer='u'@'%' event `e` on schedule every 1 day\nDISABLE comment 'x' do"
            " begin\n  delete from t; end",
        ),
        (
            "CREATE EVENT e ON SCHEDULE AT '2035-01-01' ON COMPLETION PRESERVE ENABLE DO SELECT 1",
            "CREATE EVENT e ON SCHEDULE AT '2035-01-01' ON COMPLETION PRESERVE DISABLE DO SELECT 1",
        ),
        (
            "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DISABLE ON SLAVE DO SELECT 1",
            "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT 1",
        ),
        ("ALTER EVENT e ENABLE", "ALTER EVENT e DISABLE"),
        ("ALTER EVENT e COMMENT 'x'", "ALTER EVENT e COMMENT 'x'"),
        ("DROP EVENT e", "DROP EVENT e"),
        ("CREATE TABLE event (enable int)", "CREATE TABLE event (enable int)"),
    ],
)
def test_mysql_events_load_disabled(sql: str, loaded: str) -> None:
    """An event never runs on the dev database: it is created (or altered) DISABLE, and
    the status the SQL wrote is given back to the desired state (`event_states`)."""
    assert refused(MY, sql, APP_DB) is None
    assert MY.for_dev(sql) == loaded


def test_mysql_event_states_follow_the_statements_in_order() -> None:
    from atlas_operator.engine.drivers.mysql.sandbox import event_states

    statements = [
        "CREATE EVENT a ON SCHEDULE EVERY 1 DAY DO SELECT 1",
        "CREATE EVENT `B` ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT 1",
        "CREATE EVENT app.c ON SCHEDULE EVERY 1 DAY DISABLE ON SLAVE DO SELECT 1",
        "CREATE EVENT d ON SCHEDULE EVERY 1 DAY DO SELECT 1",
        "ALTER EVENT a DISABLE",
        "ALTER EVENT d RENAME TO e",
        "CREATE EVENT gone ON SCHEDULE EVERY 1 DAY DO SELECT 1",
        "DROP EVENT gone",
    ]
    assert event_states(statements) == {
        (None, "a"): "DISABLED",
        (None, "b"): "DISABLED",
        ("app", "c"): "SLAVESIDE_DISABLED",
        (None, "e"): "ENABLED",
    }


def test_postgres_event_triggers_belong_to_realm_scope_and_load_disabled() -> None:
    sql = "CREATE EVENT TRIGGER e ON ddl_command_end EXECUTE FUNCTION f()"
    assert refused(PG, sql, PUBLIC) == "CREATE EVENT TRIGGER"
    assert refused(PG, sql, REALM) is None
    assert PG.for_dev(sql + ";") == sql + ";\nALTER EVENT TRIGGER e DISABLE"
    assert PG.for_dev("ALTER EVENT TRIGGER e ENABLE ALWAYS") == "ALTER EVENT TRIGGER e DISABLE"
    assert PG.for_dev("ALTER EVENT TRIGGER e RENAME TO f") == "ALTER EVENT TRIGGER e RENAME TO f"
