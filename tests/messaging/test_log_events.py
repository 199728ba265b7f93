"""Log events leave in the ECS shape of DESIGN §6 and reach their topic on the real Kafka."""

import orjson

from messaging.log_events import LogEmitter, LogEvent, Outcome
from messaging.topics import router_log_topic
from messaging.tracing import TraceContext
from tests.messaging.test_kafka_roundtrip import consume_one


def test_event_renders_ecs_field_names():
    event = LogEvent(
        action="delivery.failed",
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
    event = emitter.emit("message.accepted", trace_id=trace.trace_id, message="accepted", message_id="m-42")
    assert emitter.flush() == 0

    record = consume_one(router_log_topic(), b"m-42")
    assert orjson.loads(record.value()) == event.to_ecs()
