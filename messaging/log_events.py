"""Log events (docs/logging.md): the one place that shapes ECS JSON, publishes it to `logs.*`, and reads it back.

Every service logs through a LogEmitter; nothing else writes log JSON by hand, and every reader (the
timeline, the webhooks worker) decodes it with `LoggedEvent.from_ecs`. Events never carry a
message's body, and a recipient only masked (messaging.masking). Emitting never
blocks on Kafka: events are queued in the producer and acknowledged in the background, with a long
delivery timeout so that a short broker outage delays them instead of dropping them.
"""

from __future__ import annotations

import functools
import logging
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypedDict, Unpack

import orjson
from confluent_kafka import KafkaError, Message, Producer

from messaging.clients import build_producer
from messaging.headers import build_headers
from messaging.lifecycle import Action
from messaging.masking import recipient_for_logs
from messaging.publisher import produce_when_room
from messaging.tracing import TraceContext

logger = logging.getLogger(__name__)

# How long queued log events survive a broker outage before the producer gives up on them.
LOG_DELIVERY_TIMEOUT_MS = 300_000


def build_log_producer() -> Producer:
    # A longer linger.ms for log events was measured (`manage.py bench`): no gain, so the default stays.
    return build_producer(**{"delivery.timeout.ms": LOG_DELIVERY_TIMEOUT_MS})


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


@functools.lru_cache(maxsize=64)
def event_time_text(moment: datetime) -> str:
    """`@timestamp` as every log event carries it: UTC, microseconds, `Z`. Cached: the events of one
    batch share their moment (LogEmitter.event's `timestamp`)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


_random_bits = random.getrandbits
_UUID4_VERSION_BITS = (4 << 76) | (0b10 << 62)
_UUID4_KEPT_BITS = ~((0xF << 76) | (0b11 << 62)) & ((1 << 128) - 1)


def new_event_id() -> str:
    """A random (version 4) UUID's text, the event's id (and its Elasticsearch `_id`). From Python's
    generator, as trace ids are (messaging.tracing): uuid.uuid4() makes a system call and a UUID
    object per event, a fifth of a batch's log-event CPU."""
    bits = (_random_bits(128) & _UUID4_KEPT_BITS) | _UUID4_VERSION_BITS
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class EventFields(TypedDict, total=False):
    """A log event's optional fields (LogEvent's), as LogEmitter.event and .emit take them: one list,
    so mypy checks every call of both."""

    outcome: Outcome
    level: str
    channel: str | None
    attempt: int | None
    recipient: str | None
    duration_ns: int | None
    error_type: str | None
    error_message: str | None
    labels: Mapping[str, str]
    id: str
    timestamp: datetime


@dataclass(frozen=True)
class LogEvent:
    action: Action
    service: str
    trace_id: str
    message: str
    outcome: Outcome = Outcome.UNKNOWN
    level: str = "info"
    message_id: str | None = None
    channel: str | None = None
    attempt: int | None = None
    # The raw recipient: rendered only through messaging.masking, as `labels.recipient`.
    recipient: str | None = None
    duration_ns: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    id: str = field(default_factory=new_event_id)
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_ecs(self) -> dict[str, Any]:
        event: dict[str, Any] = {"id": self.id, "action": self.action, "outcome": self.outcome.value}
        if self.duration_ns is not None:
            event["duration"] = self.duration_ns
        labels: dict[str, Any] = {**self.labels}
        for name, value in (("message_id", self.message_id), ("channel", self.channel), ("attempt", self.attempt)):
            if value is not None:
                labels[name] = value
        if self.recipient is not None:
            labels["recipient"] = recipient_for_logs(self.recipient)
        document: dict[str, Any] = {
            "@timestamp": event_time_text(self.timestamp),
            "event": event,
            "log": {"level": self.level},
            "service": {"name": self.service},
            "trace": {"id": self.trace_id},
            "message": self.message,
            "labels": labels,
        }
        if self.error_type or self.error_message:
            document["error"] = {"type": self.error_type or "", "message": self.error_message or ""}
        return document

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_ecs())


class InvalidLogEvent(ValueError):
    """A document that is no log event: no `event.action`, or no readable `@timestamp`."""


