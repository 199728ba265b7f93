"""The outbox: messages Kafka did not take at once (or not yet: scheduled ones, and those of a request
with an Idempotency-Key until Kafka acknowledged them), and their way to Kafka — the record produced
for an entry, settling entries once Kafka answered, and `relay_outbox`'s publishing of what is due
(router.accept.durability says when an entry is written)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from confluent_kafka import Producer
from django.conf import settings
from django.db import connections, transaction
from django.db import router as db_router
from django.db.models import F
from django.utils import timezone

from config.db_writes import write_transaction
from messaging.errors import PublishError
from messaging.lifecycle import Action
from messaging.log_events import LogEmitter, Outcome
from messaging.publisher import OutgoingRecord, publish_all
from router.kafka import router_log
from router.models import Message, OutboxEntry
from router.selectors import outbox_pending_list

if TYPE_CHECKING:
    from router.accept.prepare import PreparedMessage

logger = logging.getLogger(__name__)

LAST_ERROR_MAX_CHARS = 2000
# After a transient failure an entry is due again this much later, doubling with each failure up to
# the cap: entries that keep failing (a topic gone missing) move behind the others instead of filling
# every relay batch, and once Kafka takes them again the relay is back on them within the cap.
RELAY_RETRY_FIRST_SECONDS = 1.0
RELAY_RETRY_MAX_SECONDS = 10.0


def relay_retry_delay(failures: int) -> timedelta:
    """How long after its `failures`-th transient failure an entry is due again."""
    exponent = min(failures - 1, 16)  # beyond it the cap holds anyway; keeps the power small
    return timedelta(seconds=min(RELAY_RETRY_FIRST_SECONDS * 2**exponent, RELAY_RETRY_MAX_SECONDS))


def outbox_record(entry: OutboxEntry) -> OutgoingRecord:
    """The Kafka record of an entry, exactly as stored at accept time."""
    return OutgoingRecord(
        topic=entry.topic,
        key=entry.key.encode(),
        value=bytes(entry.value),
        headers=[(name, value.encode()) for name, value in entry.headers],
    )


def outbox_entries_settle(
    *, acked: Sequence[OutboxEntry], failed: Sequence[tuple[OutboxEntry, PublishError]], log: LogEmitter
) -> None:
    """Mark the acknowledged entries published (one UPDATE) and count a failed attempt on the others,
    which stay unpublished for `relay_outbox` — unless Kafka refused them for good (too large, a topic
    it may not write): those end failed, with their error, and are never tried again (one such entry
    must not hold the relay forever). Then log `message.published` / `message.failed` for each.

    Runs in one write transaction taken in turn with the process's other writers. Entries must have
    their `message` loaded (it is, for entries built at accept time or listed by the relay).
    """
    if not acked and not failed:
        return
    # One UPDATE per error text, and for transient ones per failure count (their next due time).
    by_error: dict[tuple[str, bool, int], list[int]] = defaultdict(list)
    for entry, error in failed:
        failures = 0 if error.permanent else entry.attempts + 1
        by_error[(str(error)[:LAST_ERROR_MAX_CHARS], error.permanent, failures)].append(entry.pk)
    now = timezone.now()
    with write_transaction(db_router.db_for_write(OutboxEntry)):
        if acked:
            # A relayed twin may have been marked first: keep its time.
            OutboxEntry.objects.filter(pk__in=[entry.pk for entry in acked], published_at__isnull=True).update(
                published_at=now
            )
        for (text, permanent, failures), pks in by_error.items():
            entries = OutboxEntry.objects.filter(pk__in=pks)
            if permanent:
                entries.update(attempts=F("attempts") + 1, last_error=text, failed_at=now)
            else:
                entries.update(attempts=F("attempts") + 1, last_error=text, due_at=now + relay_retry_delay(failures))
    for (text, permanent, _), pks in by_error.items():
        if permanent:
            logger.error("%d message(s) refused by Kafka for good (%s): failed", len(pks), text)
        else:
            logger.warning("%d message(s) not published yet (%s); left to the outbox relay", len(pks), text)
    for entry, error in failed:
        if error.permanent:
            log.emit(
                Action.MESSAGE_FAILED,
                trace_id=entry.message.trace_id,
                message_id=entry.message.id,
                channel=entry.message.channel,
                outcome=Outcome.FAILURE,
                level="error",
                message=f"Kafka refused the message for {entry.topic} for good",
                error_type="PublishError",
                error_message=str(error)[:LAST_ERROR_MAX_CHARS],
            )
    for entry in acked:
        log.emit(
            Action.MESSAGE_PUBLISHED,
            trace_id=entry.message.trace_id,
            message_id=entry.message.id,
            channel=entry.message.channel,
            outcome=Outcome.SUCCESS,
            message=f"published to {entry.topic}",
        )


def outbox_store(prepared: Sequence[PreparedMessage]) -> list[OutboxEntry]:
    """Message rows and their outbox entries, none tried yet (inside the caller's transaction)."""
    messages = [Message(**message.index_row()) for message in prepared]
    entries = [
        OutboxEntry(
            message=row, **{k: v for k, v in message.outbox_row(error="", attempts=0).items() if k != "message_id"}
        )
        for row, message in zip(messages, prepared, strict=True)
    ]
    Message.objects.bulk_create(messages)
    OutboxEntry.objects.bulk_create(entries)
    return entries


@dataclass(frozen=True)
class RelayResult:
    published: int
    failed: int


def outbox_publish(*, entries: Sequence[OutboxEntry], producer: Producer, timeout: float) -> RelayResult:
    """Produce the entries in one flush and wait for the acks; settle them."""
    if not entries:
        return RelayResult(published=0, failed=0)
    errors = publish_all(producer, [outbox_record(entry) for entry in entries], timeout)
    acked = [entry for entry, error in zip(entries, errors, strict=True) if error is None]
    failed = [(entry, error) for entry, error in zip(entries, errors, strict=True) if error is not None]
    outbox_entries_settle(acked=acked, failed=failed, log=router_log())
    return RelayResult(published=len(acked), failed=len(failed))


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
    database = db_router.db_for_write(OutboxEntry)
    if not connections[database].features.has_select_for_update_skip_locked:
        entries = outbox_pending_list(due_by=now, created_before=created_before, limit=batch_size)
        return outbox_publish(entries=entries, producer=producer, timeout=timeout)
    with transaction.atomic(using=database):
        entries = outbox_pending_list(due_by=now, created_before=created_before, limit=batch_size, lock=True)
        return outbox_publish(entries=entries, producer=producer, timeout=timeout)
