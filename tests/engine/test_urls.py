"""Database URL parsing, scope, redaction and client arguments (pure, no database)."""

from __future__ import annotations

import re
import sqlite3
import ssl
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from atlas_operator.engine.urls import DatabaseURL, URLError, parse_url, redact_text

SECRET = "s3cr3t"


# ---------------------------------------------------------------- fields


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "postgres://atlas:pass@127.0.0.1:15432/atlas?sslmode=disable",
            {
                "scheme": "postgres",
                "driver": "postgres",
                "flavor": "postgres",
                "user": "atlas",
                "password": "pass",
                "host": "127.0.0.1",
                "port": 15432,
                "database": "atlas",
                "schema": None,
                "params": {"sslmode": "disable"},
                "memory": False,
            },
        ),
        (
            "postgresql://u:p@db.example.com/app?sslmode=disable&search_path=public",
            {
                "scheme": "postgresql",
                "driver": "postgres",
                "host": "db.example.com",
                "port": None,
                "database": "app",
                "schema": "public",
                "params": {"sslmode": "disable", "search_path": "public"},
            },
        ),
        (
            "POSTGRES://u@h/app",
            {"scheme": "postgres", "user": "u", "password": None, "database": "app"},
        ),
        ("postgres://u:p@h", {"database": None, "schema": None, "params": {}}),
        ("postgres://u:p@h/", {"database": None}),
        ("postgres://u:p@h/app?search_path=", {"schema": None}),
        ("postgres://u:p@h/app?search_path=%20sales%20", {"schema": "sales"}),
        ('postgres://u:p@h/app?search_path="a,b"', {"schema": "a,b"}),
        ('postgres://u:p@h/app?search_path="say ""hi"""', {"schema": 'say "hi"'}),
        ("postgres://u:p@h/app?search_path=Public", {"schema": "Public"}),
        ("postgres://u:p@h/app?search_path=a&search_path=b", {"schema": "a"}),
        ("postgres://u:p@h/my%2Fdb", {"database": "my/db"}),
        (
            "postgres://u@/app?host=/var/run/postgresql",
            {"host": None, "params": {"host": "/var/run/postgresql"}},
        ),
        ("postgres://u@%2Fvar%2Frun%2Fpostgresql/app", {"host": "/var/run/postgresql"}),
        (
            "mysql://root:pass@127.0.0.1:13306/",
            {
                "scheme": "mysql",
                "driver": "mysql",
                "flavor": "mysql",
                "user": "root",
                "password": "pass",
                "port": 13306,
                "database": None,
                "schema": None,
            },
        ),
        ("mysql://root:pass@h:3306", {"database": None, "schema": None}),
        ("mysql://root:pass@h/app", {"database": "app", "schema": "app", "port": None}),
        ("maria://root:pass@h/app", {"driver": "mysql", "flavor": "mariadb", "schema": "app"}),
        ("mariadb://root@h/", {"scheme": "mariadb", "flavor": "mariadb", "schema": None}),
        ("mysql://u:P%40ssw0rd@h/app", {"user": "u", "password": "P@ssw0rd"}),
        ("mysql://us%3Aer:a%3Ab%2Fc@h/app", {"user": "us:er", "password": "a:b/c"}),
        ("mysql://u:@h/app", {"user": "u", "password": ""}),
        ("mysql://u:p@[::1]:3307/app", {"host": "::1", "port": 3307}),
        ("postgres://u:p@[::1]/app", {"host": "::1", "port": None}),
        ("postgres://u:p@[2001:db8::7]:5433/app", {"host": "2001:db8::7", "port": 5433}),
        ("postgres://u:p@h:/app", {"port": None}),
        ("  postgres://u:p@h/app\n", {"host": "h", "database": "app"}),
        (
            "postgres://u:p@h/app?sslmode=disable&application_name=a+b&connect_timeout=5",
            {
                "params": {
                    "sslmode": "disable",
                    "application_name": "a b",
                    "connect_timeout": "5",
                }
            },
        ),
    ],
)
def test_server_url_fields(text: str, expected: dict[str, Any]) -> None:
    url = parse_url(text)
    for name, value in expected.items():
        assert getattr(url, name) == value, name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "sqlite://relative/file.db",
            {
                "scheme": "sqlite",
                "driver": "sqlite",
                "flavor": "sqlite",
                "database": "relative/file.db",
                "schema": "main",
                "memory": False,
                "user": None,
                "password": None,
                "host": None,
                "port": None,
            },
        ),
        ("sqlite:///abs/file.db", {"database": "/abs/file.db"}),
        ("sqlite3:///abs/file.db", {"scheme": "sqlite3", "driver": "sqlite"}),
        ("sqlite://dev?mode=memory", {"database": "dev", "memory": True}),
        (
            "sqlite://file?mode=memory&_fk=1",
            {"database": "file", "memory": True, "params": {"mode": "memory", "_fk": "1"}},
        ),
        ("sqlite://app.db?_fk=1", {"params": {"_fk": "1"}, "memory": False}),
        ("sqlite://my%20app.db", {"database": "my app.db"}),
        ("sqlite:///data/app@v2.db", {"database": "/data/app@v2.db"}),
        ("sqlite://file:app.db?cache=shared", {"database": "file:app.db", "memory": False}),
        ("sqlite://:memory:", {"database": ":memory:"}),
    ],
)
def test_sqlite_url_fields(text: str, expected: dict[str, Any]) -> None:
    url = parse_url(text)
    for name, value in expected.items():
        assert getattr(url, name) == value, name


