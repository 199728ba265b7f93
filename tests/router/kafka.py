"""Reading topics in router tests: everything up to the current end, without joining a group.

Partitions are assigned directly (no group rebalance wait) and read up to the high watermark taken
at the start, so "exactly one record" is decided by what Kafka holds, not by how long we waited.
"""

import time
import uuid

from confluent_kafka import Message, TopicPartition

from messaging.channels import Channel
from messaging.clients import build_consumer
from messaging.topic_reader import read_to_end
from messaging.topics import send_topic
from router.models import OutboxEntry
from tests.processes import wait_for


def _partitions(consumer, topic: str) -> list[int]:
    return list(consumer.list_topics(topic, timeout=10).topics[topic].partitions)


def high_watermarks(topics: list[str]) -> dict[tuple[str, int], int]:
    consumer = build_consumer(group_id=f"test-{uuid.uuid4().hex}")
    try:
        return {
            (topic, partition): consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
            for topic in topics
            for partition in _partitions(consumer, topic)
        }
    finally:
        consumer.close()


def send_watermarks() -> dict[tuple[str, int], int]:
    return high_watermarks([send_topic(channel) for channel in Channel])


def read_records(topic: str, key: bytes | None = None, timeout: float = 20.0) -> list[Message]:
    """Every record now on `topic` (with `key`, if given), read from the beginning to the end."""
    return [record for record in read_to_end(topic, timeout=timeout, reader="test") if key in (None, record.key())]


def wait_for_records(topic: str, key: bytes, condition, timeout: float = 20.0) -> list[Message]:
    """Re-read until `condition(records)` holds (for records produced in the background, e.g. logs)."""
    deadline = time.monotonic() + timeout
    while True:
        records = read_records(topic, key)
        if condition(records):
            return records
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met on {topic} for key {key!r}; got {len(records)} records")
        time.sleep(0.2)


def wait_for_published(message_ids: list[str] | None = None, timeout: float = 30.0) -> None:
    """Until no outbox entry of `message_ids` (default: any) is left unpublished.

    A 202 comes once Kafka acknowledged the record, or once its outbox entry is committed (Kafka slow
    or down; router.accept.durability); the relay, or a request with an Idempotency-Key, marks an entry once
    Kafka acknowledged it. Tests using this must be transactional (django_db(transaction=True))."""
    entries = (
        OutboxEntry.objects.all() if message_ids is None else OutboxEntry.objects.filter(message_id__in=message_ids)
    )
    wait_for(
        lambda: not entries.filter(published_at__isnull=True).exists(),
        timeout=timeout,
        what=f"outbox entries of {message_ids or 'every message'} to be marked published",
    )
