"""Database URLs in Atlas's formats: parsing, scope, redaction and client arguments.

Accepted forms (reference §5):

- `postgres://user:pass@host:5432/db?sslmode=disable[&search_path=s]` (also `postgresql://`);
- `mysql://user:pass@host:3306/[db]`, and `maria://` / `mariadb://` for MariaDB;
- `sqlite://relative/file.db`, `sqlite:///abs/file.db`, `sqlite://name?mode=memory`,
  `sqlite://file:name.db?cache=shared` (SQLite URI filename), and `sqlite3://` alike.

Scope: a URL bound to one schema (PostgreSQL `search_path` naming one schema, the MySQL
path, SQLite always `main`) puts every operation in schema scope; otherwise the URL covers
the whole database (realm scope).

Decisions, each following Atlas unless a reason to differ is given:

- The scheme is lower-cased (Go's `url.Parse` does the same); surrounding whitespace is
  stripped, because Secrets often end with a newline.
- The PostgreSQL path is always a database, never a schema. An empty path leaves
  `database` as None: lib/pq, which Atlas uses, and libpq then connect to the database
  named after the user, so the conninfo leaves `dbname` out and the client applies that
  default itself.
- A `search_path` naming several schemas is an error. Atlas takes the parameter verbatim
  as one schema name (so `a,b` is a schema that never exists); treating it as realm scope
  instead would be worse, since a realm-scoped apply drops the schemas it is not given.
  An empty `search_path` means realm scope, as in Atlas.
- `params` holds every query parameter as written, in order (the first value wins for a
  repeated key, as Go's `Query().Get`); the ones Atlas interprets (`search_path`, `mode`)
  are also reflected in fields.
- Query parameters that name secrets (`password`, `sslpassword`, …) are redacted too.
- Atlas starts containers for `docker://`; this engine has no container engine.

Every text form of a URL, including every error message, is redacted: the password never
leaves this module except inside the client arguments built for a connection.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final
from urllib.parse import parse_qsl, quote, unquote

__all__ = [
    "DEFAULT_PORTS",
    "REDACTED",
    "SUPPORTED_SCHEMES",
    "DatabaseURL",
    "URLError",
    "parse_url",
    "redact_text",
]

# scheme -> (driver, flavor)
SUPPORTED_SCHEMES: Final[Mapping[str, tuple[str, str]]] = {
    "postgres": ("postgres", "postgres"),
    "postgresql": ("postgres", "postgres"),
    "mysql": ("mysql", "mysql"),
    "maria": ("mysql", "mariadb"),
    "mariadb": ("mysql", "mariadb"),
    "sqlite": ("sqlite", "sqlite"),
    "sqlite3": ("sqlite", "sqlite"),
}
# Drivers Atlas knows (some only in its paid build) that this engine does not implement.
UNSUPPORTED_DRIVERS: Final = frozenset(
    {
        "sqlserver",
        "azuresql",
        "clickhouse",
        "redshift",
        "libsql",
        "spanner",
        "snowflake",
        "databricks",
        "oracle",
        "tidb",
        "aurora-dsql",
    }
)
UNIX_SOCKET_SCHEMES: Final = frozenset({"mysql+unix", "maria+unix", "mariadb+unix"})
DEFAULT_PORTS: Final[Mapping[str, int]] = {"postgres": 5432, "mysql": 3306}
REDACTED: Final = "xxxxx"  # what Go's url.URL.Redacted, and so Atlas, prints
SQLITE_MAIN: Final = "main"

# Query parameters whose value is a secret, in any driver.
SECRET_PARAMS: Final = frozenset(
    {"password", "sslpassword", "oauth_client_secret", "scram_client_key", "scram_server_key"}
)
# libpq connection keywords (libpq 18); the conninfo keeps these as they are.
LIBPQ_KEYWORDS: Final = frozenset(
    {
        "application_name",
        "channel_binding",
        "client_encoding",
        "connect_timeout",
        "dbname",
        "fallback_application_name",
        "gssdelegation",
        "gssencmode",
        "gsslib",
        "host",
        "hostaddr",
        "keepalives",
        "keepalives_count",
        "keepalives_idle",
        "keepalives_interval",
        "krbsrvname",
        "load_balance_hosts",
        "max_protocol_version",
        "min_protocol_version",
        "oauth_client_id",
        "oauth_client_secret",
        "oauth_issuer",
        "oauth_scope",
        "options",
        "passfile",
        "password",
        "port",
        "replication",
        "require_auth",
        "requirepeer",
        "scram_client_key",
        "scram_server_key",
        "service",
        "ssl_max_protocol_version",
        "ssl_min_protocol_version",
        "sslcert",
        "sslcertmode",
        "sslcompression",
        "sslcrl",
        "sslcrldir",
        "sslkey",
        "sslkeylogfile",
        "sslmode",
        "sslnegotiation",
        "sslpassword",
        "sslrootcert",
        "sslsni",
        "target_session_attrs",
        "tcp_user_timeout",
        "user",
    }
)
# Parameters read by Atlas (search_path), by lib/pq itself or by us, never sent to the server.
POSTGRES_CLIENT_ONLY_PARAMS: Final = frozenset(
    {
        "search_path",
        "binary_parameters",
        "disable_prepared_binary_result",
        "sslinline",
        "krbspn",
        "sandbox_role",  # ours: the role a desired state loads under (engine/sandbox.py)
    }
)
SSLMODES: Final = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
LIB_PQ_DEFAULT_SSLMODE: Final = "require"  # lib/pq's default; libpq's would be "prefer"
MYSQL_TLS_VALUES: Final = ("true", "false", "skip-verify", "preferred")
# Query parameters SQLite itself reads from a URI filename.
SQLITE_URI_PARAMS: Final = frozenset({"vfs", "mode", "cache", "psow", "nolock", "immutable"})

_URL_PARTS: Final = re.compile(
    r"(?P<scheme>[^:/?#]+)://(?P<netloc>[^/?#]*)(?P<path>[^?#]*)"
    r"(?:\?(?P<query>[^#]*))?(?:#(?P<fragment>.*))?",
    re.DOTALL,
)
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_SECRET_PARAM_TEXT: Final = re.compile(
    r"([?&](?:" + "|".join(sorted(SECRET_PARAMS)) + r")=)[^&#]*", re.IGNORECASE
)
# C0 controls, DEL and C1 controls: never part of a usable name, and a NUL would cut a
# C string short (libpq would then connect to the default database).
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_COLLATION: Final = re.compile(r"[A-Za-z0-9_]+")
_GO_DURATION_PART: Final = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")
_GO_DURATION_UNITS: Final[Mapping[str, float]] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_QUERY_SAFE: Final = ",:/$"
_PATH_SAFE: Final = "/:@~!$&'()*+,;="
_ENCODE_HINT: Final = (
    "percent-encode '@' as %40 in the path and query, and '/', '?', '#' and '@' in passwords"
)


class URLError(ValueError):
    """A database URL that cannot be used; the message is one line and holds no password."""


@dataclass(frozen=True, repr=False)
class DatabaseURL:
    """A parsed database URL; build it with `parse_url`, derive copies with `with_*`.

    `params` must be treated as read-only: the dataclass is frozen, the dict is not.
    """

    scheme: str
    driver: str
    flavor: str
    user: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    schema: str | None = None
    params: dict[str, str] = field(default_factory=dict, hash=False)
    memory: bool = False

    @property
    def effective_port(self) -> int | None:
        """The port a client connects to: the written one or the driver's default."""
        return self.port if self.port is not None else DEFAULT_PORTS.get(self.driver)

    @property
    def is_schema_bound(self) -> bool:
        """Schema scope (unqualified DDL, one schema) rather than realm scope."""
        return self.schema is not None

    def redacted(self) -> str:
        """The URL as text with the password shown as `xxxxx`, safe to log."""
        query = _render_query(self.params)
        if self.driver == "sqlite":
            return f"{self.scheme}://{quote(self.database or '', safe=_PATH_SAFE)}{query}"
        port = f":{self.port}" if self.port is not None else ""
        path = "/" + quote(self.database or "", safe="")
        return f"{self.scheme}://{self._userinfo()}{_render_host(self.host)}{port}{path}{query}"

    @property
    def atlas_driver(self) -> str:
        """The `Driver` Atlas's JSON reports name: the name its client registered the
        scheme under. `mariadb://`/`maria://` are Atlas's `mariadb` driver; SQLite is
        `sqlite3`, as the community Atlas CLI we compare with reports it (Atlas renamed
        it `sqlite` in September 2025, commit a9006e9f; README, Differences)."""
        if self.scheme.split("+", 1)[0] in ("mariadb", "maria"):
            return "mariadb"
        if self.driver == "sqlite":
            return "sqlite3"
        return self.driver

    def __str__(self) -> str:
        return self.redacted()

    def __repr__(self) -> str:
        return f"DatabaseURL({self.redacted()!r})"

    def with_schema(self, name: str | None) -> DatabaseURL:
        """A copy bound to schema `name`, or to the whole database when `name` is None."""
        if self.driver == "sqlite":
            if name == SQLITE_MAIN:
                return self
            raise self._error(f'SQLite URLs are always bound to the schema "{SQLITE_MAIN}"')
        if name == "":
            raise self._error("the schema name is empty")
        if self.driver == "postgres":
            value = None if name is None else _quote_search_path(name)
            return replace(self, schema=name, params=_set_param(self.params, "search_path", value))
        return replace(self, schema=name, database=name)

    def with_database(self, name: str) -> DatabaseURL:
        """A copy naming another database on the same PostgreSQL server."""
        self._require("postgres", "with_database")
        if not name:
            raise self._error("the database name is empty")
        return replace(self, database=name)

    def dsn_for_psycopg(self) -> str:
        """A libpq conninfo string (psycopg 3 and psql accept it) with lib/pq's semantics.

        Atlas hands the URL to lib/pq, which differs from libpq in two ways that matter:
        `sslmode` defaults to `require`, and unknown parameters are sent to the server
        as run-time settings. The first is applied here; the second becomes `-c` items
        in `options`. `search_path` and lib/pq's own switches are left out: the driver
        sets the search path itself, and they stay readable in `params`.
        """
        self._require("postgres", "dsn_for_psycopg")
        pairs = self._postgres_pairs()
        settings = {k: v for k, v in self.params.items() if _is_runtime_setting(k)}
        if settings:
            pairs = _merge_options(pairs, settings)
        return " ".join(f"{key}={_conninfo_value(value)}" for key, value in pairs)

    def pymysql_kwargs(self) -> dict[str, object]:
        """Keyword arguments for `pymysql.connect` (TCP; maps `tls` and read/write timeouts)."""
        self._require("mysql", "pymysql_kwargs")
        kwargs: dict[str, object] = {
            "host": self.host,
            "port": self.effective_port,
            "password": self.password or "",
            "charset": "utf8mb4",
        }
        if self.user:
            kwargs["user"] = self.user
        if self.database:
            kwargs["database"] = self.database
        kwargs.update(_mysql_options(self.params, self.redacted()))
        return kwargs

    def sqlite_target(self) -> tuple[str, bool]:
        """`(database, uri)` for `sqlite3.connect(database, uri=uri)`.

        Memory databases use a shared cache, so that every connection of this process
        opened with the same name sees the same database (a dev database is opened more
        than once). `_fk=1` and the like are left to the caller, through `params`.
        """
        self._require("sqlite", "sqlite_target")
        name = self.database or ""
        uri_style = name.startswith("file:")
        base = name.removeprefix("file:")
        if self.memory:
            return f"file:{quote(base, safe=_PATH_SAFE)}?mode=memory&cache=shared", True
        if uri_style:
            sqlite_params = {k: v for k, v in self.params.items() if k in SQLITE_URI_PARAMS}
            return f"file:{quote(base, safe=_PATH_SAFE)}{_render_query(sqlite_params)}", True
        return name, False

    def _userinfo(self) -> str:
        if self.user is None and self.password is None:
            return ""
        password = "" if self.password is None else ":" + REDACTED
        return f"{quote(self.user or '', safe='')}{password}@"

    def _postgres_pairs(self) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        for key, value in (
            ("host", self.host),
            ("port", None if self.port is None else str(self.port)),
            ("user", self.user or None),
            ("password", self.password),
            ("dbname", self.database),
        ):
            if value is not None:
                pairs.append((key, value))
        pairs.extend((k, v) for k, v in self.params.items() if k in LIBPQ_KEYWORDS)
        if "sslmode" not in self.params:
            pairs.append(("sslmode", LIB_PQ_DEFAULT_SSLMODE))
        return pairs

    def _require(self, driver: str, method: str) -> None:
        if self.driver != driver:
            raise self._error(f"{method}() needs a {driver} URL, not a {self.driver} one")

    def _error(self, problem: str) -> URLError:
        return URLError(f'database URL "{self.redacted()}": {problem}')


