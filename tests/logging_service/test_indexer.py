"""`manage.py index_logs` on the real Kafka and Elasticsearch: every logs.* topic, idempotent,
malformed records kept aside, and nothing lost while Elasticsearch is down."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from logging_service.connection import elasticsearch
from messaging.channels import Channel
from messaging.clients import build_admin, build_producer
from messaging.log_events import LogEmitter, Outcome
from messaging.publisher import OutgoingRecord, publish_all
from messaging.topic_admin import ensure_topics
from messaging.topics import delivery_log_topic, router_log_topic, topic
from messaging.tracing import TraceContext
from tests.logging_service.helpers import docs_for_trace, error_docs
from tests.processes import group_caught_up, manage_py, wait_for

FAST = {"INDEXER_BATCH_WAIT_MS": "100", "INDEXER_TOPIC_REFRESH_MS": "1000", "INDEXER_MAX_BACKOFF_SECONDS": "2"}


def emit_trace(events: int = 3) -> tuple[str, list[str]]:
    """Emit `events` router + email events of one new trace; returns the trace id and event ids."""
    trace_id = TraceContext.new().trace_id
    message_id = str(uuid.uuid4())
    router = LogEmitter(service="router", topic=router_log_topic())
    email = LogEmitter(service="email_service", topic=delivery_log_topic(Channel.EMAIL))
    ids = [str(router.emit("message.accepted", trace_id=trace_id, message="accepted", message_id=message_id).id)]
    for attempt in range(1, events):
        event = email.emit(
            "delivery.sent",
            trace_id=trace_id,
            message="sent",
            outcome=Outcome.SUCCESS,
            message_id=message_id,
            channel="email",
            attempt=attempt,
            duration_ns=1_000_000,
        )
        ids.append(str(event.id))
    assert router.flush() == 0 and email.flush() == 0
    return trace_id, ids


@pytest.fixture(scope="module")
def indexer():
    with manage_py("indexer", "index_logs", **FAST) as process:
        yield process


def test_events_are_indexed_once_with_kafka_position_and_ingest_time(indexer):
    trace_id, ids = emit_trace(events=3)

    docs = wait_for(lambda: (d := docs_for_trace(trace_id)) and len(d) == 3 and d, timeout=30, what="3 documents")

    assert sorted(doc["_id"] for doc in docs) == sorted(ids)  # _id = event.id
    for doc in docs:
        assert doc["_index"].startswith(f"{settings.LOG_INDEX_PREFIX}-2")  # daily index
        assert doc["kafka"]["topic"] in (router_log_topic(), delivery_log_topic(Channel.EMAIL))
        assert isinstance(doc["kafka"]["offset"], int)
        assert doc["event"]["ingested"]
    # Events of the same millisecond may come back in either order; both kinds must be there.
    assert {doc["event"]["action"] for doc in docs} == {"message.accepted", "delivery.sent"}


def test_a_new_logs_topic_is_picked_up_without_restart(indexer):
    new_topic = topic(f"logs.newcomer{uuid.uuid4().hex[:6]}")
    ensure_topics(build_admin(), [new_topic], partitions=1)
    trace_id = TraceContext.new().trace_id
    emitter = LogEmitter(service="newcomer", topic=new_topic)
    emitter.emit("newcomer.hello", trace_id=trace_id, message="hello", message_id="n-1")
    emitter.flush()

    wait_for(lambda: len(docs_for_trace(trace_id)) == 1, timeout=40, what="the new topic's event")


def test_malformed_records_go_to_the_errors_index_and_the_stream_goes_on(indexer):
    trace_id = TraceContext.new().trace_id
    good = LogEmitter(service="router", topic=router_log_topic())
    good.emit("message.accepted", trace_id=trace_id, message="before", message_id="g-1")
    good.flush()
    marker = uuid.uuid4().hex
    poison = [
        b"not json " + marker.encode(),
        b'{"no": "event", "marker": "' + marker.encode() + b'"}',
        # valid shape, but a value the mapping refuses (attempt is an integer field)
        b'{"@timestamp": "2026-11-25T10:00:00Z", "event": {"id": "'
        + str(uuid.uuid4()).encode()
        + b'", "action": "x"}, "trace": {"id": "'
        + marker.encode()
        + b'"}, "labels": {"attempt": "many"}}',
    ]
    records = [OutgoingRecord(router_log_topic(), b"poison", raw, []) for raw in poison]
    assert publish_all(build_producer(), records) == [None, None, None]
    good.emit("message.published", trace_id=trace_id, message="after", message_id="g-1")
    good.flush()

    wait_for(lambda: len(docs_for_trace(trace_id)) == 2, timeout=30, what="good events around the poison")
    errors = wait_for(
        lambda: (e := [d for d in error_docs() if marker in d["event"]["original"]]) and len(e) == 3 and e,
        timeout=30,
        what="3 error documents",
    )
    reasons = sorted(doc["error"]["message"] for doc in errors)
    assert any("not JSON" in reason for reason in reasons)
    assert any("event.action" in reason for reason in reasons)
    assert any("mapper_parsing_exception" in reason or "document_parsing_exception" in reason for reason in reasons)


def test_replaying_every_logs_topic_from_the_start_changes_no_count(indexer):
    trace_id, _ = emit_trace(events=4)
    wait_for(lambda: len(docs_for_trace(trace_id)) == 4, timeout=30, what="first indexing")
    log_topics = [name for name in build_admin().list_topics(timeout=10).topics if name.startswith(topic("logs."))]
    wait_for(lambda: group_caught_up(settings.INDEXER_GROUP_ID, log_topics), timeout=30, what="the indexer to catch up")
    client = elasticsearch()
    pattern = f"{settings.LOG_INDEX_PREFIX}-*"
    client.indices.refresh(index=pattern)
    total_before = client.count(index=pattern)["count"]

    # A brand-new consumer group reads every logs.* topic from offset 0.
    group = f"replay-{uuid.uuid4().hex}"
    with manage_py("indexer-replay", "index_logs", INDEXER_GROUP_ID=group, **FAST) as replay:
        wait_for(lambda: group_caught_up(group, log_topics), timeout=60, what="the replay to reach the end")
        assert replay.stop() == 0
        assert " 0 indexed" in replay.output(), replay.output()[-2000:]

    client.indices.refresh(index=pattern)
    assert client.count(index=pattern)["count"] == total_before
    assert len(docs_for_trace(trace_id)) == 4
