"""Structured logs: one JSON object per line (or plain text for people), with every
message scrubbed of URL passwords before it leaves the process."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from atlas_operator.operator.redact import scrub

# Attributes every LogRecord has; anything else was passed in `extra` and is a field.
_STANDARD = frozenset([*vars(logging.LogRecord("", 0, "", 0, "", None, None)), "message"])


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return scrub(json.dumps(entry, default=str))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD)
        line = super().format(record) + (f" {fields}" if fields else "")
        return scrub(line)


def configure_logging(fmt: str = "json", level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JSONFormatter() if fmt == "json" else TextFormatter("%(asctime)s %(levelname)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # kopf reports every watch event at debug/info; ours are the operator's story.
    for noisy in ("kopf", "aiohttp", "httpx", "httpx2", "httpcore", "lightkube"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
