"""Idempotency-Keys: a request's key is committed with its messages' rows and outbox entries (its
step 1 of router.accept.durability), so a twin of the request — concurrent or later, within
ROUTER_IDEMPOTENCY_TTL_HOURS — finds it and is answered what the first was, nothing sent again. A key
answers one kind of request: a single message (the record keeps the message) or a batch (it keeps the
response); the same key with another body, or the other kind, is an IdempotencyConflict."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.db import router as db_router
from django.utils import timezone

from config.db_writes import write_transaction
from router.accept.outbox import outbox_store
from router.accept.prepare import AcceptedMessage, PreparedMessage
from router.domain import Client
from router.errors import IdempotencyConflict
from router.models import IdempotencyRecord, Message, OutboxEntry
from router.selectors import idempotency_record_get

# A batch's response, rendered from its accepted messages (stored with the key, answered again).
Respond = Callable[[Sequence[AcceptedMessage]], dict[str, Any]]


@dataclass(frozen=True)
class IdempotencyClaim:
    key: str
    fingerprint: str  # the request's identity: MessageRequest.fingerprint, or batch_fingerprint


@dataclass(frozen=True)
class Claimed:
    """The key is this request's: its messages' rows and outbox entries are committed with it."""

    entries: list[OutboxEntry]
    body: dict[str, Any] | None  # a batch's response, as recorded


@dataclass(frozen=True)
class Replay:
    """An earlier request had the key: its message (a single request) or its response (a batch)."""

    message: Message | None = None
    body: dict[str, Any] | None = None


def _record(*, client: Client, claim: IdempotencyClaim) -> IdempotencyRecord | None:
    """The live record of this key with this request's fingerprint, None when there is none; another
    fingerprint (another body, or a single request's key reused for a batch) is a conflict."""
    not_before = timezone.now() - timedelta(hours=settings.ROUTER_IDEMPOTENCY_TTL_HOURS)
    record = idempotency_record_get(client=client, key=claim.key, not_before=not_before)
    if record is None:
        # An expired record would still hold the unique (client, key) slot. Only an expired one: on
        # PostgreSQL a concurrent twin may have committed its live record since the read above, and
        # deleting it would let this request publish a second message (seen in
        # test_concurrent_requests_with_one_key_publish_once); its unique key stops this one instead.
        IdempotencyRecord.objects.filter(client=client.id, key=claim.key, created_at__lt=not_before).delete()
        return None
    if record.fingerprint != claim.fingerprint:
        raise IdempotencyConflict(claim.key)
    return record


def _replay(*, client: Client, claim: IdempotencyClaim, batch: bool) -> Replay | None:
    record = _record(client=client, claim=claim)
    if record is None:
        return None
    if (record.response is None) if batch else (record.message is None):
        raise IdempotencyConflict(claim.key)  # the key answered the other kind of request
    return Replay(body=record.response) if batch else Replay(message=record.message)


def idempotency_claim(
    *, prepared: Sequence[PreparedMessage], client: Client, claim: IdempotencyClaim, respond: Respond | None
) -> Claimed | Replay:
    """Commit the key with the messages' rows and outbox entries, or find the twin that holds it.
    `respond` marks a batch: its response is recorded with the key; a single request's key records
    its message. Raises IdempotencyConflict."""
    batch = respond is not None
    database = db_router.db_for_write(Message)
    try:
        # On SQLite the transaction starts with BEGIN IMMEDIATE, so concurrent twins queue here and
        # the second one finds the first one's record.
        with write_transaction(database):
            earlier = _replay(client=client, claim=claim, batch=batch)
            if earlier is not None:
                return earlier
            entries = outbox_store(prepared)
            body = respond(prepared) if respond is not None else None
            IdempotencyRecord.objects.create(
                client=client.id,
                key=claim.key,
                fingerprint=claim.fingerprint,
                message=None if batch else entries[0].message,
                response=body,
                created_at=timezone.now() if batch else prepared[0].created_at,
            )
    except IntegrityError:
        # Databases with real concurrent writers (Postgres): the twin committed first and the
        # unique (client, key) constraint stopped this one.
        with write_transaction(database):
            earlier = _replay(client=client, claim=claim, batch=batch)
        if earlier is None:
            raise
        return earlier
    return Claimed(entries=entries, body=body)
