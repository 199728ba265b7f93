"""The concurrent consume loop on the real Kafka: a handler failure is retried, never skipped, and
offsets are committed in order once everything before them is done."""

import threading
import uuid

from confluent_kafka import TopicPartition

from messaging.clients import build_admin, build_consumer, build_producer
from messaging.concurrent_consumer import ConcurrentConsumer
from messaging.headers import build_headers
from messaging.publisher import OutgoingRecord, publish_all
from messaging.shutdown import GracefulShutdown
from messaging.topic_admin import ensure_topics
from messaging.topics import topic
from messaging.tracing import TraceContext
from tests.processes import wait_for


def _topic_with_records(count: int) -> str:
    """A new one-partition topic holding records k0..k<count-1>."""
    name = topic(f"test.concurrent.{uuid.uuid4().hex[:8]}")
    ensure_topics(build_admin(), [name], partitions=1)
    headers = build_headers(TraceContext.new())
    records = [OutgoingRecord(name, f"k{i}".encode(), b"v", headers) for i in range(count)]
    assert not any(publish_all(build_producer(), records))
    return name


def test_a_failing_handler_is_retried_and_offsets_are_committed_in_order():
    name = _topic_with_records(5)

    handled: list[bytes] = []
    failed_once: set[bytes] = set()

    def handler(record):
        if record.key() == b"k1" and b"k1" not in failed_once:
            failed_once.add(b"k1")
            raise RuntimeError("database is locked")
        handled.append(record.key())

    group = f"test-{uuid.uuid4().hex}"
    loop = ConcurrentConsumer(
        consumer=build_consumer(group), topics=[name], handler=handler, max_in_flight=4, handler_retry_backoff=0.2
    )
    shutdown = GracefulShutdown()
    thread = threading.Thread(target=loop.run, args=(shutdown,))
    thread.start()
    try:
        wait_for(lambda: len(handled) == 5, what="every record handled")
    finally:
        shutdown.request()
        thread.join(timeout=30)
    assert sorted(handled) == [b"k0", b"k1", b"k2", b"k3", b"k4"]
    assert failed_once == {b"k1"}

    assert _committed_offset(group, name) == 5


def _committed_offset(group: str, name: str) -> int:
    checker = build_consumer(group)
    try:
        (committed,) = checker.committed([TopicPartition(name, 0)], timeout=10)
    finally:
        checker.close()
    return committed.offset


def test_offsets_stay_unstored_while_side_outputs_are_not_acknowledged():
    """before_store stands for "the log events of these records are acknowledged by Kafka": while it
    says no (broker down), nothing may be committed, or a crash would lose those events."""
    name = _topic_with_records(3)

    handled: list[bytes] = []
    outputs_acknowledged = threading.Event()
    refusals: list[int] = []

    def before_store() -> bool:
        if not outputs_acknowledged.is_set():
            refusals.append(len(handled))
        return outputs_acknowledged.is_set()

    group = f"test-{uuid.uuid4().hex}"
    loop = ConcurrentConsumer(
        consumer=build_consumer(group),
        topics=[name],
        handler=lambda record: handled.append(record.key()),
        max_in_flight=2,
        before_store=before_store,
        store_interval=0.05,
    )
    shutdown = GracefulShutdown()
    thread = threading.Thread(target=loop.run, args=(shutdown,))
    thread.start()
    try:
        wait_for(lambda: len(handled) == 3 and refusals and refusals[-1] == 3, what="handled, store refused")
        # librdkafka auto-commits stored offsets every second: give it the chance to (wrongly) commit.
        wait_for(lambda: len(refusals) >= 30, what="refused for a while")
        assert _committed_offset(group, name) < 0  # nothing committed yet
        outputs_acknowledged.set()
    finally:
        shutdown.request()
        thread.join(timeout=30)
    assert _committed_offset(group, name) == 3
