"""The message envelope carried on `send.*` topics (docs/architecture.md), and its strict decoder."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import orjson

from messaging.channels import Channel
from messaging.errors import InvalidMessage
from messaging.priorities import Priority
from messaging.tracing import TRACE_ID

SCHEMA = "message/v1"


@functools.lru_cache(maxsize=64)
def utc_text(moment: datetime) -> str:
    """A moment as the envelope and the API write it: UTC, `Z`. Cached: the messages of a batch share
    their moments (created, expires)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class MessageEnvelope:
    id: uuid.UUID
    trace_id: str
    channel: Channel
    to: str
    body: str
    created_at: datetime
    subject: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))
    attempt: int = 1
    html: str | None = None  # email only: the HTML alternative of `body`
    # Not handed to a provider after this: the record ends `expired`. None: never expires (an envelope
    # from before expiry existed; the router always sets it now, given or createdAt/sendAt + the TTL).
    expires_at: datetime | None = None
    priority: Priority = Priority.NORMAL

    @property
    def key(self) -> bytes:
        """Kafka key: the message id, so every record of one message stays in one partition."""
        return str(self.id).encode()

    def with_attempt(self, attempt: int) -> MessageEnvelope:
        return replace(self, attempt=attempt)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "id": str(self.id),
            "traceId": self.trace_id,
            "channel": self.channel.value,
            "to": self.to,
            "body": self.body,
            "metadata": dict(self.metadata),
            "createdAt": utc_text(self.created_at),
            "attempt": self.attempt,
            "priority": self.priority.value,
        }
        if self.expires_at is not None:
            data["expiresAt"] = utc_text(self.expires_at)
        if self.subject is not None:
            data["subject"] = self.subject
        if self.html is not None:
            data["html"] = self.html
        return data

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_json(cls, raw: bytes | None) -> MessageEnvelope:
        """Decode and validate a record value; anything unusable raises InvalidMessage."""
        if not raw:
            raise InvalidMessage("empty record value")
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise InvalidMessage(f"value is not JSON: {error}") from None
        if not isinstance(data, dict):
            raise InvalidMessage("value is not a JSON object")
        if data.get("schema") != SCHEMA:
            raise InvalidMessage(f"unknown schema {data.get('schema')!r}, expected {SCHEMA!r}")
        return cls._from_dict(data)

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> MessageEnvelope:
        try:
            message_id = uuid.UUID(str(data["id"]))
            trace_id = str(data["traceId"])
            channel = Channel(data["channel"])
            to, body = data["to"], data["body"]
            created_at = _parse_time(data["createdAt"])
            attempt = data.get("attempt", 1)
            subject = data.get("subject")
            html = data.get("html")
            metadata = data.get("metadata") or {}
            # Both optional: envelopes written before they existed decode as normal, never expiring.
            priority = Priority(data.get("priority", Priority.NORMAL))
            expires_text = data.get("expiresAt")
            expires_at = (
                None if expires_text is None else datetime.fromisoformat(str(expires_text).replace("Z", "+00:00"))
            )
        except KeyError as error:
            raise InvalidMessage(f"missing field {error.args[0]!r}") from None
        except ValueError as error:
            raise InvalidMessage(f"invalid field value: {error}") from None
        if not TRACE_ID.match(trace_id):
            raise InvalidMessage("traceId is not 32 lowercase hex characters")
        if not isinstance(to, str) or not isinstance(body, str):
            raise InvalidMessage("`to` and `body` must be strings")
        if subject is not None and not isinstance(subject, str):
            raise InvalidMessage("`subject` must be a string")
        if html is not None and not isinstance(html, str):
            raise InvalidMessage("`html` must be a string")
        if not isinstance(metadata, dict):
            raise InvalidMessage("`metadata` must be an object")
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
            raise InvalidMessage("`attempt` must be a positive integer")
        if created_at.tzinfo is None:
            raise InvalidMessage("`createdAt` must carry a UTC offset")
        if expires_at is not None and expires_at.tzinfo is None:
            raise InvalidMessage("`expiresAt` must carry a UTC offset")
        return cls(
            id=message_id,
            trace_id=trace_id,
            channel=channel,
            to=to,
            body=body,
            created_at=created_at,
            subject=subject,
            metadata=_frozen(metadata),
            attempt=attempt,
            html=html,
            expires_at=expires_at,
            priority=priority,
        )
