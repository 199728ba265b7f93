"""Writes of the router: accept messages durably (router.publishing says what a 202 waits for),
remember Idempotency-Keys, and relay what Kafka did not take at once.

Without an Idempotency-Key, a message is its index row plus its Kafka record (or, when Kafka does
not acknowledge in time, an outbox entry). With one, the message, its outbox entry and the key are
committed together first — so a concurrent twin finds the key — then the entry is published through
the same producer; what Kafka does not acknowledge stays for `relay_outbox`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from confluent_kafka import Producer
from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db import router as db_router
from django.utils import timezone

from config.db_writes import write_transaction
from delivery.segments import message_segments
from messaging.channels import Channel
from messaging.envelope import MessageEnvelope
from messaging.headers import build_headers
from messaging.publisher import OutgoingRecord, publish_all
from messaging.topics import send_topic
from messaging.tracing import TraceContext
from router.domain import Client, MessageRequest
from router.errors import IdempotencyConflict
from router.kafka import api_acks, router_log, router_rows
from router.models import IdempotencyRecord, Message, OutboxEntry
from router.outbox import outbox_entries_settle, outbox_record
from router.publishing import PreparedMessage, messages_accepted, messages_make_durable
from router.selectors import idempotency_record_get, outbox_pending_list
from router.serializers import AcceptedMessage


@dataclass(frozen=True)
class Acceptance:
    message: AcceptedMessage
    replayed: bool = False  # True: an earlier request with the same Idempotency-Key, nothing re-sent


@dataclass(frozen=True)
class RelayResult:
    published: int
    failed: int


def _database() -> str:
    return db_router.db_for_write(Message)


def message_prepare(*, request: MessageRequest, client: Client, trace: TraceContext) -> PreparedMessage:
    """The message's index row and its record; the envelope is rendered once, as it will be produced,
    onto the lane of its priority (the outbox keeps that topic, so the relay publishes there too).

    The default TTL is applied here rather than by the worker: the envelope then carries the one
    expiry every reader uses (GET shows it, the worker decides by it), fixed when the client was
    answered."""
    created_at = timezone.now()
    default_ttl = timedelta(seconds=settings.DELIVERY_DEFAULT_TTL_SECONDS[request.channel.value])
    envelope = MessageEnvelope(
        id=uuid.uuid4(),
        trace_id=trace.trace_id,
        channel=request.channel,
        to=request.to,
        body=request.body,
        subject=request.subject,
        metadata=request.metadata,
        created_at=created_at,
        html=request.html,
        expires_at=request.effective_expiry(accepted_at=created_at, default_ttl=default_ttl),
        priority=request.priority,
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


def _make_durable(prepared: Sequence[PreparedMessage]) -> None:
    """Scheduled messages into the outbox, due at their sendAt (the relay publishes them then);
    the others to Kafka at once (router.publishing)."""
    scheduled = [message for message in prepared if message.send_at is not None]
    if scheduled:
        with write_transaction(_database()):
            _store_with_outbox(scheduled)
        messages_accepted(scheduled, log=router_log())
    now = [message for message in prepared if message.send_at is None]
    messages_make_durable(
        prepared=now,
        acks=api_acks(),
        rows=router_rows(),
        log=router_log(),
        timeout=settings.ROUTER_PUBLISH_TIMEOUT_SECONDS,
    )


def _store_with_outbox(prepared: Sequence[PreparedMessage]) -> list[OutboxEntry]:
    """Message rows and outbox entries (inside the caller's transaction), the entries ready to publish."""
    messages = [Message(**message.index_row()) for message in prepared]
    entries = [
        OutboxEntry(message=row, **{k: v for k, v in message.outbox_row(error="").items() if k != "message_id"})
        for row, message in zip(messages, prepared, strict=True)
    ]
    for entry in entries:
        entry.attempts = 0
    Message.objects.bulk_create(messages)
    OutboxEntry.objects.bulk_create(entries)
    return entries


def _publish_committed(prepared: Sequence[PreparedMessage], entries: Sequence[OutboxEntry]) -> None:
    """After the commit: the entries through the API's producer, settled (scheduled ones stay for
    the relay, due at their sendAt); then `message.accepted`."""
    due_now = [entry for message, entry in zip(prepared, entries, strict=True) if message.send_at is None]
    outbox_publish(entries=due_now, producer=api_acks().producer, timeout=settings.ROUTER_PUBLISH_TIMEOUT_SECONDS)
    messages_accepted(prepared, log=router_log())


def _idempotency_record(*, client: Client, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """The live record of this key with this request's fingerprint, None when there is none; another
    fingerprint (another body, or a single request's key reused for a batch) is a conflict."""
    not_before = timezone.now() - timedelta(hours=settings.ROUTER_IDEMPOTENCY_TTL_HOURS)
    record = idempotency_record_get(client=client, key=key, not_before=not_before)
    if record is None:
        # An expired record would still hold the unique (client, key) slot. Only an expired one: on
        # PostgreSQL a concurrent twin may have committed its live record since the read above, and
        # deleting it would let this request publish a second message (seen in
        # test_concurrent_requests_with_one_key_publish_once); its unique key stops this one instead.
        IdempotencyRecord.objects.filter(client=client.id, key=key, created_at__lt=not_before).delete()
        return None
    if record.fingerprint != fingerprint:
        raise IdempotencyConflict(key)
    return record


def _idempotent_replay(*, client: Client, key: str, fingerprint: str) -> Message | None:
    record = _idempotency_record(client=client, key=key, fingerprint=fingerprint)
    if record is not None and record.message is None:
        raise IdempotencyConflict(key)  # the key answered a batch
    return None if record is None else record.message


def _idempotent_batch_replay(*, client: Client, key: str, fingerprint: str) -> dict[str, Any] | None:
    record = _idempotency_record(client=client, key=key, fingerprint=fingerprint)
    if record is not None and record.response is None:
        raise IdempotencyConflict(key)  # the key answered a single request
    return None if record is None else record.response


def outbox_publish(*, entries: Sequence[OutboxEntry], producer: Producer, timeout: float) -> RelayResult:
    """Produce the entries in one flush and wait for the acks; settle them (router.outbox)."""
    if not entries:
        return RelayResult(published=0, failed=0)
    errors = publish_all(producer, [outbox_record(entry) for entry in entries], timeout)
    acked = [entry for entry, error in zip(entries, errors, strict=True) if error is None]
    failed = [(entry, error) for entry, error in zip(entries, errors, strict=True) if error is not None]
    outbox_entries_settle(acked=acked, failed=failed, log=router_log())
    return RelayResult(published=len(acked), failed=len(failed))


def message_accept(
    *, request: MessageRequest, client: Client, trace: TraceContext, idempotency_key: str | None = None
) -> Acceptance:
    """Accept one message; returns once it is durable (router.publishing).

    With an Idempotency-Key an earlier acceptance of the same request is returned instead (nothing
    published again); the same key with another body raises IdempotencyConflict.
    """
    prepared = message_prepare(request=request, client=client, trace=trace)
    if idempotency_key is None:
        _make_durable([prepared])
        return Acceptance(message=prepared)
    fingerprint = request.fingerprint()
    try:
        # On SQLite the transaction starts with BEGIN IMMEDIATE, so concurrent twins queue here and
        # the second one finds the first one's record.
        with write_transaction(_database()):
            earlier = _idempotent_replay(client=client, key=idempotency_key, fingerprint=fingerprint)
            if earlier is not None:
                return Acceptance(message=earlier, replayed=True)
            entries = _store_with_outbox([prepared])
            IdempotencyRecord.objects.create(
                client=client.id,
                key=idempotency_key,
                fingerprint=fingerprint,
                message=entries[0].message,
                created_at=prepared.created_at,
            )
    except IntegrityError:
        # Databases with real concurrent writers (Postgres): the twin committed first and the
        # unique (client, key) constraint stopped this one.
        with write_transaction(_database()):
            earlier = _idempotent_replay(client=client, key=idempotency_key, fingerprint=fingerprint)
        if earlier is None:
            raise
        return Acceptance(message=earlier, replayed=True)
    _publish_committed([prepared], entries)
    return Acceptance(message=prepared)


@dataclass(frozen=True)
class BatchAcceptance:
    body: dict[str, Any]
    replayed: bool = False  # an earlier batch with the same Idempotency-Key: its response, nothing re-sent


def messages_accept_batch(
    *,
    requests: Sequence[MessageRequest],
    client: Client,
    respond: Callable[[Sequence[AcceptedMessage]], dict[str, Any]],
    idempotency: tuple[str, str] | None = None,
) -> BatchAcceptance:
    """Accept many requests; `respond` renders the response body from the accepted messages.

    With `idempotency` (key, fingerprint of the whole batch) the key covers the batch: the same key
    and body again answer the first response (nothing published again); another body raises
    IdempotencyConflict. Each message gets its own trace (DESIGN §7).
    """
    prepared = [message_prepare(request=request, client=client, trace=TraceContext.new()) for request in requests]
    if idempotency is None:
        _make_durable(prepared)
        return BatchAcceptance(body=respond(prepared))
    key, fingerprint = idempotency
    try:
        with write_transaction(_database()):
            earlier = _idempotent_batch_replay(client=client, key=key, fingerprint=fingerprint)
            if earlier is not None:
                return BatchAcceptance(body=earlier, replayed=True)
            entries = _store_with_outbox(prepared)
            body = respond(prepared)
            IdempotencyRecord.objects.create(
                client=client.id, key=key, fingerprint=fingerprint, response=body, created_at=timezone.now()
            )
    except IntegrityError:
        with write_transaction(_database()):  # a concurrent twin committed first (Postgres)
            earlier = _idempotent_batch_replay(client=client, key=key, fingerprint=fingerprint)
        if earlier is None:
            raise
        return BatchAcceptance(body=earlier, replayed=True)
    _publish_committed(prepared, entries)
    return BatchAcceptance(body=body)


def outbox_relay_pending(*, producer: Producer, batch_size: int, grace_seconds: float) -> RelayResult:
    """Publish one batch of due entries: scheduled ones whose sendAt has come, and those the API left
    unpublished (older than the grace period).

    On a database that can skip locked rows (PostgreSQL) the batch stays locked until it is settled,
    so any number of relays run side by side, each publishing other entries. SQLite has one writer
    and no row locks: holding its write lock through a publish would stall the API, so there the
    batch is not locked and one relay should run (two would publish some entries twice, which the
    workers deduplicate by message id)."""
    now = timezone.now()
    created_before = now - timedelta(seconds=grace_seconds)
    timeout = settings.KAFKA_DELIVERY_TIMEOUT_SECONDS
    database = _database()
    if not connections[database].features.has_select_for_update_skip_locked:
        entries = outbox_pending_list(due_by=now, created_before=created_before, limit=batch_size)
        return outbox_publish(entries=entries, producer=producer, timeout=timeout)
    with transaction.atomic(using=database):
        entries = outbox_pending_list(due_by=now, created_before=created_before, limit=batch_size, lock=True)
        return outbox_publish(entries=entries, producer=producer, timeout=timeout)
