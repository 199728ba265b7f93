"""Read a topic from its beginning to its current end, without joining any consumer group.

Partitions are assigned directly and commits are off, so reading moves no group's position and can
run any number of times (DLQ listing, operators, tests). "The end" is each partition's high
watermark when the read starts: records produced meanwhile are not waited for.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Message, TopicPartition

from messaging.clients import build_consumer
from messaging.groups import consumer_group
from messaging.record_position import RecordPosition


def read_to_end(topic: str, *, timeout: float = 15.0, reader: str = "topic-reader") -> list[Message]:
    """Every record on `topic` up to its current end; raises TimeoutError if the end is not reached."""
    consumer = build_consumer(consumer_group(f"{reader}-{uuid.uuid4().hex[:8]}"), **{"enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics[topic]
        ends: dict[int, int] = {}
        starts: list[TopicPartition] = []
        for partition in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            if high > low:
                ends[partition] = high
                starts.append(TopicPartition(topic, partition, low))
        records: list[Message] = []
        if starts:
            consumer.assign(starts)
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            record = consumer.poll(0.2)
            if record is None or record.error() is not None:
                continue
            records.append(record)
            position = RecordPosition.of(record)
            if position.offset + 1 >= ends.get(position.partition, 0):
                ends.pop(position.partition, None)
        if ends:
            raise TimeoutError(f"could not read {topic} to its end within {timeout}s")
        return records
    finally:
        consumer.close()