def parse_url(text: str) -> DatabaseURL:
    """Parse a database URL in Atlas's formats; raise `URLError` on anything unusable."""
    text = text.strip()
    if not text:
        raise URLError("empty database URL")
    shown = _printable(redact_text(text))
    scheme = _scheme_of(text, shown)
    driver, flavor = SUPPORTED_SCHEMES[scheme]
    if driver == "sqlite":
        return _parse_sqlite(text, scheme, shown)
    return _parse_server(text, scheme, driver, flavor, shown)


def redact_text(text: str) -> str:
    """`text` with anything that may be a password replaced by `xxxxx`.

    Used on raw input that may not parse, so it errs on the side of hiding: everything
    between the user name and the last `@` goes, which also covers passwords holding an
    unencoded `/`, `?` or `#` (they would fool a URL parser).
    """
    scheme, sep, rest = text.partition("://")
    prefix = scheme + sep if sep else ""
    body = rest if sep else text
    at = body.rfind("@")
    if at >= 0:
        user, colon, _ = body[:at].partition(":")
        if colon:
            body = f"{user}:{REDACTED}{body[at:]}"
    return _SECRET_PARAM_TEXT.sub(lambda m: m.group(1) + REDACTED, prefix + body)


def _printable(text: str) -> str:
    """`text` with control characters written as `\\xNN`, so a message stays one line."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def _refuse_controls(
    shown: str,
    parts: Mapping[str, str | None],
    params: Mapping[str, str],
    password: str | None = None,
) -> None:
    """Refuses control characters in any decoded part (`%00` included). The message names
    the part and the character, but says nothing more about a secret's value."""
    if password is not None and _CONTROL.search(password):
        raise _fail(shown, "the password contains a control character")
    named: dict[str, str | None] = dict(parts)
    for key, value in params.items():
        named[f'the query parameter name "{_printable(key)}"'] = key
        if key.lower() in SECRET_PARAMS and _CONTROL.search(value):
            raise _fail(shown, f'the value of query parameter "{key}" contains a control character')
        named[f'the value of query parameter "{_printable(key)}"'] = value
    for part, text in named.items():
        found = _CONTROL.search(text or "")
        if found:
            code = f"U+{ord(found.group(0)):04X}"
            raise _fail(shown, f"{part} contains a control character ({code})")


