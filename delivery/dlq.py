"""Operator services for a channel's dead-letter topic: read it, and replay what is still undelivered."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Message, Producer, TopicPartition

from delivery.registry import ChannelSpec
from delivery.services import delivery_reopen
from messaging.clients import build_consumer, build_producer
from messaging.dead_letters import DeadLetterInfo
from messaging.envelope import MessageEnvelope
from messaging.errors import InvalidMessage
from messaging.groups import consumer_group
from messaging.headers import build_headers, decode_headers
from messaging.publisher import OutgoingRecord, publish
from messaging.topics import dlq_topic, send_topic
from messaging.tracing import TraceContext


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: str | None
    envelope: MessageEnvelope | None
    info: DeadLetterInfo | None
    value: bytes

    @property
    def message_id(self) -> str | None:
        return str(self.envelope.id) if self.envelope else self.key


def dlq_read(*, spec: ChannelSpec, timeout: float = 15.0) -> list[DeadLetter]:
    """Everything on the DLQ right now, oldest first per partition. Reads by assignment with
    commits off, so listing never moves any group's position and may run any number of times."""
    topic = dlq_topic(spec.channel)
    consumer = build_consumer(
        consumer_group(f"{spec.service_name}-dlq-reader-{uuid.uuid4().hex[:8]}"), **{"enable.auto.commit": False}
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics[topic]
        ends: dict[int, int] = {}
        starts: list[TopicPartition] = []
        for partition in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            if high > low:
                ends[partition] = high
                starts.append(TopicPartition(topic, partition, low))
        letters: list[DeadLetter] = []
        if not starts:
            return letters
        consumer.assign(starts)
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            record = consumer.poll(0.5)
            if record is None or record.error() is not None:
                continue
            letters.append(_dead_letter(record))
            if record.offset() + 1 >= ends.get(record.partition(), 0):
                ends.pop(record.partition(), None)
        return sorted(
            letters, key=lambda letter: (letter.info.failed_at.timestamp() if letter.info else 0, letter.offset)
        )
    finally:
        consumer.close()


def _dead_letter(record: Message) -> DeadLetter:
    key, value = record.key(), record.value()
    try:
        envelope: MessageEnvelope | None = MessageEnvelope.from_json(value)
    except InvalidMessage:
        envelope = None
    return DeadLetter(
        partition=record.partition(),
        offset=record.offset(),
        key=key.decode("utf-8", errors="replace") if key else None,
        envelope=envelope,
        info=DeadLetterInfo.from_headers(decode_headers(record.headers())),
        value=value or b"",
    )


def dlq_replay(
    *,
    spec: ChannelSpec,
    message_id: uuid.UUID | None = None,
    limit: int | None = None,
    producer: Producer | None = None,
) -> list[DeadLetter]:
    """Publish dead-lettered messages back onto `send.<channel>` with attempt 1 and their trace id.

    Only messages whose delivery is not `sent` are replayed (their record goes failed → pending
    first, or the worker would skip them), so running a replay twice sends nothing twice. A message
    dead-lettered more than once is replayed once. Poison records have no envelope to replay.
    """
    latest: dict[uuid.UUID, DeadLetter] = {}
    for letter in dlq_read(spec=spec):
        envelope = letter.envelope
        if envelope is None or envelope.channel != spec.channel:
            continue
        if message_id is None or envelope.id == message_id:
            latest.pop(envelope.id, None)  # re-insert: order by the latest failure
            latest[envelope.id] = letter
    producer = producer or build_producer()
    replayed: list[DeadLetter] = []
    for letter in latest.values():
        if limit is not None and len(replayed) >= limit:
            break
        envelope = letter.envelope
        assert envelope is not None
        if not delivery_reopen(spec=spec, message_id=envelope.id):
            continue
        fresh = envelope.with_attempt(1)
        headers = build_headers(
            TraceContext.continuing(envelope.trace_id), {"replayed-from-offset": str(letter.offset)}
        )
        publish(producer, OutgoingRecord(send_topic(spec.channel), fresh.key, fresh.to_json(), headers))
        replayed.append(letter)
    return replayed
