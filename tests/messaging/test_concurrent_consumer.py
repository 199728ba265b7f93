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


def test_a_failing_handler_is_retried_and_offsets_are_committed_in_order():
    name = topic(f"test.concurrent.{uuid.uuid4().hex[:8]}")
    ensure_topics(build_admin(), [name], partitions=1)
    headers = build_headers(TraceContext.new())
    errors = publish_all(build_producer(), [OutgoingRecord(name, f"k{i}".encode(), b"v", headers) for i in range(5)])
    assert not any(errors)

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

    checker = build_consumer(group)
    try:
        (committed,) = checker.committed([TopicPartition(name, 0)], timeout=10)
    finally:
        checker.close()
    assert committed.offset == 5
