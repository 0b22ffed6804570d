"""Database URLs through the parser: `URLError` (one line, no password) or a URL."""

from __future__ import annotations

import random
from functools import partial

import pytest

from atlas_operator.engine.urls import URLError, parse_url, redact_text
from tests.fuzz.common import expect_only, iterations, mutate, pick

PASSWORD = "S3cr3tPw"
SEEDS = [
    f"postgres://user:{PASSWORD}@db.example:5432/app?sslmode=disable&search_path=public",
    f"postgresql://user:{PASSWORD}@[::1]:5432/app?sslmode=require",
    f"mysql://root:{PASSWORD}@localhost:3306/app?charset=utf8mb4&tls=false&readTimeout=5s",
    f"maria://root:{PASSWORD}@h/app?collation=utf8mb4_bin",
    "sqlite://dev?mode=memory",
    "sqlite:///abs/path/file.db?_fk=1",
    "sqlite://file:name.db?cache=shared",
    f"postgres://u@h/db?password={PASSWORD}",
]
PARTS = [
    "%00",
    "%01",
    "%7f",
    "%c2%85",
    "\x00",
    "\x1b",
    "\x7f",
    "\x9f",
    "@",
    ":",
    "/",
    "?",
    "#",
    "&",
    "=",
    "[",
    "]",
    "%",
    "%zz",
    "ñ",
    " ",
    "charset=bogus",
    "sslmode=x",
    "tls=maybe",
]


def random_url(rng: random.Random) -> str:
    url = pick(rng, SEEDS)
    if rng.random() < 0.4:
        i = rng.randint(0, len(url))
        return url[:i] + pick(rng, PARTS) + url[i:]
    return mutate(url, rng, rounds=4)


def test_parser_never_crashes_and_never_shows_the_password() -> None:
    rng = random.Random("urls")
    for _ in range(iterations(600)):
        text = random_url(rng)
        err = expect_only(partial(parse_url, text), (URLError,), repr(text))
        # A mutation may move the password out of a secret position (`?p@assword=…`);
        # the check is that no message shows more than the redacted form of the input.
        hidden = PASSWORD not in redact_text(text)
        if err is not None and hidden:
            assert PASSWORD not in str(err), f"{text!r}: {err}"
        elif err is None:
            parsed = parse_url(text)
            if parsed.password:
                assert f":{parsed.password}@" not in repr(parsed), text


@pytest.mark.parametrize(
    ("url", "part"),
    [
        ("postgres://u:p@h:5432/app%00x?sslmode=disable", "the database name"),
        ("postgres://u:p@h:5432/app\x00x", "the database name"),
        ("postgres://u%01:p@h/app", "the user name"),
        ("postgres://u:p@h%7f/app", "the host"),
        ("mysql://u:p@h/app?charset=utf8%0a", 'the value of query parameter "charset"'),
        ("sqlite://file%c2%85.db", "the database file name"),
        (f"postgres://u:{PASSWORD}%00@h/app", "the password"),
    ],
)
def test_control_characters_are_refused_naming_the_part(url: str, part: str) -> None:
    with pytest.raises(URLError, match=f"{part} contains a control character") as raised:
        parse_url(url)
    assert PASSWORD not in str(raised.value)
    assert "\x00" not in str(raised.value)


def test_unknown_mysql_charset_is_an_error() -> None:
    with pytest.raises(URLError, match='unknown charset "bogus"'):
        parse_url("mysql://u:p@h/app?charset=bogus")
