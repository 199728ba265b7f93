"""Status derivation from a message's events (pure), and reading a timeline back from ES."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import ApiError

from logging_service.connection import elasticsearch
from logging_service.timeline import build_timeline, message_timeline
from messaging.lifecycle import MessageStatus
from messaging.log_events import LoggedEvent

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def events(*actions: str) -> list[LoggedEvent]:
    return [
        LoggedEvent(T0 + timedelta(milliseconds=n), "svc", action, "success", n or None, None)
        for n, action in enumerate(actions)
    ]


@pytest.mark.parametrize(
    ("actions", "status"),
    [
        ((), MessageStatus.ACCEPTED),
        (("message.accepted", "message.published"), MessageStatus.ACCEPTED),
        (("message.accepted", "message.published", "delivery.received"), MessageStatus.PENDING),
        (
            ("message.accepted", "delivery.received", "delivery.failed", "delivery.retry_scheduled"),
            MessageStatus.RETRYING,
        ),
        (
            ("message.accepted", "delivery.received", "delivery.retry_scheduled", "delivery.received", "delivery.sent"),
            MessageStatus.SENT,
        ),
        (("message.accepted", "delivery.received", "delivery.failed", "delivery.dead_lettered"), MessageStatus.FAILED),
        (("delivery.received", "delivery.dead_lettered", "delivery.received", "delivery.sent"), MessageStatus.SENT),
        (("delivery.received", "delivery.sent", "delivery.received", "delivery.duplicate_skipped"), MessageStatus.SENT),
        # A worker died mid-send: held for an operator, or sent again.
        (("message.accepted", "delivery.received", "delivery.unknown_outcome_held"), MessageStatus.UNKNOWN),
        (("delivery.received", "delivery.unknown_outcome_held", "delivery.sent"), MessageStatus.SENT),
        (("delivery.received", "delivery.unknown_outcome_resent", "delivery.sent"), MessageStatus.SENT),
        (("delivery.received", "delivery.unknown_outcome_resent"), MessageStatus.PENDING),
        # The router's events, logged by another process, may come last: they never set a status back.
        (("delivery.received", "delivery.dead_lettered", "message.published"), MessageStatus.FAILED),
        (("delivery.received", "message.accepted", "message.published"), MessageStatus.PENDING),
        (("delivery.received", "delivery.retry_scheduled", "message.published"), MessageStatus.RETRYING),
        (("message.accepted", "message.failed"), MessageStatus.FAILED),
        # Not handed to a provider by its expiresAt: expired, and nothing later moves it.
        (("message.accepted", "delivery.received", "delivery.expired"), MessageStatus.EXPIRED),
        (
            ("delivery.received", "delivery.retry_scheduled", "delivery.received", "delivery.expired"),
            MessageStatus.EXPIRED,
        ),
        (("delivery.received", "delivery.expired", "delivery.received", "delivery.sent"), MessageStatus.EXPIRED),
    ],
)
def test_status_follows_the_lifecycle(actions, status):
    assert build_timeline(events(*actions)).status is status


def test_a_skipped_redelivery_reports_the_record_status_when_the_sent_event_was_lost():
    """A worker SIGKILLed after writing `sent` but before its `delivery.sent` event left: the
    redelivery's skip event (labels.delivery_status) is the only sign of the send."""
    received, received_again = events("delivery.received", "delivery.received")
    skipped = LoggedEvent(T0 + timedelta(seconds=1), "svc", "delivery.duplicate_skipped", "success", 1, None, "sent")

    assert build_timeline([received, received_again, skipped]).status is MessageStatus.SENT


def test_a_skipped_redelivery_of_an_expired_message_reports_it_expired():
    received = events("delivery.received")
    skipped = LoggedEvent(T0 + timedelta(seconds=1), "svc", "delivery.duplicate_skipped", "success", 1, None, "expired")
    assert build_timeline([*received, skipped]).status is MessageStatus.EXPIRED


