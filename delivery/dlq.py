"""Operator services for a channel's dead-letter topic: read it, and replay what is still undelivered."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from confluent_kafka import Message, Producer

from delivery.registry import ChannelSpec
from delivery.services import delivery_reopen
from messaging.clients import build_producer
from messaging.dead_letters import DeadLetterInfo
from messaging.envelope import MessageEnvelope
from messaging.errors import InvalidMessage
from messaging.headers import build_headers, decode_headers
from messaging.publisher import OutgoingRecord, publish
from messaging.record_position import RecordPosition
from messaging.topic_reader import read_to_end
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
    letters = [
        _dead_letter(record)
        for record in read_to_end(dlq_topic(spec.channel), timeout=timeout, reader=f"{spec.service_name}-dlq-reader")
    ]
    return sorted(letters, key=lambda letter: (letter.info.failed_at.timestamp() if letter.info else 0, letter.offset))


def _dead_letter(record: Message) -> DeadLetter:
    key, value = record.key(), record.value()
    try:
        envelope: MessageEnvelope | None = MessageEnvelope.from_json(value)
    except InvalidMessage:
        envelope = None
    position = RecordPosition.of(record)
    return DeadLetter(
        partition=position.partition,
        offset=position.offset,
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
