"""Accept-to-Kafka, in one module (DESIGN §7): what a 202 waits for, and where a message goes when
Kafka cannot take it at once.

A request answers 202 once each of its messages is durable:

1. its index row (router.Message: who sent it, for GET and the listing) is committed — a database
   that cannot take it answers 503 and nothing has been sent;
2. Kafka acknowledged its record (acks=all, idempotent producer), or, when Kafka did not within
   ROUTER_PUBLISH_TIMEOUT_SECONDS (down, slow, refusing), the record is committed to the outbox and
   `relay_outbox` publishes it once Kafka is back (at least once: a late acknowledgement and the
   relay's copy carry the same message id, which the channel workers deduplicate).

So a normal accept writes one row and no outbox entry. The rows of concurrent requests share one
transaction (config.db_bulk.GroupInserter), and their records share the producer's batches. Requests
with an Idempotency-Key commit message, outbox entry and key together first (router.services), then
publish the entry through the same producer.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from config.db_bulk import GroupInserter
from messaging.lifecycle import Action
from messaging.log_events import LogEmitter, Outcome
from messaging.metrics import MESSAGES_ACCEPTED
from messaging.publisher import OutgoingRecord
from router.models import Message as MessageRow
from router.models import OutboxEntry

logger = logging.getLogger(__name__)

# How long the delivery-report thread waits when idle: bounds how late it notices `close()`.
IDLE_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class PreparedMessage:
    """An accepted message on its way to being durable: its index row and its Kafka record."""

    id: uuid.UUID
    trace_id: str
    channel: str
    recipient: str
    metadata: Mapping[str, Any]
    client: str
    created_at: datetime
    record: OutgoingRecord
    send_at: datetime | None = None  # scheduled: the outbox holds it until then
    template: str = ""
    template_version: int | None = None
    priority: str = "normal"
    expires_at: datetime | None = None
    segments: int | None = None  # SMS/WhatsApp

    def index_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "trace_id": self.trace_id,
            "channel": self.channel,
            "recipient": self.recipient,
            "metadata": dict(self.metadata),
            "client": self.client,
            "created_at": self.created_at,
            "send_at": self.send_at,
            "template": self.template,
            "template_version": self.template_version,
            "priority": self.priority,
            "expires_at": self.expires_at,
            "segments": self.segments,
        }

    def outbox_row(self, *, error: str) -> dict[str, Any]:
        """Due at its sendAt when scheduled; otherwise at once: the relay's grace period (counted
        from created_at) leaves a just-accepted entry to the API meanwhile."""
        record = self.record
        return {
            "message_id": self.id,
            "topic": record.topic,
            "key": record.key.decode(),
            "value": record.value,
            "headers": [[name, _text(value)] for name, value in record.headers],
            "created_at": self.created_at,
            "due_at": self.send_at or self.created_at,
            "attempts": 1,
            "last_error": error[:2000],
        }


def _text(value: str | bytes | None) -> str:
    return value.decode() if isinstance(value, bytes) else value or ""


class KafkaAcks:
    """The process's producer for accepted messages, and the thread that serves its delivery reports
    (requests only wait on futures). Build one per process, after any fork (router.kafka does)."""

    def __init__(self, producer: Producer) -> None:
        self.producer = producer
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._serve_reports, name="kafka-acks", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def send(self, records: Sequence[OutgoingRecord]) -> list[Future[None]]:
        """Queue the records; each future ends with the record's acknowledgement or its error. Never
        waits for the broker: a full local queue (a long outage) fails the record's future at once."""
        futures: list[Future[None]] = []
        for record in records:
            future: Future[None] = Future()
            try:
                self.producer.produce(
                    record.topic,
                    key=record.key,
                    value=record.value,
                    headers=record.headers,
                    on_delivery=_settle(future),
                )
            except (BufferError, KafkaException) as error:
                future.set_exception(error)
            futures.append(future)
        return futures

    def reachable(self, timeout: float) -> bool:
        """True when the report thread runs and the producer gets an answer from a broker."""
        try:
            return self.alive and bool(self.producer.list_topics(timeout=timeout).brokers)
        except KafkaException:
            return False

    def close(self, timeout: float) -> None:
        self._closing.set()
        self._thread.join(10)
        self.producer.flush(timeout)

    def _serve_reports(self) -> None:
        while not self._closing.is_set():
            self.producer.poll(IDLE_POLL_SECONDS)


def _settle(future: Future[None]) -> Any:
    def report(error: KafkaError | None, message: Message) -> None:  # on the report thread
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(KafkaException(error))

    return report


@dataclass(frozen=True)
class Durability:
    acknowledged: int
    in_outbox: int  # Kafka did not acknowledge in time: committed to the outbox for the relay


def messages_make_durable(
    *,
    prepared: Sequence[PreparedMessage],
    acks: KafkaAcks,
    rows: GroupInserter,
    log: LogEmitter,
    timeout: float,
) -> Durability:
    """Index rows first (a database error propagates, and nothing was sent), then the records; what
    Kafka does not acknowledge within `timeout` goes to the outbox. Returns once all are durable."""
    if not prepared:
        return Durability(0, 0)
    rows.insert(MessageRow, [message.index_row() for message in prepared])
    futures = acks.send([message.record for message in prepared])
    deadline = time.monotonic() + timeout
    unacknowledged: list[tuple[PreparedMessage, str]] = []
    for message, future in zip(prepared, futures, strict=True):
        try:
            future.result(max(0.0, deadline - time.monotonic()))
        except Exception as error:  # a timeout, or Kafka's error (a permanent one ends failed at the relay)
            unacknowledged.append((message, str(error) or f"no acknowledgement within {timeout}s"))
    if unacknowledged:
        rows.insert(OutboxEntry, [message.outbox_row(error=error) for message, error in unacknowledged])
        logger.warning("%d message(s) not acknowledged by Kafka: left to the outbox relay", len(unacknowledged))
    messages_accepted(prepared, log=log)
    return Durability(acknowledged=len(prepared) - len(unacknowledged), in_outbox=len(unacknowledged))


def messages_accepted(prepared: Sequence[PreparedMessage], *, log: LogEmitter) -> None:
    """Durable now: `message.accepted` for each (the API answers 202), counted for /metrics."""
    for message in prepared:
        scheduled = f", scheduled for {message.send_at.isoformat()}" if message.send_at else ""
        log.emit(
            Action.MESSAGE_ACCEPTED,
            trace_id=message.trace_id,
            message_id=message.id,
            channel=message.channel,
            recipient=message.recipient,
            outcome=Outcome.SUCCESS,
            message=f"{message.channel} message accepted{scheduled}",
        )
        MESSAGES_ACCEPTED.labels(channel=message.channel).inc()