def test_params_keep_their_order() -> None:
    url = parse_url("postgres://h/d?z=1&a=2&sslmode=disable&m=3")
    assert list(url.params) == ["z", "a", "sslmode", "m"]


# ---------------------------------------------------------------- scope and ports


@pytest.mark.parametrize(
    ("text", "bound"),
    [
        ("postgres://u:p@h/app", False),
        ("postgres://u:p@h/app?search_path=public", True),
        ("postgres://u:p@h/app?search_path=", False),
        ("mysql://u:p@h/", False),
        ("mysql://u:p@h/app", True),
        ("maria://u:p@h", False),
        ("sqlite://app.db", True),
        ("sqlite://dev?mode=memory", True),
    ],
)
def test_is_schema_bound(text: str, bound: bool) -> None:
    assert parse_url(text).is_schema_bound is bound


@pytest.mark.parametrize(
    ("text", "port"),
    [
        ("postgres://h/app", 5432),
        ("postgresql://h:6543/app", 6543),
        ("mysql://h/", 3306),
        ("mariadb://h:13306/", 13306),
        ("sqlite://app.db", None),
    ],
)
def test_effective_port(text: str, port: int | None) -> None:
    assert parse_url(text).effective_port == port


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("", ["empty database URL"]),
        ("   \n", ["empty database URL"]),
        ("localhost:5432", ["not a URL"]),
        ("sqlite:app.db", ["not a URL"]),
        (
            "oracle2://u@h/db",
            [
                'unknown database URL scheme "oracle2"',
                "postgres, postgresql, mysql, maria, mariadb, sqlite, sqlite3",
            ],
        ),
        ("file://schema.sql", ['unknown database URL scheme "file"', "postgres"]),
        ("sqlserver://u:p@h:1433?database=d", ["the sqlserver driver is not supported"]),
        ("azuresql://u:p@h/d", ["the azuresql driver is not supported"]),
        ("clickhouse://u:p@h:9000/d", ["the clickhouse driver is not supported"]),
        ("redshift://u:p@h:5439/d", ["the redshift driver is not supported"]),
        ("libsql+wss://h", ["the libsql driver is not supported", "sqlite3"]),
        ("docker://postgres/15/dev", ["docker:// URLs are not supported", "no container engine"]),
        ("docker+postgres://img/15", ["docker+postgres:// URLs are not supported"]),
        ("mysql+unix:///tmp/mysql.sock", ["Unix socket", "not supported"]),
        ("maria+unix:///tmp/mysql.sock?database=d", ["Unix socket"]),
        ("postgres:///app", ["missing host"]),
        ("postgres://u:p@/app", ["missing host"]),
        ("mysql://root:pass@/app", ["missing host"]),
        ("mysql://root:pass@:3306/app", ["missing host"]),
        ("postgres://h:abc/app", ['invalid port "abc"', "1 to 65535"]),
        ("postgres://h:0/app", ['invalid port "0"']),
        ("postgres://h:65536/app", ['invalid port "65536"']),
        ("mysql://h:-1/app", ['invalid port "-1"']),
        ("postgres://h:1:2/app", ['invalid port "1:2"']),
        ("postgres://[::1/app", ["malformed IPv6 host"]),
        ("postgres://[zz::1]/app", ["malformed IPv6 host"]),
        ("postgres://[::1]x/app", ["malformed IPv6 host"]),
        ("postgres://h/app#frag", ["unexpected '#'"]),
        ("postgres://u:p/w@h/app", ["unexpected '@' after the host", "%40"]),
        ("postgres://u:12/34@h/app", ["unexpected '@' after the host"]),
        ("postgres://h/app?application_name=a@b", ["unexpected '@' after the host"]),
        ("mysql://u:p#q@h/app", ["unexpected '@' after the host"]),
        (
            "postgres://h/app?search_path=a,b",
            ["search_path names 2 schemas (a, b)", "without search_path"],
        ),
        ("postgres://h/app?search_path=$user,public", ["search_path names 2 schemas"]),
        ('postgres://h/app?search_path="a', ["unterminated double quote"]),
        ("postgres://h/app?sslmode=maybe", ['invalid sslmode "maybe"', "verify-full"]),
        ("mysql://h/a/b", ["the path must name one database"]),
        ("mysql://h/app?tls=custom", ['invalid tls "custom"']),
        ("mysql://h/app?writeTimeout=10", ['invalid writeTimeout "10"']),
        ("mysql://h/app?readTimeout=fast", ['invalid readTimeout "fast"']),
        ("sqlite://", ["missing the database file"]),
        ("sqlite://?mode=memory", ["missing the database file"]),
        ("sqlite://u:p@app.db", ["SQLite URLs take no user or password"]),
        ("postgres://h/a\x00pp", ["control character"]),
    ],
)
def test_errors(text: str, fragments: list[str]) -> None:
    with pytest.raises(URLError) as caught:
        parse_url(text)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_url_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="empty database URL"):
        parse_url("")


