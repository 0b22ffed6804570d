"""Events are aggregated as client-go's recorder does: the same event again raises the
first one's count (`kubectl describe`: `(x5 over 66s)`), it does not add another."""

from __future__ import annotations

from typing import Any

import httpx2
from lightkube import ApiError

from atlas_operator.operator.kube import KubeApi

RESOURCE = {
    "apiVersion": "db.atlasgo.io/v1alpha1",
    "kind": "AtlasSchema",
    "metadata": {"name": "s", "namespace": "default", "uid": "u-1", "resourceVersion": "7"},
}


def not_found() -> ApiError:
    status = {"kind": "Status", "apiVersion": "v1", "code": 404, "reason": "NotFound"}
    return ApiError(response=httpx2.Response(404, json=status))


class FakeEvents:
    """The events API: create and merge-patch, by name."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}

    def create(self, obj: Any, namespace: str) -> Any:
        body = obj.to_dict()
        self.events[body["metadata"]["name"]] = body
        return obj

    def patch(self, _res: Any, name: str, patch: dict[str, Any], **_: Any) -> Any:
        if name not in self.events:
            raise not_found()
        self.events[name].update(patch)
        return self.events[name]


def test_repeated_event_grows_one_count() -> None:
    fake = FakeEvents()
    api = KubeApi(client=fake)  # type: ignore[arg-type]
    for _ in range(5):
        api.record_event(RESOURCE, "Warning", "TransientErr", 'secrets "x" not found', "c")
    api.record_event(RESOURCE, "Warning", "TransientErr", "another message", "c")
    api.record_event(RESOURCE, "Normal", "Applied", "Applied schema", "c")
    events = sorted(fake.events.values(), key=lambda e: e["message"])
    assert [(e["reason"], e["message"], e["count"]) for e in events] == [
        ("Applied", "Applied schema", 1),
        ("TransientErr", "another message", 1),
        ("TransientErr", 'secrets "x" not found', 5),
    ]
    repeated = events[2]
    assert repeated["firstTimestamp"] <= repeated["lastTimestamp"]
    assert repeated["involvedObject"]["uid"] == "u-1"


def test_expired_event_is_created_again_with_its_count() -> None:
    fake = FakeEvents()
    api = KubeApi(client=fake)  # type: ignore[arg-type]
    api.record_event(RESOURCE, "Warning", "Migrating", "boom", "c")
    fake.events.clear()  # the API server's event TTL
    api.record_event(RESOURCE, "Warning", "Migrating", "boom", "c")
    [event] = fake.events.values()
    assert event["count"] == 2


def test_many_distinct_messages_are_combined_like_client_go() -> None:
    fake = FakeEvents()
    api = KubeApi(client=fake)  # type: ignore[arg-type]
    for n in range(14):
        api.record_event(RESOURCE, "Warning", "TransientErr", f"attempt {n} failed", "c")
    api.record_event(RESOURCE, "Warning", "TransientErr", "attempt 0 failed", "c")
    events = list(fake.events.values())
    single = sorted(e["message"] for e in events if not e["message"].startswith("(combined"))
    assert single == [f"attempt {n} failed" for n in range(9)]
    [combined] = [e for e in events if e["message"].startswith("(combined")]
    # Messages 10 to 14 share one event showing the latest message.
    assert combined["message"] == "(combined from similar events): attempt 13 failed"
    assert combined["count"] == 5
    counts = {e["message"]: e["count"] for e in events}
    assert counts["attempt 0 failed"] == 2
    # Another reason is not combined with these.
    api.record_event(RESOURCE, "Normal", "Applied", "done", "c")
    assert any(e["message"] == "done" for e in fake.events.values())
