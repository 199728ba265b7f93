"""The provider interface every channel's senders implement, and the request it sends."""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from delivery.decisions import CallResult
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
    html: str | None = None  # email: the HTML alternative part

    @property
    def idempotency_key(self) -> str:
        """The message id. Only a provider whose `idempotent` flag is set promises to answer a
        repeated key with the first result; SMTP, Twilio, SES and Meta's API do not."""
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
            html=envelope.html,
        )


class ProviderPool(ThreadPoolExecutor):
    """The threads a worker's provider calls run on, `size` of them at a time."""

    def __init__(self, size: int) -> None:
        super().__init__(max_workers=size, thread_name_prefix="provider")
        self.size = size


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str


class Provider(ABC):
    """Sends messages through an external service.

    One instance serves a worker process; `send` runs on the worker's provider pool, several at a
    time, so it must be thread-safe.
    """

    # True when a repeated `idempotency_key` sends nothing again: after a worker died mid-send, the
    # message is then always resent (safely) whatever `<CHANNEL>_ON_UNKNOWN_OUTCOME` says.
    idempotent: bool = False
    # How the channel's settings name it (delivery.provider_lists); each CallResult carries it.
    name: str = ""

    @abstractmethod
    def send(self, request: SendRequest) -> SendResult:
        """Perform one send and return the provider's message id.

        Blocks for the provider round trip. Raises TransientProviderError when a later attempt may
        succeed and PermanentProviderError when none can; any other exception counts as transient.
        """

    def next_provider(self) -> str:
        """The name of the provider the next calls go to, whose rate limit they take from (a failover
        composite answers for the provider its breakers would pick); never blocks, changes nothing."""
        return self.name

    def send_many(self, requests: Sequence[SendRequest], pool: ProviderPool) -> list[CallResult]:
        """Send a batch concurrently on `pool`; one CallResult per request, in order. Never raises:
        a failed call is a CallResult with its error. Providers with a cheaper batch path override it."""
        if len(requests) == 1:
            return [self.call(requests[0])]
        return list(pool.map(self.call, requests))

    def call(self, request: SendRequest) -> CallResult:
        """`send`, timed, with its error as a value."""
        started_at, clock = datetime.now(UTC), time.perf_counter_ns()
        try:
            result = self.send(request)
        except Exception as error:
            return CallResult(
                started_at=started_at, duration_ns=time.perf_counter_ns() - clock, error=error, provider=self.name
            )
        return CallResult(
            started_at=started_at,
            duration_ns=time.perf_counter_ns() - clock,
            provider_message_id=result.provider_message_id,
            provider=self.name,
        )
