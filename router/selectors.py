"""Reads of the router database."""

from __future__ import annotations

import uuid
from datetime import datetime

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


def outbox_pending_list(*, created_before: datetime, limit: int) -> list[OutboxEntry]:
    """Unpublished entries, oldest first."""
    return list(
        OutboxEntry.objects.filter(published_at__isnull=True, failed_at__isnull=True, created_at__lt=created_before)
        .select_related("message")
        .order_by("created_at", "pk")[:limit]
    )


def outbox_report() -> None:
    """comms_outbox_entries: entries waiting for the relay, and those Kafka refused for good."""
    pending = OutboxEntry.objects.filter(published_at__isnull=True, failed_at__isnull=True).count()
    OUTBOX.labels(state="pending").set(pending)
    OUTBOX.labels(state="failed").set(OutboxEntry.objects.filter(failed_at__isnull=False).count())
