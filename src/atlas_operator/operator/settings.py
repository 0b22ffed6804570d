"""The operator's environment (upstream §2.1), parsed once at start.

Booleans follow Go's strconv.ParseBool, as upstream, and an invalid value stops the
process with a message naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class SettingsError(ValueError):
    pass


def parse_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "")
    if value == "":
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f'{name}: invalid boolean "{value}" (use true or false)')


@dataclass(frozen=True)
class OperatorSettings:
    prewarm_devdb: bool = True
    """PREWARM_DEVDB: after a Ready pass, delete dev-database pods (true) or scale the
    Deployment to zero (false)."""
    allow_custom_config: bool = False
    """ALLOW_CUSTOM_CONFIG: upstream's gate for `spec.config`/`configFrom`."""
    data_dir: Path = Path("/tmp/data")
    """DATA_DIR: the operator's writable state (per-resource directories)."""
    passthrough_env: Mapping[str, str] = field(default_factory=dict)
    """Variables copied into dev-database pods (MSSQL_PID, MSSQL_ACCEPT_EULA)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OperatorSettings:
        return cls(
            prewarm_devdb=parse_bool(env, "PREWARM_DEVDB", True),
            allow_custom_config=parse_bool(env, "ALLOW_CUSTOM_CONFIG", False),
            data_dir=Path(env.get("DATA_DIR") or "/tmp/data"),
            passthrough_env={k: env[k] for k in ("MSSQL_PID", "MSSQL_ACCEPT_EULA") if env.get(k)},
        )