@dataclass(frozen=True)
class LoggedEvent:
    """A log event as read back from `logs.*` or Elasticsearch: what its readers need, typed.

    `action` is an Action's value, or an action this version does not know (an older or newer
    producer's), kept as it is so a timeline still shows it. `reported_status` is
    `labels.delivery_status` (a receipt's, or a skipped duplicate's record); `error` is
    `<type>: <message>`, or the message alone when it has no type."""

    timestamp: datetime
    service: str
    action: str
    outcome: Outcome
    attempt: int | None
    error: str | None
    reported_status: str | None = None
    provider: str | None = None  # `delivery.sent`: which of the channel's providers took it
    trace_id: str = ""
    message_id: str | None = None
    channel: str | None = None

    @classmethod
    def from_ecs(cls, document: Mapping[str, Any]) -> LoggedEvent:
        """Raises InvalidLogEvent; a field of the wrong type reads as absent."""
        event = document.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("action"), str):
            raise InvalidLogEvent("no event.action")
        try:
            timestamp = datetime.fromisoformat(str(document.get("@timestamp")).replace("Z", "+00:00"))
        except ValueError:
            raise InvalidLogEvent("@timestamp is not an ISO 8601 time") from None
        labels = _mapping(document.get("labels"))
        error = _mapping(document.get("error"))
        error_type, error_message = _text(error.get("type")), _text(error.get("message"))
        outcome = str(event.get("outcome"))
        return cls(
            timestamp=timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC),
            service=_text(_mapping(document.get("service")).get("name")) or "",
            action=event["action"],
            outcome=Outcome(outcome) if outcome in Outcome._value2member_map_ else Outcome.UNKNOWN,
            attempt=_count(labels.get("attempt")),
            error=f"{error_type}: {error_message}" if error_type and error_message else error_message,
            reported_status=_text(labels.get("delivery_status")),
            provider=_text(labels.get("provider")),
            trace_id=_text(_mapping(document.get("trace")).get("id")) or "",
            message_id=_text(labels.get("message_id")),
            channel=_text(labels.get("channel")),
        )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and value != "" else None


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


class LogEmitter:
    """Publishes one service's log events to its `logs.*` topic, keyed by message id."""

    def __init__(self, *, service: str, topic: str, producer: Producer | None = None) -> None:
        self.service = service
        self.topic = topic
        # `is None`, not `or`: a Producer with nothing queued has len() 0 and is falsy.
        self._producer = producer if producer is not None else build_log_producer()

    def event(
        self,
        action: Action,
        *,
        trace_id: str,
        message: str,
        message_id: str | uuid.UUID | None = None,
        **fields: Unpack[EventFields],
    ) -> LogEvent:
        """This service's event, not published yet (publish_many sends several together)."""
        return LogEvent(
            action=action,
            service=self.service,
            trace_id=trace_id,
            message=message,
            message_id=str(message_id) if message_id is not None else None,
            **fields,
        )

    def emit(
        self,
        action: Action,
        *,
        trace_id: str,
        message: str,
        message_id: str | uuid.UUID | None = None,
        **fields: Unpack[EventFields],
    ) -> LogEvent:
        """`event(...)`, published now."""
        event = self.event(action, trace_id=trace_id, message=message, message_id=message_id, **fields)
        self.publish(event)
        return event

    def publish(self, event: LogEvent) -> None:
        self.publish_many([event])

    def publish_many(self, events: Sequence[LogEvent]) -> None:
        """Queue the events in order; earlier delivery reports are served once, after the last."""
        producer, topic, on_delivery = self._producer, self.topic, self._on_delivery
        for event in events:
            key = (event.message_id or event.trace_id).encode()
            headers = build_headers(TraceContext.continuing(event.trace_id))
            produce_when_room(producer, topic, key=key, value=event.to_json(), headers=headers, on_delivery=on_delivery)
        producer.poll(0)  # serve earlier delivery reports without waiting

    def flush(self, timeout: float = 10.0) -> int:
        """Wait for queued events; returns how many are still unacknowledged."""
        return int(self._producer.flush(timeout))

    def unacknowledged(self) -> int:
        """Events queued or in flight, after serving the delivery reports already in (no wait)."""
        self._producer.poll(0)
        return len(self._producer)

    @staticmethod
    def _on_delivery(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            logger.error("log event to %s not delivered: %s", message.topic(), error)


def log_flusher(emitter: LogEmitter, timeout: float = 10.0) -> Callable[[bool], bool]:
    """A consumer's `before_commit`: offsets are stored only once every log event queued so far is
    acknowledged, so a crash after the commit cannot lose events of committed records."""

    def before_commit(block: bool) -> bool:
        if emitter.unacknowledged() == 0:
            return True
        if not block:
            return False
        unsent = emitter.flush(timeout)
        if unsent:
            logger.warning("%d log events not yet acknowledged: offsets stay unstored until they are", unsent)
        return unsent == 0

    return before_commit