def _fail(shown: str, problem: str) -> URLError:
    return URLError(f'database URL "{shown}": {problem}')


def _scheme_of(text: str, shown: str) -> str:
    """The lower-cased scheme, after turning away every scheme this engine cannot serve."""
    scheme, sep, _ = text.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        raise _fail(shown, "not a URL; expected <driver>://…, e.g. postgres://user:pass@host/db")
    scheme = scheme.lower()
    if scheme == "docker" or scheme.startswith("docker+"):
        raise URLError(
            f"{scheme}:// URLs are not supported: Atlas starts a database container for them,"
            " and this engine has no container engine; give the URL of a running database"
        )
    if scheme in UNIX_SOCKET_SCHEMES:
        raise URLError(
            f"{scheme}:// (Unix socket) URLs are not supported by this engine;"
            " connect over TCP: mysql://user:pass@host:3306/db"
        )
    if scheme not in SUPPORTED_SCHEMES:
        raise URLError(_unknown_scheme_message(scheme))
    return scheme


def _unknown_scheme_message(scheme: str) -> str:
    supported = ", ".join(SUPPORTED_SCHEMES)
    base = scheme.split("+", 1)[0]
    if base in UNSUPPORTED_DRIVERS:
        return (
            f'database URL scheme "{scheme}": the {base} driver is not supported by this'
            f" engine; supported schemes: {supported}"
        )
    return f'unknown database URL scheme "{scheme}"; supported schemes: {supported}'


