"""Operator services for a channel's dead letters and held messages: read the DLQ, replay what is
still undelivered, and settle a message held as `unknown` (a worker died mid-send)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

import orjson
from confluent_kafka import Message, Producer

from delivery.events import DeliveryLog
from delivery.models import DeliveryStatus
from delivery.registry import ChannelSpec
from delivery.services import delivery_reopen, delivery_resolve_as_sent
from messaging.clients import build_producer
from messaging.dead_letters import DeadLetterInfo
from messaging.envelope import MessageEnvelope
from messaging.errors import InvalidMessage
from messaging.headers import build_headers, decode_headers
from messaging.log_events import LogEmitter
from messaging.publisher import OutgoingRecord, publish
from messaging.record_position import RecordPosition
from messaging.topic_reader import read_to_end
from messaging.topics import delivery_log_topic, dlq_topic, send_topic
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
    producer = producer if producer is not None else build_producer()
    replayed: list[DeadLetter] = []
    for letter in latest.values():
        if limit is not None and len(replayed) >= limit:
            break
        envelope = letter.envelope
        assert envelope is not None
        if not delivery_reopen(spec=spec, message_id=envelope.id):
            continue
        _send_again(spec, envelope, producer, {"replayed-from-offset": str(letter.offset)})
        replayed.append(letter)
    return replayed


def _send_again(spec: ChannelSpec, envelope: MessageEnvelope, producer: Producer, headers: dict[str, str]) -> None:
    """`envelope` back onto its lane (`send.<channel>[.high|.low]`) as attempt 1 (its record was reopened first)."""
    fresh = envelope.with_attempt(1)
    record_headers = build_headers(TraceContext.continuing(envelope.trace_id), headers)
    publish(
        producer, OutgoingRecord(send_topic(spec.channel, fresh.priority), fresh.key, fresh.to_json(), record_headers)
    )


class Resolution(StrEnum):
    SENT = "sent"  # the operator found that the provider did get it
    RESEND = "resend"  # send it again


def dlq_resolve(
    *, spec: ChannelSpec, message_id: uuid.UUID, resolution: Resolution, producer: Producer | None = None
) -> None:
    """Settle a message held as `unknown`. Raises LookupError when no such message is held."""
    records = spec.record_model.objects.using(spec.database)
    record = records.filter(message_id=message_id, status=DeliveryStatus.UNKNOWN).first()
    if record is None:
        raise LookupError(f"no {spec.channel} message {message_id} is held as unknown")
    envelope = MessageEnvelope.from_json(orjson.dumps(record.payload))
    log = DeliveryLog(
        channel=spec.channel, emitter=LogEmitter(service=spec.service_name, topic=delivery_log_topic(spec.channel))
    )
    if resolution is Resolution.SENT:
        if delivery_resolve_as_sent(spec=spec, message_id=message_id, note="resolved as sent by an operator"):
            log.resolved_as_sent(envelope.with_attempt(record.current_attempt))
        log.emitter.flush()
        return
    if delivery_reopen(spec=spec, message_id=message_id):
        _send_again(spec, envelope, producer if producer is not None else build_producer(), {"resolved": "resend"})