# ---------------------------------------------------------------- redaction


SECRET_URLS = [
    f"postgres://u:{SECRET}@h:5432/app?sslmode=disable",
    f"postgres://u:{SECRET}@h/app?search_path=public",
    f"postgresql://u:{SECRET}@[::1]:5432/app",
    f"mysql://root:{SECRET}@h:3306/app",
    f"mariadb://root:{SECRET}@h/",
    f"maria://ro%40t:{SECRET}%2F%3F%23@h/app",
    f"postgres://:{SECRET}@h/app",
    f"postgres://u@h/app?password={SECRET}",
    f"postgres://u@h/app?sslmode=require&sslpassword={SECRET}",
]


@pytest.mark.parametrize("text", SECRET_URLS)
def test_text_forms_never_show_the_password(text: str) -> None:
    url = parse_url(text)
    for shown in (str(url), repr(url), url.redacted(), f"{url}", format(url), f"{url!r}"):
        assert SECRET not in shown
        assert "xxxxx" in shown


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        (
            "postgres://u:pass@h:5432/app?sslmode=disable",
            "postgres://u:xxxxx@h:5432/app?sslmode=disable",
        ),
        ("mysql://root:pass@h:3306/", "mysql://root:xxxxx@h:3306/"),
        ("mysql://root@h/app", "mysql://root@h/app"),
        ("mysql://root:@h/app", "mysql://root:xxxxx@h/app"),
        ("postgres://h/app", "postgres://h/app"),
        ("postgres://u:p@[::1]:5432/app", "postgres://u:xxxxx@[::1]:5432/app"),
        ("postgres://u@h/app?password=p&x=1", "postgres://u@h/app?password=xxxxx&x=1"),
        ("sqlite://dev?mode=memory", "sqlite://dev?mode=memory"),
        ("sqlite:///abs/file.db?_fk=1", "sqlite:///abs/file.db?_fk=1"),
        ("sqlite3://rel/file.db", "sqlite3://rel/file.db"),
        ("POSTGRES://u:p@h/app", "postgres://u:xxxxx@h/app"),
    ],
)
def test_redacted_form(text: str, redacted: str) -> None:
    url = parse_url(text)
    assert url.redacted() == redacted
    assert str(url) == redacted
    assert repr(url) == f"DatabaseURL({redacted!r})"


