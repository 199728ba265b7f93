"""Log events leave in the ECS shape of docs/logging.md, reach their topic on the real Kafka, and read back
as the typed LoggedEvent."""

import uuid
from datetime import UTC, datetime

import orjson
import pytest

from messaging.lifecycle import Action
from messaging.log_events import InvalidLogEvent, LogEmitter, LogEvent, LoggedEvent, Outcome
from messaging.topics import router_log_topic
from messaging.tracing import TraceContext
from tests.messaging.test_kafka_roundtrip import consume_one


def test_event_renders_ecs_field_names():
    event = LogEvent(
        action=Action.DELIVERY_FAILED,
        service="email_service",
        trace_id="a" * 32,
        message="provider refused",
        outcome=Outcome.FAILURE,
        level="error",
        message_id="m-1",
        channel="email",
        attempt=2,
        duration_ns=1500,
        error_type="TransientProviderError",
        error_message="timeout",
    )
    document = event.to_ecs()
    assert document["event"] == {
        "id": str(event.id),
        "action": "delivery.failed",
        "outcome": "failure",
        "duration": 1500,
    }
    assert document["trace"] == {"id": "a" * 32}
    assert document["service"] == {"name": "email_service"}
    assert document["log"] == {"level": "error"}
    assert document["labels"] == {"message_id": "m-1", "channel": "email", "attempt": 2}
    assert document["error"] == {"type": "TransientProviderError", "message": "timeout"}
    assert document["@timestamp"].endswith("Z")


def test_emitter_publishes_to_its_topic_keyed_by_message_id():
    trace = TraceContext.new()
    emitter = LogEmitter(service="router", topic=router_log_topic())
    event = emitter.emit(Action.MESSAGE_ACCEPTED, trace_id=trace.trace_id, message="accepted", message_id="m-42")
    assert emitter.flush() == 0

    record = consume_one(router_log_topic(), b"m-42")
    assert orjson.loads(record.value()) == event.to_ecs()


def test_an_emitted_event_reads_back_as_it_was_logged():
    message_id = str(uuid.uuid4())
    event = LogEvent(
        action=Action.DELIVERY_STATUS_REPORTED,
        service="sms_service",
        trace_id="b" * 32,
        message="bounced",
        outcome=Outcome.FAILURE,
        message_id=message_id,
        channel="sms",
        attempt=3,
        error_type="ProviderReceipt",
        error_message="mailbox full",
        labels={"delivery_status": "bounced", "provider": "twilio"},
        timestamp=datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC),
    )
    read = LoggedEvent.from_ecs(orjson.loads(event.to_json()))
    assert read == LoggedEvent(
        timestamp=event.timestamp,
        service="sms_service",
        action="delivery.status_reported",
        outcome=Outcome.FAILURE,
        attempt=3,
        error="ProviderReceipt: mailbox full",
        reported_status="bounced",
        provider="twilio",
        trace_id="b" * 32,
        message_id=message_id,
        channel="sms",
    )


def test_odd_fields_read_as_absent_and_a_document_without_an_action_is_no_event():
    odd = {
        "@timestamp": "2026-11-30T12:00:00Z",
        "event": {"action": "some.future_action", "outcome": "maybe"},
        "labels": ["not", "a", "mapping"],
        "error": {"message": "no type"},
    }
    read = LoggedEvent.from_ecs(odd)
    assert (read.action, read.outcome, read.attempt, read.message_id, read.error) == (
        "some.future_action",
        Outcome.UNKNOWN,
        None,
        None,
        "no type",
    )
    assert LoggedEvent.from_ecs({**odd, "labels": {"attempt": "2"}}).attempt == 2
    for bad in ({"event": "odd"}, {**odd, "@timestamp": "yesterday"}):
        with pytest.raises(InvalidLogEvent):
            LoggedEvent.from_ecs(bad)


def test_event_ids_are_distinct_version_4_uuids():
    ids = [
        LogEvent(action=Action.MESSAGE_ACCEPTED, service="router", trace_id="0" * 32, message="").id
        for _ in range(10_000)
    ]
    assert len(set(ids)) == len(ids)
    for text in ids[:1000]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
