"""Condition and event messages stay within the API's limits."""

from __future__ import annotations

from atlas_operator.operator import conditions as cond
from atlas_operator.operator.outcome import Outcome
from atlas_operator.operator.resources import AtlasSchemaStatus


def test_a_long_failure_message_is_truncated_with_a_marker() -> None:
    status = AtlasSchemaStatus()
    cond.set_not_ready(status, 1, "ApplyingSchema", "error: " + "x" * 40_000)
    ready = cond.ready_condition(status)
    assert ready is not None
    assert len(ready.message) == cond.CONDITION_MESSAGE_LIMIT
    assert ready.message.endswith("… (truncated)")


def test_truncation_prefers_a_word_boundary() -> None:
    message = cond.truncate("word " * 10_000)
    assert message.endswith("word … (truncated)")
    assert len(message) <= cond.CONDITION_MESSAGE_LIMIT


def test_short_messages_are_unchanged() -> None:
    assert cond.truncate("fine") == "fine"
    assert cond.truncate_bytes("fine") == "fine"


def test_event_messages_fit_1024_bytes_without_splitting_a_character() -> None:
    outcome = Outcome(AtlasSchemaStatus())
    outcome.event("Warning", "Error", "é" * 2000)
    (event,) = outcome.events
    assert len(event.message.encode()) <= cond.EVENT_MESSAGE_LIMIT
    assert event.message.endswith("… (truncated)")
