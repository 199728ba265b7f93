"""Reads of the router database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from delivery.models import DeliveryStatus
from delivery.registry import get_channel
from logging_service.timeline import MessageStatus
from operations.metrics import OUTBOX
from router.domain import Client
from router.models import IdempotencyRecord, Message, OutboxEntry


def message_get(*, message_id: uuid.UUID, client: Client) -> Message | None:
    """A message the client may see: its own, or any for staff."""
    messages = Message.objects.all() if client.is_staff else Message.objects.filter(client=client.id)
    return messages.filter(pk=message_id).first()


def idempotency_record_get(*, client: Client, key: str, not_before: datetime) -> IdempotencyRecord | None:
    return (
        IdempotencyRecord.objects.select_related("message")
        .filter(client=client.id, key=key, created_at__gte=not_before)
        .first()
    )


def outbox_pending_list(*, created_before: datetime, limit: int, lock: bool = False) -> list[OutboxEntry]:
    """Unpublished entries, oldest first. With `lock` (inside a transaction), rows another relay holds
    are skipped and these stay locked until the transaction ends (SELECT … FOR UPDATE SKIP LOCKED)."""
    entries = OutboxEntry.objects.filter(
        published_at__isnull=True, failed_at__isnull=True, created_at__lt=created_before
    ).select_related("message")
    if lock:
        entries = entries.select_for_update(skip_locked=True, of=("self",))
    return list(entries.order_by("created_at", "pk")[:limit])


def outbox_report() -> None:
    """comms_outbox_entries: entries waiting for the relay, and those Kafka refused for good."""
    pending = OutboxEntry.objects.filter(published_at__isnull=True, failed_at__isnull=True).count()
    OUTBOX.labels(state="pending").set(pending)
    OUTBOX.labels(state="failed").set(OutboxEntry.objects.filter(failed_at__isnull=False).count())


@dataclass(frozen=True)
class DeliveryState:
    status: MessageStatus
    attempts: int


def delivery_state_get(*, message: Message) -> DeliveryState | None:
    """The message's status as its channel's delivery record has it, None before the channel saw it.

    The record is written before the events that tell of it are even emitted, and those reach
    Elasticsearch a moment later (the indexer's batch, the index refresh): the record is the fresher
    source, so the API's status comes from it when there is one (DESIGN §7)."""
    spec = get_channel(message.channel)
    row = (
        spec.record_model.objects.using(spec.database)
        .filter(message_id=message.id)
        .values_list("status", "current_attempt", "attempt_count")
        .first()
    )
    if row is None:
        return None
    status, current_attempt, attempts = row
    if status == DeliveryStatus.PENDING:
        # A retry is due (or a replay reopened it: no attempt yet in this round).
        state = MessageStatus.RETRYING if current_attempt > 0 else MessageStatus.PENDING
    elif status == DeliveryStatus.SENDING:
        state = MessageStatus.PENDING
    else:
        state = MessageStatus(status) if status in MessageStatus._value2member_map_ else MessageStatus.PENDING
    return DeliveryState(status=state, attempts=attempts)