def _parse_sqlite(text: str, scheme: str, shown: str) -> DatabaseURL:
    """SQLite: everything up to `?` is the file (Atlas's DSN is the URL minus `sqlite://`)."""
    path, _, query = text.split("://", 1)[1].partition("?")
    if not path:
        raise _fail(
            shown, "missing the database file: sqlite://path/file.db or sqlite://dev?mode=memory"
        )
    first_segment = path.split("/", 1)[0]
    if "@" in first_segment:
        raise _fail(shown, "SQLite URLs take no user or password")
    params = _parse_query(query)
    _refuse_controls(shown, {"the database file name": unquote(path)}, params)
    return DatabaseURL(
        scheme=scheme,
        driver="sqlite",
        flavor="sqlite",
        database=unquote(path),
        schema=SQLITE_MAIN,
        params=params,
        memory=params.get("mode") == "memory",
    )


def _parse_server(text: str, scheme: str, driver: str, flavor: str, shown: str) -> DatabaseURL:
    parts = _URL_PARTS.fullmatch(text)
    if parts is None:  # pragma: no cover - the pattern matches anything with "://"
        raise _fail(shown, "not a URL")
    # An "@" after the authority means the userinfo was cut short by an unencoded
    # delimiter, so host, port, path or query may hold pieces of the password.
    if "@" in text[parts.end("netloc") :]:
        raise _fail(shown, "unexpected '@' after the host: " + _ENCODE_HINT)
    userinfo, at, hostport = parts["netloc"].rpartition("@")
    host, port = _split_hostport(hostport, shown)
    if parts["fragment"] is not None:
        raise _fail(shown, "unexpected '#': percent-encode it as %23")
    params = _parse_query(parts["query"] or "")
    if not host and not (driver == "postgres" and params.get("host")):
        raise _fail(shown, f"missing host: expected {scheme}://user:pass@host:port/…")
    user, password = _split_userinfo(userinfo) if at else (None, None)
    path = unquote(parts["path"][1:])
    named = {"the user name": user, "the host": host, "the database name": path}
    _refuse_controls(shown, named, params, password)
    if driver == "postgres":
        database, schema = path or None, _postgres_schema(params, shown)
        _check_sslmode(params, shown)
    else:
        database = schema = _mysql_schema(path, shown)
        _mysql_options(params, shown)
    return DatabaseURL(
        scheme=scheme,
        driver=driver,
        flavor=flavor,
        user=user,
        password=password,
        host=host or None,
        port=port,
        database=database,
        schema=schema,
        params=params,
    )


