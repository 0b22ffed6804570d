"""Keeping credentials out of status messages, events and logs.

Two nets: any `scheme://user:password@` in a text loses its password, and the values
a reconcile read from Secrets are masked wherever they appear as a whole word. The
engine's own errors already print redacted URLs; this catches what a database
driver or a user's SQL might echo back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

REDACTED = "xxxxx"
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*):[^\s@]*@")
_MIN_SECRET_LENGTH = 3


def scrub(text: str, secret_values: Iterable[str] = ()) -> str:
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{REDACTED}@", text)
    for value in sorted(set(secret_values), key=len, reverse=True):
        if len(value) >= _MIN_SECRET_LENGTH and value in text:
            text = re.sub(rf"(?<![\w]){re.escape(value)}(?![\w])", REDACTED, text)
    return text


def sensitive_parts(value: str) -> list[str]:
    """What to mask for a value read from a Secret: the password of a URL, or the
    value itself (a password, a token)."""
    value = value.strip()
    if "://" not in value:
        return [value] if value and "\n" not in value else []
    try:
        password = urlsplit(value).password
    except ValueError:
        return []
    return [password, unquote(password)] if password else []
