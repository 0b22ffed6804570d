"""URLs of the PostgreSQL and MariaDB test servers.

`hack/test-services.sh` installs and starts the servers (idempotently) and
prints `KEY=URL` lines. Tests take the URLs from the environment when set,
otherwise they run the script. A missing server is a test error, never a skip:
CI must not go green without the databases.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES_SCRIPT = REPO_ROOT / "hack" / "test-services.sh"
URL_KEYS = ("ATLAS_TEST_POSTGRES_URL", "ATLAS_TEST_MARIADB_URL", "ATLAS_TEST_MYSQL_URL")


class ServicesError(RuntimeError):
    """The test databases could not be started."""


@dataclass(frozen=True)
class ServiceURLs:
    postgres: str
    mariadb: str
    mysql: str  # the MariaDB server addressed with the mysql:// scheme


def parse_env_lines(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def service_urls() -> ServiceURLs:
    values = {key: os.environ[key] for key in URL_KEYS if os.environ.get(key)}
    if len(values) < len(URL_KEYS):
        result = subprocess.run(
            [str(SERVICES_SCRIPT)], capture_output=True, text=True, check=False, timeout=1800
        )
        if result.returncode != 0:
            raise ServicesError(f"{SERVICES_SCRIPT} failed:\n{result.stderr[-4000:]}")
        values = parse_env_lines(result.stdout) | values
    missing = [key for key in URL_KEYS if key not in values]
    if missing:
        raise ServicesError(f"{SERVICES_SCRIPT} printed no {', '.join(missing)}")
    return ServiceURLs(
        postgres=values["ATLAS_TEST_POSTGRES_URL"],
        mariadb=values["ATLAS_TEST_MARIADB_URL"],
        mysql=values["ATLAS_TEST_MYSQL_URL"],
    )
