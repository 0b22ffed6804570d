"""Shared pieces of the fuzz suite: seeded generators, mutations and the checks every
family makes (no exception but our documented error types, a time bound per input).

Every family draws from `random.Random(seed)` with fixed seeds, so a failure reproduces
exactly; the failing input is printed in the assertion message. `ATLAS_FUZZ_ITERATIONS`
multiplies the number of inputs (`make bench` runs a longer pass).
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from atlas_operator.cli import main

T = TypeVar("T")

SCALE = max(1, int(os.environ.get("ATLAS_FUZZ_ITERATIONS", "1")))
SECONDS_PER_INPUT = float(os.environ.get("ATLAS_FUZZ_SECONDS_PER_INPUT", "3"))
"""Generous for a loaded 2-core machine; a hang or a quadratic blow-up exceeds it."""

# Characters that break parsers: quotes, comment starts, delimiters, controls, non-ASCII.
NASTY = [
    "'",
    '"',
    "`",
    "--",
    "#",
    "/*",
    "*/",
    "$$",
    "$a$",
    ";",
    "(",
    ")",
    "\\",
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "\x01",
    "\x7f",
    "\x85",
    "ñ",
    "ü",
    "é",
    "\u0301",
    "€",
    "😀",
    "\ufeff",
    "{",
    "}",
    "[",
    "]",
    "=",
    ":",
    "&",
    "*",
    "!",
    "%",
    "%00",
    "@",
    "?",
    "/",
    " ",
    "${",
    "<<",
]


def iterations(base: int) -> int:
    return base * SCALE


def mutate(text: str, rng: random.Random, rounds: int = 3) -> str:
    """`text` after a few random edits: insert, delete, duplicate or swap a slice."""
    for _ in range(rng.randint(1, rounds)):
        op = rng.randrange(5)
        i = rng.randint(0, len(text))
        j = min(len(text), i + rng.randint(0, 12))
        if op == 0:
            text = text[:i] + rng.choice(NASTY) + text[i:]
        elif op == 1:
            text = text[:i] + text[j:]
        elif op == 2:
            text = text[:i] + text[i:j] * rng.randint(2, 4) + text[j:]
        elif op == 3 and text:
            k = rng.randint(0, len(text))
            text = text[:i] + text[k : k + (j - i)] + text[j:]
        else:
            text = text[:i] + text[i:j].upper() + text[j:]
    return text


def pick(rng: random.Random, items: Sequence[T]) -> T:
    return items[rng.randrange(len(items))]


def run_bounded(call: Callable[[], T], what: str) -> T:
    """`call()`, failing when it takes longer than the per-input bound."""
    started = time.perf_counter()
    result = call()
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS_PER_INPUT, f"{what}: took {elapsed:.1f}s"
    return result


def expect_only(
    call: Callable[[], object], errors: tuple[type[BaseException], ...], what: str
) -> BaseException | None:
    """Runs `call` within the time bound; returns the documented error it raised, if any.
    Any other exception fails the test with the input that caused it."""
    raised: BaseException | None = None
    try:
        run_bounded(call, what)
    except errors as err:
        raised = err
    except Exception as err:  # the point of the suite: nothing else may escape
        raise AssertionError(f"{what}: {type(err).__name__}: {err!s:.300}") from err
    message = str(raised or "").strip()
    assert "\n" not in message, f"{what}: multi-line message {message:.300}"
    return raised


@contextlib.contextmanager
def captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield out, err


def run_cli(args: list[str], what: str) -> tuple[int, str]:
    """The command line in-process: its exit code and stderr, asserting the contract
    (0, or 1 with exactly one `atlas-operator: …` line; never an internal error)."""
    with captured() as (_, err):
        code = run_bounded(lambda: main(args), what)
    stderr = err.getvalue()
    assert code in (0, 1), f"{what}: exit {code}: {stderr[:2000]}"
    assert "Traceback" not in stderr, f"{what}: {stderr[:2000]}"
    # Warnings (`warning: …`) may come first; the error is one line, and the last.
    errors = [line for line in stderr.splitlines() if not line.startswith("warning: ")]
    if code:
        assert len(errors) == 1, f"{what}: the error is not one line: {stderr[:2000]}"
        assert errors[0].startswith("atlas-operator: "), f"{what}: {stderr[:500]}"
    else:
        assert not errors, f"{what}: {stderr[:2000]}"
    return code, stderr