def test_redacted_form_parses_back_to_the_same_url_but_the_password() -> None:
    url = parse_url("postgres://a%40b:p@h:1/my%20db?search_path=%22x%2Cy%22&sslmode=disable")
    again = parse_url(url.redacted())
    assert again == replace(url, password="xxxxx")


@pytest.mark.parametrize(
    "text",
    [
        f"foo://u:{SECRET}@h/db",
        f"sqlserver://sa:{SECRET}@h:1433?database=master",
        f"clickhouse://u:{SECRET}@h:9000/db",
        f"docker://u:{SECRET}@postgres/15/dev",
        f"mysql+unix://u:{SECRET}@/tmp/mysql.sock",
        f"u:{SECRET}@h/db",
        f"postgres://u:{SECRET}@/app",
        f"postgres://u:{SECRET}@h:abc/app",
        f"postgres://u:{SECRET}@h:99999/app",
        f"postgres://u:{SECRET}@[::1/app",
        f"postgres://u:{SECRET}/x@h:5432/app",
        f"postgres://u:x/{SECRET}@h:5432/app",
        f"postgres://u:1234/{SECRET}@h/app",
        f"postgres://u:1234?{SECRET}@h/app",
        f"postgres://u:a@b/{SECRET}@h/app",
        f"postgres://u:{SECRET}#1@h/app",
        f"postgres://u:{SECRET}?1@h/app",
        f"postgres://u:{SECRET}@h/app#frag",
        f"postgres://u:{SECRET}@h/app?search_path=a,b",
        f"postgres://u:{SECRET}@h/app?sslmode=bogus",
        f"postgres://u@h/app?password={SECRET}&sslmode=bogus",
        f"postgres://u:{SECRET}@h/a\tpp",
        f"mysql://u:{SECRET}@h/a/b",
        f"mysql://u:{SECRET}@h/app?tls=nope",
        f"mysql://u:{SECRET}@h/app?readTimeout=soon",
        f"sqlite://u:{SECRET}@app.db",
    ],
)
def test_parse_errors_never_show_the_password(text: str) -> None:
    with pytest.raises(URLError) as caught:
        parse_url(text)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "call"),
    [
        (f"mysql://u:{SECRET}@h/app", lambda url: url.with_database("other")),
        (f"postgres://u:{SECRET}@h/app", lambda url: url.with_database("")),
        (f"postgres://u:{SECRET}@h/app", lambda url: url.with_schema("")),
        (f"mysql://u:{SECRET}@h/app", lambda url: url.dsn_for_psycopg()),
        (f"postgres://u:{SECRET}@h/app", lambda url: url.pymysql_kwargs()),
        (f"postgres://u:{SECRET}@h/app", lambda url: url.sqlite_target()),
        ("sqlite://app.db", lambda url: url.with_schema("other")),
    ],
)
def test_method_errors_never_show_the_password(
    text: str, call: Callable[[DatabaseURL], object]
) -> None:
    with pytest.raises(URLError) as caught:
        call(parse_url(text))
    assert SECRET not in str(caught.value)
    assert "database URL" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgres://u:pw@h/db", "postgres://u:xxxxx@h/db"),
        ("postgres://u:p/w@h/db", "postgres://u:xxxxx@h/db"),
        ("u:pw@h/db", "u:xxxxx@h/db"),
        ("postgres://u@h/db", "postgres://u@h/db"),
        ("postgres://h/db?Password=pw&x=1", "postgres://h/db?Password=xxxxx&x=1"),
        ("sqlite://app.db", "sqlite://app.db"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


# ---------------------------------------------------------------- derived URLs


@pytest.mark.parametrize(
    ("text", "schema", "expected_schema", "expected_params", "expected_database"),
    [
        ("postgres://u:p@h/app", "sales", "sales", {"search_path": "sales"}, "app"),
        (
            "postgres://u:p@h/app?search_path=public&sslmode=disable",
            "sales",
            "sales",
            {"search_path": "sales", "sslmode": "disable"},
            "app",
        ),
        (
            "postgres://u:p@h/app?search_path=public&sslmode=disable",
            None,
            None,
            {"sslmode": "disable"},
            "app",
        ),
        ("postgres://u:p@h/app", "a,b", "a,b", {"search_path": '"a,b"'}, "app"),
        ("mysql://u:p@h/", "app", "app", {}, "app"),
        ("maria://u:p@h/app", None, None, {}, None),
        ("sqlite://app.db", "main", "main", {}, "app.db"),
    ],
)
def test_with_schema(
    text: str,
    schema: str | None,
    expected_schema: str | None,
    expected_params: dict[str, str],
    expected_database: str | None,
) -> None:
    url = parse_url(text)
    bound = url.with_schema(schema)
    assert bound.schema == expected_schema
    assert bound.params == expected_params
    assert bound.database == expected_database
    assert bound.password == url.password
    assert parse_url(text) == url  # the original is untouched
    if url.driver != "sqlite":
        assert parse_url(bound.redacted()).schema == expected_schema


def test_with_database_keeps_server_and_schema() -> None:
    url = parse_url("postgres://u:p@h:5433/app?search_path=public&sslmode=disable")
    other = url.with_database("dev")
    assert (other.database, other.schema, other.host, other.port, other.password) == (
        "dev",
        "public",
        "h",
        5433,
        "p",
    )
    assert other.redacted() == "postgres://u:xxxxx@h:5433/dev?search_path=public&sslmode=disable"
    assert url.database == "app"


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        ("sqlite://app.db", "other", 'always bound to the schema "main"'),
        ("sqlite://app.db", None, 'always bound to the schema "main"'),
        ("postgres://h/app", "", "the schema name is empty"),
        ("mysql://h/app", "", "the schema name is empty"),
    ],
)
def test_with_schema_errors(text: str, name: str | None, message: str) -> None:
    with pytest.raises(URLError, match=message):
        parse_url(text).with_schema(name)