def _split_userinfo(userinfo: str) -> tuple[str, str | None]:
    """User and percent-decoded password; `user@` alone has no password (None)."""
    user, colon, password = userinfo.partition(":")
    return unquote(user), unquote(password) if colon else None


def _split_hostport(hostport: str, shown: str) -> tuple[str, int | None]:
    """Host (brackets removed from IPv6) and port; error texts never echo the host."""
    if not hostport.startswith("["):
        host, _, port_text = hostport.partition(":")
        return unquote(host), _parse_port(port_text, shown)
    end = hostport.find("]")
    host, rest = hostport[1:end], hostport[end + 1 :]
    if end < 0 or (rest and not rest.startswith(":")) or not _is_ipv6(host):
        raise _fail(shown, "malformed IPv6 host: write it as [::1] or [::1]:5432")
    return host, _parse_port(rest[1:], shown)


def _is_ipv6(host: str) -> bool:
    try:
        ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _parse_port(text: str, shown: str) -> int | None:
    if not text:
        return None
    if re.fullmatch(r"[0-9]{1,5}", text) and 0 < int(text) <= 65535:
        return int(text)
    raise _fail(shown, f'invalid port "{_printable(text)}": expected a number from 1 to 65535')


def _parse_query(query: str) -> dict[str, str]:
    """Query parameters in order; the first value of a repeated key wins (Go's Get)."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(key, value)
    return params


def _postgres_schema(params: Mapping[str, str], shown: str) -> str | None:
    """The schema `search_path` binds, or None (realm scope) when it is absent or empty."""
    value = params.get("search_path")
    if value is None:
        return None
    names = _split_search_path(value, shown)
    if len(names) > 1:
        raise _fail(
            shown,
            f"search_path names {len(names)} schemas ({', '.join(names)}); a URL is bound to"
            " one schema (search_path=NAME) or, without search_path, to the whole database",
        )
    return names[0] if names else None


def _split_search_path(value: str, shown: str) -> list[str]:
    """Schema names of a search_path list; double quotes protect commas, `""` is a quote."""
    names: list[str] = []
    current: list[str] = []
    quoted = False
    i = 0
    while i < len(value):
        char = value[i]
        if char == '"' and quoted and value[i + 1 : i + 2] == '"':
            current.append('"')
            i += 1
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            names.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        i += 1
    if quoted:
        raise _fail(shown, "search_path has an unterminated double quote")
    names.append("".join(current).strip())
    return [name for name in names if name]


def _quote_search_path(name: str) -> str:
    """`name` as a search_path value that `_split_search_path` reads back unchanged."""
    if any(c in name for c in ',"') or name != name.strip():
        return '"' + name.replace('"', '""') + '"'
    return name


def _check_sslmode(params: Mapping[str, str], shown: str) -> None:
    mode = params.get("sslmode")
    if mode is not None and mode not in SSLMODES:
        raise _fail(shown, f'invalid sslmode "{mode}": expected one of {", ".join(SSLMODES)}')


def _mysql_schema(path: str, shown: str) -> str | None:
    """The MySQL path is the bound schema; an empty path is the whole server."""
    if "/" in path:
        raise _fail(shown, "the path must name one database (schema)")
    return path or None


def _mysql_options(params: Mapping[str, str], shown: str) -> dict[str, object]:
    """PyMySQL arguments for the go-sql-driver parameters that change a connection."""
    options: dict[str, object] = {}
    if "tls" in params:
        options.update(_mysql_tls(params["tls"], shown))
    if params.get("charset"):
        options["charset"] = _mysql_charset(params["charset"], shown)
    if params.get("collation"):
        options["collation"] = _mysql_collation(params["collation"], shown)
    # `timeout` (the connect timeout) is left out: callers pass their own `connect_timeout`.
    for param, kwarg in (("readTimeout", "read_timeout"), ("writeTimeout", "write_timeout")):
        if param in params:
            options[kwarg] = _go_duration(param, params[param], shown)
    return options


def _mysql_charset(value: str, shown: str) -> str:
    """The first charset of go-sql-driver's comma-separated list that the client knows
    (the driver falls back along the list the same way)."""
    from pymysql.charset import charset_by_name

    names = [name.strip() for name in value.split(",") if name.strip()]
    for name in names:
        if charset_by_name(name.lower()) is not None:
            return name.lower()
    raise _fail(shown, f'unknown charset "{_printable(value)}": expected e.g. utf8mb4')


def _mysql_collation(value: str, shown: str) -> str:
    """A collation name; it ends up in `SET NAMES … COLLATE <name>`, so only a plain word."""
    if not _COLLATION.fullmatch(value):
        raise _fail(shown, f'invalid collation "{_printable(value)}": expected e.g. utf8mb4_bin')
    return value


def _mysql_tls(value: str, shown: str) -> dict[str, object]:
    """go-sql-driver's `tls` values; "false" really disables TLS, as it does in Atlas."""
    if value == "true":
        return {"ssl_verify_cert": True, "ssl_verify_identity": True}
    if value == "false":
        return {"ssl_disabled": True}
    if value == "skip-verify":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return {"ssl": context}
    if value == "preferred":
        return {}
    raise _fail(shown, f'invalid tls "{value}": expected one of {", ".join(MYSQL_TLS_VALUES)}')


