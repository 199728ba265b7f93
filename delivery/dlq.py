"""Operator services for a channel's dead letters and held messages: read the DLQ, replay what is
still undelivered, and settle a message held as `unknown` (a worker died mid-send)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

import orjson
from confluent_kafka import Message, Producer
from django.db.models import QuerySet
from django.utils import timezone

from delivery.events import DeliveryLog
from delivery.models import DeliveryRecord, DeliveryStatus
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

logger = logging.getLogger(__name__)


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
    if not held_deliveries(spec=spec, message_ids=[message_id]).exists():
        raise LookupError(f"no {spec.channel} message {message_id} is held as unknown")
    dlq_resolve_held(spec=spec, resolution=resolution, message_ids=[message_id], producer=producer)


def held_deliveries(
    *, spec: ChannelSpec, message_ids: Collection[uuid.UUID] | None = None, older_than: timedelta | None = None
) -> QuerySet[DeliveryRecord]:
    """The channel's records held as `unknown`: of `message_ids` only, if given; held for longer than
    `older_than` (since the record went `unknown`), if given; longest held first."""
    records = spec.record_model.objects.using(spec.database).filter(status=DeliveryStatus.UNKNOWN)
    if message_ids is not None:
        records = records.filter(message_id__in=list(message_ids))
    if older_than is not None:
        records = records.filter(updated_at__lte=timezone.now() - older_than)
    return records.order_by("updated_at", "pk")


def dlq_resolve_held(
    *,
    spec: ChannelSpec,
    resolution: Resolution,
    message_ids: Collection[uuid.UUID] | None = None,
    older_than: timedelta | None = None,
    producer: Producer | None = None,
) -> list[uuid.UUID]:
    """Settle every message `held_deliveries` selects, one by one through the same services and log
    events as a single one: `sent` → delivery_resolve_as_sent and a `delivery.sent` event; `resend`
    → delivery_reopen, then back onto `send.<channel>` as attempt 1. Answers the ids settled; a
    record that left `unknown` meanwhile (another operator, a late worker) is passed over."""
    log = DeliveryLog(
        channel=spec.channel, emitter=LogEmitter(service=spec.service_name, topic=delivery_log_topic(spec.channel))
    )
    settled: list[uuid.UUID] = []
    for record in list(held_deliveries(spec=spec, message_ids=message_ids, older_than=older_than)):
        message_id = record.message_id
        envelope = MessageEnvelope.from_json(orjson.dumps(record.payload))
        if resolution is Resolution.SENT:
            done = delivery_resolve_as_sent(spec=spec, message_id=message_id, note="resolved as sent by an operator")
            if done:
                log.resolved_as_sent(envelope.with_attempt(record.current_attempt))
        else:
            done = delivery_reopen(spec=spec, message_id=message_id)
            if done:
                producer = producer if producer is not None else build_producer()
                _send_again(spec, envelope, producer, {"resolved": "resend"})
        if done:
            settled.append(message_id)
            logger.info("%s message %s held as unknown: resolved as %s", spec.channel, message_id, resolution.value)
        else:
            logger.info("%s message %s left unknown before it was settled: passed over", spec.channel, message_id)
    log.emitter.flush()
    return settled