@pytest.mark.parametrize("text", ["mysql://h/app", "sqlite://app.db"])
def test_with_database_is_for_postgres(text: str) -> None:
    with pytest.raises(URLError, match="needs a postgres URL"):
        parse_url(text).with_database("x")


def test_urls_are_hashable_and_compare_by_value() -> None:
    a = parse_url("postgres://u:p@h/app?sslmode=disable")
    b = parse_url("postgres://u:p@h/app?sslmode=disable")
    c = parse_url("postgres://u:p@h/app?sslmode=require")
    assert a == b
    assert hash(a) == hash(b)
    assert a != c
    assert len({a, b, c}) == 2


# ---------------------------------------------------------------- psycopg


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "postgres://atlas:pass@127.0.0.1:15432/atlas?sslmode=disable&search_path=public",
            {
                "host": "127.0.0.1",
                "port": "15432",
                "user": "atlas",
                "password": "pass",
                "dbname": "atlas",
                "sslmode": "disable",
            },
        ),
        ("postgres://h/app", {"host": "h", "dbname": "app", "sslmode": "require"}),
        ("postgres://u@h", {"host": "h", "user": "u", "sslmode": "require"}),
        (
            "postgres://u:P%40ss%20w'o%5Crd@[::1]/app?sslmode=verify-full&sslrootcert=/ca.pem",
            {
                "host": "::1",
                "user": "u",
                "password": "P@ss w'o\\rd",
                "dbname": "app",
                "sslmode": "verify-full",
                "sslrootcert": "/ca.pem",
            },
        ),
        (
            "postgres://u:@h/app?sslmode=disable&application_name=my+app&connect_timeout=5",
            {
                "host": "h",
                "user": "u",
                "password": "",
                "dbname": "app",
                "sslmode": "disable",
                "application_name": "my app",
                "connect_timeout": "5",
            },
        ),
        (
            "postgres://h/app?sslmode=disable&statement_timeout=5s&binary_parameters=yes",
            {
                "host": "h",
                "dbname": "app",
                "sslmode": "disable",
                "options": "-c statement_timeout=5s",
            },
        ),
        (
            "postgres://h/app?sslmode=disable&options=-c%20a%3D1&b=x%20y",
            {"host": "h", "dbname": "app", "sslmode": "disable", "options": "-c a=1 -c b=x\\ y"},
        ),
        (
            "postgres://u@/app?host=/var/run/postgresql&sslmode=disable",
            {"host": "/var/run/postgresql", "user": "u", "dbname": "app", "sslmode": "disable"},
        ),
    ],
)
def test_dsn_for_psycopg(text: str, expected: dict[str, str]) -> None:
    dsn = parse_url(text).dsn_for_psycopg()
    assert conninfo_to_dict(dsn) == expected
    assert "search_path" not in dsn


