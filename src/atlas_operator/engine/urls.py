"""Database URLs in Atlas's formats, with scope and redaction.

`postgres://u:p@h:5432/db?sslmode=disable[&search_path=s]`, `mysql://u:p@h:3306/[db]`
(`maria://`, `mariadb://` select MariaDB), `sqlite://path/file.db`,
`sqlite:///abs/file.db`, `sqlite://name?mode=memory`. A URL bound to one schema
(search_path, MySQL database path, SQLite always) puts operations in schema scope.
Every text form of a URL is redacted: the password never leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

SCHEMES = {
    "postgres": ("postgres", "postgres"),
    "postgresql": ("postgres", "postgres"),
    "mysql": ("mysql", "mysql"),
    "maria": ("mysql", "mariadb"),
    "mariadb": ("mysql", "mariadb"),
    "sqlite": ("sqlite", "sqlite"),
    "sqlite3": ("sqlite", "sqlite"),
}
UNSUPPORTED = ("sqlserver", "azuresql", "clickhouse", "redshift", "spanner", "snowflake")
DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306}
REDACTED = "xxxxx"
# Parameters Atlas reads itself; they are not passed to the database client.
ATLAS_PARAMS = frozenset({"search_path", "mode"})


class URLError(ValueError):
    """A URL that cannot be used; the message never holds the password."""


@dataclass(frozen=True)
class DatabaseURL:
    scheme: str
    driver: str
    flavor: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None
    port: int | None = None
    database: str | None = None
    schema: str | None = None
    params: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    memory: bool = False

    @property
    def effective_port(self) -> int | None:
        return self.port or DEFAULT_PORTS.get(self.driver)

    @property
    def is_schema_bound(self) -> bool:
        return self.schema is not None

    def redacted(self) -> str:
        return self.render(redact=True)

    def __str__(self) -> str:
        return self.redacted()

    def __repr__(self) -> str:
        return f"DatabaseURL({self.redacted()!r})"

    def render(self, *, redact: bool = True) -> str:
        """The URL as text; with `redact=False` only for handing to a client library."""
        if self.driver == "sqlite":
            query = ("?" + urlencode(self.params)) if self.params else ""
            return f"{self.scheme}://{self.database or ''}{query}"
        userinfo = ""
        if self.user is not None:
            userinfo = quote(self.user, safe="")
            if self.password is not None:
                userinfo += ":" + (REDACTED if redact else quote(self.password, safe=""))
            userinfo += "@"
        host = self.host or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{self.port}" if self.port else ""
        path = "/" + (self.database or "")
        query = ("?" + urlencode(self.params)) if self.params else ""
        return f"{self.scheme}://{userinfo}{host}{port}{path}{query}"

    def with_schema(self, name: str) -> DatabaseURL:
        if self.driver == "postgres":
            return replace(self, schema=name, params={**self.params, "search_path": name})
        if self.driver == "mysql":
            return replace(self, schema=name, database=name)
        raise URLError(f"{self.redacted()}: SQLite has the single schema main")

    def with_database(self, name: str) -> DatabaseURL:
        if self.driver != "postgres":
            raise URLError(f"{self.redacted()}: only PostgreSQL URLs name a database")
        return replace(self, database=name)

    def dsn_for_psycopg(self) -> str:
        """A libpq URL without Atlas-only parameters (psycopg accepts libpq URLs)."""
        params = {k: v for k, v in self.params.items() if k not in ATLAS_PARAMS}
        return replace(self, scheme="postgresql", params=params).render(redact=False)

    def pymysql_kwargs(self) -> dict[str, object]:
        kwargs: dict[str, object] = {
            "host": self.host or "localhost",
            "port": self.effective_port,
            "user": self.user or "root",
            "password": self.password or "",
            "charset": "utf8mb4",
        }
        if self.database:
            kwargs["database"] = self.database
        return kwargs

    def sqlite_target(self) -> tuple[str, bool]:
        """(target, uri) for `sqlite3.connect`; memory databases are shared in-process."""
        name = self.database or ""
        if self.memory:
            return f"file:{name}?mode=memory&cache=shared", True
        return name, False


def parse_url(text: str) -> DatabaseURL:
    if not text or not text.strip():
        raise URLError("empty database URL")
    if "://" not in text:
        raise URLError(f"{safe_text(text)}: not a URL (expected <driver>://…)")
    scheme = text.split("://", 1)[0].lower()
    if scheme.startswith("docker"):
        raise URLError(
            f"{scheme}:// URLs start containers; there is no container engine here: "
            "give the URL of a running database"
        )
    if scheme not in SCHEMES:
        base = scheme.split("+", 1)[0]
        extra = (
            f"the {base} driver is not supported by this engine; " if base in UNSUPPORTED else ""
        )
        raise URLError(
            f'unknown database URL scheme "{scheme}": {extra}supported schemes are '
            + ", ".join(SCHEMES)
        )
    driver, flavor = SCHEMES[scheme]
    if driver == "sqlite":
        return parse_sqlite(text, scheme)
    return parse_server(text, scheme, driver, flavor)


def safe_text(text: str) -> str:
    """`text` with anything that looks like a password replaced."""
    try:
        parts = urlsplit(text)
        if parts.password:
            return text.replace(parts.password, REDACTED)
    except ValueError:
        pass
    return "<unparsable URL>" if "@" in text else text


def parse_sqlite(text: str, scheme: str) -> DatabaseURL:
    rest = text.split("://", 1)[1]
    path, _, query = rest.partition("?")
    params = dict(parse_qsl(query, keep_blank_values=True))
    if not path:
        raise URLError(f"{text}: missing database file path")
    return DatabaseURL(
        scheme=scheme,
        driver="sqlite",
        flavor="sqlite",
        database=unquote(path),
        schema="main",
        params=params,
        memory=params.get("mode") == "memory",
    )


def parse_server(text: str, scheme: str, driver: str, flavor: str) -> DatabaseURL:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as err:
        raise URLError(f"{safe_text(text)}: {err}") from None
    if not parts.hostname:
        raise URLError(f"{safe_text(text)}: missing host")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    path = unquote(parts.path.lstrip("/")) or None
    schema: str | None
    if driver == "postgres":
        search_path = params.get("search_path")
        names = [n.strip() for n in (search_path or "").split(",") if n.strip()]
        # One schema binds the URL; none or several leave it at database (realm) scope.
        schema = names[0] if len(names) == 1 else None
        database = path
    else:
        if path and "/" in path:
            raise URLError(f"{safe_text(text)}: the path must name one database")
        schema = database = path
    return DatabaseURL(
        scheme=scheme,
        driver=driver,
        flavor=flavor,
        user=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname,
        port=port,
        database=database,
        schema=schema,
        params=params,
    )
