"""An envelope produced through the project's producer comes back intact, headers included."""

import time
import uuid

from messaging.channels import Channel
from messaging.clients import build_consumer, build_producer
from messaging.envelope import MessageEnvelope
from messaging.headers import build_headers, decode_headers
from messaging.publisher import OutgoingRecord, publish
from messaging.topics import send_topic
from messaging.tracing import TraceContext
from tests.messaging.test_envelope import make_envelope


def consume_one(topic: str, key: bytes, timeout: float = 30.0):
    consumer = build_consumer(group_id=f"test-{uuid.uuid4().hex}")
    consumer.subscribe([topic])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            record = consumer.poll(0.5)
            if record is not None and record.error() is None and record.key() == key:
                return record
    finally:
        consumer.close()
    raise AssertionError(f"no record with key {key!r} on {topic} within {timeout}s")


def test_envelope_and_headers_survive_a_round_trip_through_kafka():
    trace = TraceContext.new()
    envelope = make_envelope(channel=Channel.SMS, to="+14155550100", subject=None, trace_id=trace.trace_id)
    topic = send_topic(Channel.SMS)

    publish(build_producer(), OutgoingRecord(topic, envelope.key, envelope.to_json(), build_headers(trace)))

    record = consume_one(topic, envelope.key)
    assert MessageEnvelope.from_json(record.value()) == envelope
    headers = decode_headers(record.headers())
    assert headers["traceparent"] == trace.traceparent
    assert headers["content-type"] == "application/json"


def test_publish_to_a_missing_topic_fails_loudly():
    from messaging.errors import PublishError

    record = OutgoingRecord("no-such-topic-" + uuid.uuid4().hex, b"k", b"{}", build_headers(TraceContext.new()))
    try:
        publish(build_producer(), record, timeout=5)
    except PublishError:
        return
    raise AssertionError("publishing to a topic that does not exist must raise PublishError")