def test_dsn_keeps_search_path_available() -> None:
    url = parse_url("postgres://h/app?search_path=sales&sslmode=disable")
    assert url.params["search_path"] == "sales"
    assert url.schema == "sales"


# ---------------------------------------------------------------- PyMySQL


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "mysql://root:pass@127.0.0.1:13306/",
            {
                "host": "127.0.0.1",
                "port": 13306,
                "user": "root",
                "password": "pass",
                "charset": "utf8mb4",
            },
        ),
        (
            "maria://u:P%40ssw0rd@db/app",
            {
                "host": "db",
                "port": 3306,
                "user": "u",
                "password": "P@ssw0rd",
                "database": "app",
                "charset": "utf8mb4",
            },
        ),
        (
            "mysql://u@[::1]/app?parseTime=true",
            {
                "host": "::1",
                "port": 3306,
                "user": "u",
                "password": "",
                "database": "app",
                "charset": "utf8mb4",
            },
        ),
        (
            "mysql://h/app?tls=true&charset=latin1,utf8&timeout=5s&readTimeout=1m30.5s",
            {
                "host": "h",
                "port": 3306,
                "password": "",
                "database": "app",
                "charset": "latin1",
                "ssl_verify_cert": True,
                "ssl_verify_identity": True,
                "read_timeout": 90.5,
            },
        ),
        (
            "mysql://h/?tls=false&collation=utf8mb4_bin&writeTimeout=2s",
            {
                "host": "h",
                "port": 3306,
                "password": "",
                "charset": "utf8mb4",
                "ssl_disabled": True,
                "collation": "utf8mb4_bin",
                "write_timeout": 2.0,
            },
        ),
        (
            "mysql://h/?tls=preferred",
            {"host": "h", "port": 3306, "password": "", "charset": "utf8mb4"},
        ),
    ],
)
def test_pymysql_kwargs(text: str, expected: dict[str, object]) -> None:
    assert parse_url(text).pymysql_kwargs() == expected


