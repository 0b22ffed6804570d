"""The version check (upstream §7): at start and every 24 h, ask the release endpoint
whether a newer operator or a security advisory exists, and log what it says.

It never affects reconciling: errors are logged and forgotten. Any non-empty
SKIP_VERCHECK disables it (even "false", as upstream), and so does a version that is
not semver (a development build).
"""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import re
import sys
import urllib.request
from collections.abc import Mapping
from typing import Any

DEFAULT_ENDPOINT = "https://vercheck.ariga.io"
ENDPOINT_VARIABLE = "ATLAS_OPERATOR_VERCHECK_URL"
DAY = 24 * 3600.0
_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
_GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class VersionCheckError(Exception):
    pass


def skip_reason(env: Mapping[str, str], version: str) -> str | None:
    if env.get("SKIP_VERCHECK"):
        return "skipping version checking because SKIP_VERCHECK is set"
    if not _SEMVER.match(version):
        return "skipping version checking because version is not valid"
    return None


def endpoint_from(env: Mapping[str, str]) -> str:
    return (env.get(ENDPOINT_VARIABLE) or DEFAULT_ENDPOINT).rstrip("/")


def user_agent(version: str) -> str:
    goos = sys.platform if sys.platform != "linux" else "linux"
    goarch = _GOARCH.get(platform.machine().lower(), platform.machine().lower())
    return f"Ariga-Atlas-Operator/{version} ({goos}, {goarch})"


def check(endpoint: str, version: str, timeout: float = 10) -> str:
    """GET <endpoint>/atlas-operator/v<version>; the message to log, or ""."""
    tag = version if version.startswith("v") else f"v{version}"
    request = urllib.request.Request(
        f"{endpoint}/atlas-operator/{tag}", headers={"User-Agent": user_agent(version)}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if response.status != 200:
            raise VersionCheckError(f"unexpected status {response.status}")
        payload = json.loads(response.read() or b"{}")
    return render(payload)


def render(payload: Mapping[str, Any]) -> str:
    """Upstream's notification template."""
    parts = []
    advisory = payload.get("advisory")
    if advisory and advisory.get("text"):
        parts.append(f"SECURITY ADVISORY\n{advisory['text']}")
    latest = payload.get("latest")
    if latest and latest.get("Version"):
        line = f"A new version of the Atlas Operator is available ({latest['Version']})"
        line += f": {latest.get('Link', '')}"
        if latest.get("Summary"):
            line += f"\n{latest['Summary']}"
        parts.append(line)
    return "\n".join(parts)


async def run_version_check(
    env: Mapping[str, str],
    version: str,
    logger: logging.Logger,
    interval: float = DAY,
    stop: asyncio.Event | None = None,
) -> None:
    reason = skip_reason(env, version)
    if reason:
        logger.info(reason)
        return
    endpoint = endpoint_from(env)
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            message = await asyncio.to_thread(check, endpoint, version)
        except Exception as err:  # never let a version check hurt the operator
            logger.warning("unable to check for update", extra={"err": str(err)})
        else:
            if message:
                logger.info(message)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            continue