def _go_duration(param: str, value: str, shown: str) -> float:
    """Seconds in a Go duration such as `10s`, `1m30s` or `500ms`."""
    position, seconds = 0, 0.0
    for match in _GO_DURATION_PART.finditer(value):
        if match.start() != position:
            break
        seconds += float(match[1]) * _GO_DURATION_UNITS[match[2]]
        position = match.end()
    if not value or position != len(value) or seconds <= 0:
        raise _fail(shown, f'invalid {param} "{value}": expected a duration such as 10s')
    return seconds


def _set_param(params: Mapping[str, str], key: str, value: str | None) -> dict[str, str]:
    """A copy of `params` with `key` set in place (or appended), or removed when None."""
    updated = {k: v for k, v in params.items() if value is not None or k != key}
    if value is not None:
        updated[key] = value
    return updated


def _render_query(params: Mapping[str, str]) -> str:
    if not params:
        return ""
    items = (
        f"{quote(key, safe=_QUERY_SAFE)}="
        + (REDACTED if key.lower() in SECRET_PARAMS else quote(value, safe=_QUERY_SAFE))
        for key, value in params.items()
    )
    return "?" + "&".join(items)


def _render_host(host: str | None) -> str:
    if not host:
        return ""
    if ":" in host:
        return f"[{host.replace('%', '%25')}]"
    return quote(host, safe="")


def _is_runtime_setting(key: str) -> bool:
    """lib/pq sends a parameter it does not know to the server as a run-time setting."""
    return key not in LIBPQ_KEYWORDS and key not in POSTGRES_CLIENT_ONLY_PARAMS


def _merge_options(
    pairs: list[tuple[str, str]], settings: Mapping[str, str]
) -> list[tuple[str, str]]:
    """`pairs` with `settings` appended to libpq's `options` as `-c name=value` items."""
    items = [f"-c {_options_escape(k)}={_options_escape(v)}" for k, v in settings.items()]
    existing = [value for key, value in pairs if key == "options"]
    merged = " ".join([*existing, *items])
    return [(key, value) for key, value in pairs if key != "options"] + [("options", merged)]


def _options_escape(text: str) -> str:
    """libpq splits `options` on spaces; a backslash keeps a space or backslash literal."""
    return text.replace("\\", "\\\\").replace(" ", "\\ ")


def _conninfo_value(value: str) -> str:
    """A conninfo value, single-quoted when empty or holding spaces, quotes or backslashes."""
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
