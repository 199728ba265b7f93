"""Accepting messages: the services the API's views (and its lean front) call. Each prepares the
messages (router.accept.prepare) and makes them durable by the one protocol of
router.accept.durability; with an Idempotency-Key the key is claimed first (router.accept.idempotency).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from messaging.tracing import TraceContext
from router.accept.durability import AcceptClients, messages_make_durable
from router.accept.idempotency import IdempotencyClaim, Replay, Respond, idempotency_claim
from router.accept.prepare import AcceptedMessage, PreparedMessage, message_prepare
from router.domain import Client, MessageRequest
from router.kafka import api_acks, router_log, router_rows


@dataclass(frozen=True)
class Acceptance:
    message: AcceptedMessage
    replayed: bool = False  # True: an earlier request with the same Idempotency-Key, nothing re-sent


@dataclass(frozen=True)
class BatchAcceptance:
    body: dict[str, Any]
    replayed: bool = False  # an earlier batch with the same Idempotency-Key: its response, nothing re-sent


def accept_clients() -> AcceptClients:
    """This process's clients for the protocol (router.kafka)."""
    return AcceptClients(
        acks=api_acks(), rows=router_rows(), log=router_log(), timeout=settings.ROUTER_PUBLISH_TIMEOUT_SECONDS
    )


def _accepted(
    prepared: Sequence[PreparedMessage], *, client: Client, claim: IdempotencyClaim | None, respond: Respond | None
) -> Replay | dict[str, Any] | None:
    """Durable, by the one protocol; with a claim, unless a twin holds the key (then its Replay).
    Returns the batch's response recorded with the key, if any."""
    if claim is None:
        messages_make_durable(prepared=prepared, clients=accept_clients())
        return None
    outcome = idempotency_claim(prepared=prepared, client=client, claim=claim, respond=respond)
    if isinstance(outcome, Replay):
        return outcome
    messages_make_durable(prepared=prepared, clients=accept_clients(), committed=outcome.entries)
    return outcome.body


def message_accept(
    *, request: MessageRequest, client: Client, trace: TraceContext, idempotency_key: str | None = None
) -> Acceptance:
    """Accept one message; returns once it is durable.

    With an Idempotency-Key an earlier acceptance of the same request is returned instead (nothing
    published again); the same key with another body raises IdempotencyConflict.
    """
    prepared = message_prepare(request=request, client=client, trace=trace)
    claim = (
        None if idempotency_key is None else IdempotencyClaim(key=idempotency_key, fingerprint=request.fingerprint())
    )
    outcome = _accepted([prepared], client=client, claim=claim, respond=None)
    if isinstance(outcome, Replay):
        assert outcome.message is not None  # a single request's key keeps its message
        return Acceptance(message=outcome.message, replayed=True)
    return Acceptance(message=prepared)


def messages_accept_batch(
    *,
    requests: Sequence[MessageRequest],
    client: Client,
    respond: Respond,
    idempotency: IdempotencyClaim | None = None,
) -> BatchAcceptance:
    """Accept many requests; `respond` renders the response body from the accepted messages.

    With `idempotency` (the key and the fingerprint of the whole batch) the key covers the batch: the
    same key and body again answer the first response (nothing published again); another body raises
    IdempotencyConflict. Each message gets its own trace.
    """
    accepted_at = timezone.now()
    prepared = [
        message_prepare(request=request, client=client, trace=TraceContext.new(), accepted_at=accepted_at)
        for request in requests
    ]
    outcome = _accepted(prepared, client=client, claim=idempotency, respond=respond)
    if isinstance(outcome, Replay):
        assert outcome.body is not None  # a batch's key keeps its response
        return BatchAcceptance(body=outcome.body, replayed=True)
    return BatchAcceptance(body=outcome if outcome is not None else respond(prepared))
