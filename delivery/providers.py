"""The provider interface every channel's senders implement, and the request/result it exchanges."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from messaging.envelope import MessageEnvelope


@dataclass(frozen=True)
class SendRequest:
    message_id: uuid.UUID
    trace_id: str
    to: str
    body: str
    subject: str | None
    metadata: Mapping[str, Any]
    attempt: int

    @property
    def idempotency_key(self) -> str:
        """Real providers (SES, Twilio, Meta) accept a client key and answer a repeated request with
        the first result; the message id is that key, so a redelivered record cannot send twice."""
        return str(self.message_id)

    @classmethod
    def from_envelope(cls, envelope: MessageEnvelope) -> SendRequest:
        return cls(
            message_id=envelope.id,
            trace_id=envelope.trace_id,
            to=envelope.to,
            body=envelope.body,
            subject=envelope.subject,
            metadata=envelope.metadata,
            attempt=envelope.attempt,
        )


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str


class Provider(ABC):
    """Sends one message through an external service.

    Instances are shared by all of a worker's threads, so `send` must be thread-safe.
    """

    @abstractmethod
    def send(self, request: SendRequest) -> SendResult:
        """Perform the send and return the provider's message id.

        Blocks for the provider round trip (it runs on a worker thread, never on the consume loop).
        Must honour `request.idempotency_key`: a repeated key returns the first result and sends
        nothing. Raises TransientProviderError when a later attempt may succeed and
        PermanentProviderError when none can; any other exception is treated as transient.
        """