def test_pymysql_skip_verify_uses_an_unverified_context() -> None:
    context = parse_url("mysql://h/?tls=skip-verify").pymysql_kwargs()["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_NONE
    assert not context.check_hostname


@pytest.mark.parametrize("text", ["postgres://h/app", "sqlite://app.db"])
def test_pymysql_kwargs_is_for_mysql(text: str) -> None:
    with pytest.raises(URLError, match="needs a mysql URL"):
        parse_url(text).pymysql_kwargs()


# ---------------------------------------------------------------- sqlite3


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("sqlite://relative/file.db", ("relative/file.db", False)),
        ("sqlite:///abs/file.db?_fk=1", ("/abs/file.db", False)),
        ("sqlite3://app.db", ("app.db", False)),
        ("sqlite://dev?mode=memory", ("file:dev?mode=memory&cache=shared", True)),
        ("sqlite://dev?mode=memory&_fk=1", ("file:dev?mode=memory&cache=shared", True)),
        ("sqlite://file:dev?mode=memory", ("file:dev?mode=memory&cache=shared", True)),
        ("sqlite://my%3Fdb?mode=memory", ("file:my%3Fdb?mode=memory&cache=shared", True)),
        (
            "sqlite://file:/abs/app.db?mode=ro&_fk=1&cache=private",
            ("file:/abs/app.db?mode=ro&cache=private", True),
        ),
        ("sqlite://:memory:", (":memory:", False)),
    ],
)
def test_sqlite_target(text: str, target: tuple[str, bool]) -> None:
    assert parse_url(text).sqlite_target() == target


def test_sqlite_memory_database_is_shared_in_process() -> None:
    path, uri = parse_url("sqlite://urls-test-shared?mode=memory").sqlite_target()
    first = sqlite3.connect(path, uri=uri)
    second = sqlite3.connect(path, uri=uri)
    try:
        first.execute("CREATE TABLE t (id INTEGER)")
        first.commit()
        tables = second.execute("SELECT name FROM sqlite_master").fetchall()
        assert tables == [("t",)]
    finally:
        first.close()
        second.close()


def test_sqlite_foreign_key_param_is_available() -> None:
    assert parse_url("sqlite://app.db?_fk=1").params.get("_fk") == "1"


@pytest.mark.parametrize("text", ["postgres://h/app", "mysql://h/app"])
def test_sqlite_target_is_for_sqlite(text: str) -> None:
    with pytest.raises(URLError, match="needs a sqlite URL"):
        parse_url(text).sqlite_target()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgres://u:p@h/app%00?sslmode=disable", "the database name contains a control"),
        ("postgres://u:p@h/app\x85x", "the database name contains a control character (U+0085)"),
        ("mysql://u%7f:p@h/app", "the user name contains a control character (U+007F)"),
        ("sqlite://a%01.db", "the database file name contains a control character (U+0001)"),
        ("postgres://u:p@h/app?application_name=a%0d", 'query parameter "application_name"'),
    ],
)
def test_control_characters_in_any_part_are_refused(url: str, problem: str) -> None:
    with pytest.raises(URLError, match=re.escape(problem)):
        parse_url(url)


def test_control_character_in_the_password_is_refused_without_showing_it() -> None:
    with pytest.raises(URLError, match=r"the password contains a control character$") as raised:
        parse_url("postgres://u:hunter2%00@h/app")
    assert "hunter2" not in str(raised.value)


def test_mysql_charset_and_collation_are_checked() -> None:
    with pytest.raises(URLError, match='unknown charset "bogus"'):
        parse_url("mysql://u:p@h/app?charset=bogus")
    assert parse_url("mysql://u:p@h/app?charset=bogus,UTF8MB4").pymysql_kwargs()["charset"] == (
        "utf8mb4"
    )
    with pytest.raises(URLError, match='invalid collation "utf8mb4_bin;x"'):
        parse_url("mysql://u:p@h/app?collation=utf8mb4_bin;x")
