"""Writes of the router: accept messages durably (message + outbox in one transaction), hand them
to the process's outbox publisher once committed, and relay whatever that did not publish.

A 202 is durable once the accept transaction commits (DESIGN §7); the publisher produces without
waiting for Kafka and marks entries published in the background. Delivery is at least once: a row is
marked published only after Kafka's ack, so a crash between the ack and the mark publishes it again;
the channel workers absorb that by message id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from confluent_kafka import Producer
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db import router as db_router
from django.utils import timezone

from config.db_writes import write_transaction
from messaging.envelope import MessageEnvelope
from messaging.headers import build_headers, decode_headers
from messaging.log_events import Outcome
from messaging.publisher import publish_all
from messaging.topics import send_topic
from messaging.tracing import TraceContext
from router.domain import Client, MessageRequest
from router.errors import IdempotencyConflict
from router.kafka import api_publisher, router_log
from router.models import IdempotencyRecord, Message, OutboxEntry
from router.outbox import outbox_entries_settle, outbox_record
from router.selectors import idempotency_record_get, outbox_pending_list


@dataclass(frozen=True)
class Acceptance:
    message: Message
    replayed: bool = False  # True: an earlier request with the same Idempotency-Key, nothing re-sent


@dataclass(frozen=True)
class RelayResult:
    published: int
    failed: int


def _database() -> str:
    return db_router.db_for_write(Message)


def _message_build(*, request: MessageRequest, client: Client, trace: TraceContext) -> tuple[Message, OutboxEntry]:
    """Unsaved rows for one request; the envelope is rendered once and stored as produced."""
    envelope = MessageEnvelope(
        id=uuid.uuid4(),
        trace_id=trace.trace_id,
        channel=request.channel,
        to=request.to,
        body=request.body,
        subject=request.subject,
        metadata=request.metadata,
        created_at=timezone.now(),
    )
    message = Message(
        id=envelope.id,
        trace_id=envelope.trace_id,
        channel=envelope.channel.value,
        recipient=envelope.to,
        metadata=dict(envelope.metadata),
        client=client.id,
        created_at=envelope.created_at,
    )
    entry = OutboxEntry(
        message=message,
        topic=send_topic(envelope.channel),
        key=str(envelope.id),
        value=envelope.to_json(),
        headers=[[name, value] for name, value in decode_headers(build_headers(trace)).items()],
        created_at=envelope.created_at,
    )
    return message, entry


def _idempotency_record(*, client: Client, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """The live record of this key with this request's fingerprint, None when there is none; another
    fingerprint (another body, or a single request's key reused for a batch) is a conflict."""
    not_before = timezone.now() - timedelta(hours=settings.ROUTER_IDEMPOTENCY_TTL_HOURS)
    record = idempotency_record_get(client=client, key=key, not_before=not_before)
    if record is None:
        # An expired record would still hold the unique (client, key) slot.
        IdempotencyRecord.objects.filter(client=client.id, key=key).delete()
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


def _log_accepted(messages: Sequence[Message]) -> None:
    log = router_log()
    for message in messages:
        log.emit(
            "message.accepted",
            trace_id=message.trace_id,
            message_id=message.id,
            channel=message.channel,
            recipient=message.recipient,
            outcome=Outcome.SUCCESS,
            message=f"{message.channel} message accepted",
        )


def _publish_on_commit(messages: Sequence[Message], entries: Sequence[OutboxEntry]) -> None:
    """Once the accept transaction commits (at once when it is the outermost one, as in a request):
    log the acceptance, then hand the entries to the publisher, which does not wait for Kafka.
    Never before the commit: a record of a message that was rolled back would be sent."""

    def publish() -> None:
        _log_accepted(messages)  # first, so `message.accepted` precedes `message.published`
        api_publisher().submit(entries)

    # robust: the message is committed whatever happens here; an error must not turn its 202 into a
    # 500 (the client would send it again) and the relay publishes what was not handed over.
    transaction.on_commit(publish, using=_database(), robust=True)


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
    """Store the message and its outbox entry in one transaction; once it commits, publish without
    waiting for Kafka (the commit is what makes the 202 durable).

    With an Idempotency-Key an earlier acceptance of the same request is returned instead (nothing
    published again); the same key with another body raises IdempotencyConflict.
    """
    fingerprint = request.fingerprint()
    message, entry = _message_build(request=request, client=client, trace=trace)
    try:
        # On SQLite the transaction starts with BEGIN IMMEDIATE, so concurrent twins queue here and
        # the second one finds the first one's record.
        with write_transaction(_database()):
            if idempotency_key is not None:
                earlier = _idempotent_replay(client=client, key=idempotency_key, fingerprint=fingerprint)
                if earlier is not None:
                    return Acceptance(message=earlier, replayed=True)
            message.save(force_insert=True)
            entry.save(force_insert=True)
            if idempotency_key is not None:
                IdempotencyRecord.objects.create(
                    client=client.id,
                    key=idempotency_key,
                    fingerprint=fingerprint,
                    message=message,
                    created_at=message.created_at,
                )
            _publish_on_commit([message], [entry])
    except IntegrityError:
        # Databases with real concurrent writers (Postgres): the twin committed first and the
        # unique (client, key) constraint stopped this one.
        if idempotency_key is None:
            raise
        with write_transaction(_database()):
            earlier = _idempotent_replay(client=client, key=idempotency_key, fingerprint=fingerprint)
        if earlier is None:
            raise
        return Acceptance(message=earlier, replayed=True)
    return Acceptance(message=message)


@dataclass(frozen=True)
class BatchAcceptance:
    body: dict[str, Any]
    replayed: bool = False  # an earlier batch with the same Idempotency-Key: its response, nothing re-sent


def messages_accept_batch(
    *,
    requests: Sequence[MessageRequest],
    client: Client,
    respond: Callable[[Sequence[Message]], dict[str, Any]],
    idempotency: tuple[str, str] | None = None,
) -> BatchAcceptance:
    """Accept many requests in one transaction; once it commits, publish them as a single request does.
    `respond` renders the response body from the accepted messages.

    With `idempotency` (key, fingerprint of the whole batch) the key covers the batch: the same key
    and body again answer the first response (nothing published again); another body raises
    IdempotencyConflict. Each message gets its own trace (DESIGN §7).
    """
    built = [_message_build(request=request, client=client, trace=TraceContext.new()) for request in requests]
    messages = [message for message, _ in built]
    entries = [entry for _, entry in built]
    try:
        with write_transaction(_database()):
            if idempotency is not None:
                earlier = _idempotent_batch_replay(client=client, key=idempotency[0], fingerprint=idempotency[1])
                if earlier is not None:
                    return BatchAcceptance(body=earlier, replayed=True)
            Message.objects.bulk_create(messages)
            OutboxEntry.objects.bulk_create(entries)
            body = respond(messages)
            if idempotency is not None:
                IdempotencyRecord.objects.create(
                    client=client.id,
                    key=idempotency[0],
                    fingerprint=idempotency[1],
                    response=body,
                    created_at=timezone.now(),
                )
            _publish_on_commit(messages, entries)
    except IntegrityError:
        if idempotency is None:
            raise
        with write_transaction(_database()):  # a concurrent twin committed first (Postgres)
            earlier = _idempotent_batch_replay(client=client, key=idempotency[0], fingerprint=idempotency[1])
        if earlier is None:
            raise
        return BatchAcceptance(body=earlier, replayed=True)
    return BatchAcceptance(body=body)


def outbox_relay_pending(*, producer: Producer, batch_size: int, grace_seconds: float) -> RelayResult:
    """Publish one batch of entries the API left unpublished (older than the grace period)."""
    created_before = timezone.now() - timedelta(seconds=grace_seconds)
    entries = outbox_pending_list(created_before=created_before, limit=batch_size)
    return outbox_publish(entries=entries, producer=producer, timeout=settings.KAFKA_DELIVERY_TIMEOUT_SECONDS)