def test_same_timestamp_events_sort_in_lifecycle_order():
    tied = [
        LoggedEvent(T0, "email_service", "delivery.sent", "success", 1, None),
        LoggedEvent(T0, "router", "message.accepted", "success", None, None),
        LoggedEvent(T0, "email_service", "delivery.received", "unknown", 1, None),
    ]
    timeline = build_timeline(tied)
    assert [e.action for e in timeline.events] == ["message.accepted", "delivery.received", "delivery.sent"]
    assert timeline.status is MessageStatus.SENT
    assert timeline.attempts == 1


def test_error_text_carries_its_type():
    source = {
        "@timestamp": "2026-11-25T12:00:00.000001Z",
        "event": {"action": "delivery.failed", "outcome": "failure"},
        "service": {"name": "sms_service"},
        "labels": {"attempt": 2, "message_id": str(uuid.uuid4())},
        "error": {"type": "TransientProviderError", "message": "carrier timeout"},
    }
    event = LoggedEvent.from_ecs(source)
    assert event.error == "TransientProviderError: carrier timeout"
    assert event.attempt == 2 and event.service == "sms_service"


@pytest.mark.parametrize(
    ("delivery", "final"),
    [
        (("delivery.received", "delivery.failed", "delivery.dead_lettered"), MessageStatus.FAILED),
        (("delivery.received", "delivery.sent"), MessageStatus.SENT),
        (("delivery.received", "delivery.failed", "delivery.retry_scheduled"), MessageStatus.RETRYING),
    ],
)
def test_the_router_events_in_any_position_never_change_the_outcome(delivery, final):
    """Whichever process logged last: each place the router's two events can take among the channel's
    (whose own order is kept) gives the same status (a published event stamped after a dead letter
    once showed `accepted` for good)."""
    router = ("message.accepted", "message.published")
    slots = len(delivery) + 1
    for first in range(slots):
        for second in range(first, slots):
            actions = list(delivery)
            actions.insert(second, router[1])
            actions.insert(first, router[0])
            assert build_timeline(events(*actions)).status is final, actions


@pytest.fixture
def unplaceable_log_index(settings) -> Iterator[str]:
    """A log index (under a prefix of its own) whose only shard no node may hold: Elasticsearch answers
    a search over it 503, as a cluster does while it drops a lost node."""
    settings.LOG_INDEX_PREFIX = f"{settings.LOG_INDEX_PREFIX}-unplaced-{uuid.uuid4().hex[:8]}"
    index = f"{settings.LOG_INDEX_PREFIX}-2026.12.01"
    elasticsearch().indices.create(index=index, settings=dict(UNPLACEABLE), wait_for_active_shards="0")
    yield index
    elasticsearch().indices.delete(index=index, ignore_unavailable=True)


UNPLACEABLE = {"number_of_shards": 1, "number_of_replicas": 0, "index.routing.allocation.require._name": "nowhere"}


def test_a_search_elasticsearch_answers_503_is_asked_again_until_it_answers(unplaceable_log_index):
    index = unplaceable_log_index
    placed = {"index.routing.allocation.require._name": None}
    timer = threading.Timer(1.5, lambda: elasticsearch().indices.put_settings(index=index, settings=placed))
    timer.start()
    began = time.monotonic()
    try:
        timeline = message_timeline(trace_id=uuid.uuid4().hex, message_id=str(uuid.uuid4()))
    finally:
        timer.join()
    assert timeline.events == () and time.monotonic() - began >= 1.5


def test_a_search_still_answered_503_after_the_patience_raises_it(unplaceable_log_index, monkeypatch):
    monkeypatch.setattr("logging_service.timeline.SEARCH_PATIENCE_SECONDS", 1.0)
    began = time.monotonic()
    with pytest.raises(ApiError) as refused:
        message_timeline(trace_id=uuid.uuid4().hex, message_id=str(uuid.uuid4()))
    assert refused.value.meta.status == 503 and time.monotonic() - began >= 0.5
