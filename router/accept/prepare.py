"""A valid request made into what is accepted: its envelope, rendered once as Kafka will carry it,
and its index row. The size check lives here, beside the envelope it measures: a request whose
envelope Kafka could not take is refused at validation, so a 202 never promises what Kafka refuses."""

from __future__ import annotations

import functools
import itertools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.utils import timezone

from delivery.segments import message_segments
from messaging.channels import Channel
from messaging.dead_letters import DEAD_LETTER_ERROR_MAX_BYTES
from messaging.envelope import MessageEnvelope
from messaging.headers import build_headers
from messaging.priorities import Priority
from messaging.publisher import OutgoingRecord
from messaging.topics import send_topic
from messaging.tracing import TraceContext
from router.accept.rules import METADATA_MAX_BYTES, InvalidMessage
from router.domain import Client, MessageRequest
from router.models import Message


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

    def outbox_row(self, *, error: str, attempts: int = 1) -> dict[str, Any]:
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
            "attempts": attempts,
            "last_error": error[:2000],
        }


def _text(value: str | bytes | None) -> str:
    return value.decode() if isinstance(value, bytes) else value or ""


# An accepted message as the API answers about it: just prepared, or an earlier one (a replay).
AcceptedMessage = PreparedMessage | Message


def _envelope(
    request: MessageRequest, *, id: uuid.UUID, trace_id: str, created_at: datetime, expires_at: datetime
) -> MessageEnvelope:
    return MessageEnvelope(
        id=id,
        trace_id=trace_id,
        channel=request.channel,
        to=request.to,
        body=request.body,
        subject=request.subject,
        metadata=request.metadata,
        created_at=created_at,
        html=request.html,
        expires_at=expires_at,
        priority=request.priority,
    )


def message_prepare(
    *, request: MessageRequest, client: Client, trace: TraceContext, accepted_at: datetime | None = None
) -> PreparedMessage:
    """The message's index row and its record; the envelope is rendered once, as it will be produced,
    onto the lane of its priority (the outbox keeps that topic, so the relay publishes there too).
    `accepted_at`: the moment of the accept (a batch's messages share one); now when not given.

    The default TTL is applied here rather than by the worker: the envelope then carries the one
    expiry every reader uses (GET shows it, the worker decides by it), fixed when the client was
    answered."""
    created_at = accepted_at or timezone.now()
    default_ttl = timedelta(seconds=settings.DELIVERY_DEFAULT_TTL_SECONDS[request.channel.value])
    expires_at = request.effective_expiry(accepted_at=created_at, default_ttl=default_ttl)
    envelope = _envelope(
        request, id=uuid.uuid4(), trace_id=trace.trace_id, created_at=created_at, expires_at=expires_at
    )
    topic = send_topic(envelope.channel, envelope.priority)
    record = OutgoingRecord(topic, envelope.key, envelope.to_json(), build_headers(trace))
    return PreparedMessage(
        id=envelope.id,
        trace_id=envelope.trace_id,
        channel=envelope.channel.value,
        recipient=envelope.to,
        metadata=envelope.metadata,
        client=client.id,
        created_at=envelope.created_at,
        record=record,
        send_at=request.send_at,
        template=request.template.name if request.template else "",
        template_version=request.template.version if request.template else None,
        priority=envelope.priority.value,
        expires_at=envelope.expires_at,
        segments=None if envelope.channel is Channel.EMAIL else message_segments(envelope.body),
    )


# What a message's records add to the request's own fields, generously: ids, trace id, timestamps
# and attempt count in the envelope; the trace and content-type headers; on the way, a retry's due
# time or a dead letter's headers (its error text at most DEAD_LETTER_ERROR_MAX_BYTES); Kafka's
# framing. So the last record of a message that fails for good, its dead letter, fits too.
_RECORD_OVERHEAD_BYTES = 1024 + DEAD_LETTER_ERROR_MAX_BYTES
_PLACEHOLDER_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)


# What one character can take in the envelope's JSON: `\u0001` (orjson writes other characters as
# at most 4 bytes of UTF-8; lone surrogates are refused by the rules).
_MAX_BYTES_PER_CHARACTER = 6


@functools.cache
def _envelope_frame_bytes() -> int:
    """The envelope's JSON without its texts and metadata, the longest channel and priority."""
    return max(
        len(_placeholder(MessageRequest(channel=channel, to="", body="", subject="", html="", priority=priority)))
        for channel, priority in itertools.product(Channel, Priority)
    )


def _placeholder(request: MessageRequest) -> bytes:
    envelope = _envelope(
        request,
        id=uuid.UUID(int=0),
        trace_id="0" * 32,
        created_at=_PLACEHOLDER_MOMENT,
        expires_at=_PLACEHOLDER_MOMENT,  # always set at accept: given, or the default TTL's
    )
    return envelope.to_json()


def envelope_fits_check(request: MessageRequest) -> None:
    """The envelope as Kafka will carry it (JSON escaping included: 256 KiB of U+0001 is 1.5 MB as
    JSON) must fit the producer's record limit, or a 202 would promise what Kafka never takes. Run at
    validation (router.accept.requests), so an oversized message is a field's 400, or one rejected
    item of a batch; raises InvalidMessage naming the largest field.

    The envelope is only encoded when a bound from the texts' lengths could pass the limit: the
    rules' METADATA_MAX_BYTES bounds the metadata, every character takes at most
    _MAX_BYTES_PER_CHARACTER, so a typical message is known to fit without writing it twice."""
    limit = int(settings.KAFKA_MAX_MESSAGE_BYTES)
    characters = len(request.to) + len(request.body) + len(request.subject or "") + len(request.html or "")
    bound = _envelope_frame_bytes() + METADATA_MAX_BYTES + characters * _MAX_BYTES_PER_CHARACTER
    if bound + _RECORD_OVERHEAD_BYTES <= limit:
        return
    size = len(_placeholder(request)) + _RECORD_OVERHEAD_BYTES
    if size <= limit:
        return
    fields = {
        "body": request.body,
        "subject": request.subject or "",
        "html": request.html or "",
        "metadata": dict(request.metadata),
    }
    largest = max(fields, key=lambda name: len(orjson.dumps(fields[name])))
    raise InvalidMessage(
        {largest: [f"The message would be {size} bytes as sent (JSON-escaped); the limit is {limit} bytes."]}
    )
