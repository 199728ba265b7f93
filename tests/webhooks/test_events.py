"""Which log events are webhook events, and what they say (pure)."""

from __future__ import annotations

import uuid

import pytest

from webhooks.events import EVENT_TYPES, webhook_event_of

MESSAGE_ID = str(uuid.uuid4())


def log_event(action: str, **labels: object) -> dict:
    return {
        "@timestamp": "2026-11-28T10:00:00.000000Z",
        "event": {"id": str(uuid.uuid4()), "action": action, "outcome": "success"},
        "trace": {"id": "a" * 32},
        "labels": {"message_id": MESSAGE_ID, "channel": "sms", "attempt": 2, **labels},
    }


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (log_event("delivery.sent"), "message.sent"),
        (log_event("delivery.dead_lettered"), "message.failed"),
        (log_event("message.failed"), "message.failed"),
        (log_event("delivery.unknown_outcome_held"), "message.unknown"),
        (log_event("delivery.suppressed"), "message.suppressed"),
        (log_event("message.canceled"), "message.canceled"),
        (log_event("delivery.expired"), "message.expired"),
        (log_event("delivery.status_reported", delivery_status="delivered"), "message.delivered"),
        (log_event("delivery.status_reported", delivery_status="bounced"), "message.bounced"),
        (log_event("delivery.received"), None),
        (log_event("delivery.retry_scheduled"), None),
        (log_event("delivery.sent", message_id="not-a-uuid"), None),
        ({"event": "odd", "labels": []}, None),
    ],
)
def test_status_changes_become_webhook_events(event, expected):
    found = webhook_event_of(event)
    assert (found.type if found else None) == expected
    if found:
        assert found.payload == {
            "type": expected,
            "timestamp": "2026-11-28T10:00:00.000000Z",
            "data": {
                "id": MESSAGE_ID,
                "traceId": "a" * 32,
                "channel": "sms",
                "status": expected.removeprefix("message."),
                "attempts": 2,
            },
        }


def test_the_same_status_change_always_has_the_same_webhook_id():
    first, again = webhook_event_of(log_event("delivery.sent")), webhook_event_of(log_event("delivery.sent"))
    other = webhook_event_of(log_event("delivery.dead_lettered"))
    assert first and again and other
    assert first.webhook_id == again.webhook_id != other.webhook_id


def test_the_event_types_are_the_documented_ones():
    """They come from the lifecycle's statuses: a new status there must not become a webhook unseen."""
    assert EVENT_TYPES == (
        "message.sent",
        "message.failed",
        "message.delivered",
        "message.undelivered",
        "message.bounced",
        "message.complained",
        "message.unknown",
        "message.suppressed",
        "message.canceled",
        "message.expired",
    )


def test_a_failure_carries_its_error_and_an_undecodable_event_is_none():
    failed = {**log_event("delivery.dead_lettered"), "error": {"type": "PermanentProviderError", "message": "no"}}
    found = webhook_event_of(failed)
    assert found and found.payload["data"]["error"] == "PermanentProviderError: no"
    assert webhook_event_of({**log_event("delivery.sent"), "@timestamp": "not a time"}) is None
