"""Reads of the router database; the channel databases are read through delivery.selectors."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from delivery import selectors as delivery_selectors
from delivery.selectors import DeliveryState, DeliveryTrace
from messaging.lifecycle import MessageStatus
from messaging.metrics import OUTBOX
from router.domain import Client
from router.models import IdempotencyRecord, Message, OutboxEntry, OutboxState, Template


def message_get(*, message_id: uuid.UUID, client: Client) -> Message | None:
    """A message the client may see: its own, or any for staff."""
    messages = Message.objects.all() if client.is_staff else Message.objects.filter(client=client.id)
    return messages.filter(pk=message_id).first()


def messages_list(*, client: Client, filters: dict[str, Any]) -> QuerySet[Message]:
    """The client's messages (staff: everyone's), newest first, narrowed by the listing's filters
    (channel, priority, to, since, until, template; `status` lives in the channel databases and is not here)."""
    messages = Message.objects.select_related("outbox_entry")
    if not client.is_staff:
        messages = messages.filter(client=client.id)
    if "channel" in filters:
        messages = messages.filter(channel=filters["channel"])
    if "priority" in filters:
        messages = messages.filter(priority=filters["priority"])
    if "to" in filters:
        messages = messages.filter(recipient=filters["to"])
    if "since" in filters:
        messages = messages.filter(created_at__gte=filters["since"])
    if "until" in filters:
        messages = messages.filter(created_at__lt=filters["until"])
    if "template" in filters:
        messages = messages.filter(template=filters["template"])
    return messages


def templates_list(*, client: Client) -> QuerySet[Template]:
    return Template.objects.filter(client=client.id)


def template_get(*, client: Client, name: str) -> Template | None:
    return Template.objects.filter(client=client.id, name=name).first()


def idempotency_record_get(*, client: Client, key: str, not_before: datetime) -> IdempotencyRecord | None:
    return (
        IdempotencyRecord.objects.select_related("message")
        .filter(client=client.id, key=key, created_at__gte=not_before)
        .first()
    )


def outbox_pending_list(
    *, due_by: datetime, created_before: datetime, limit: int, lock: bool = False
) -> list[OutboxEntry]:
    """Unpublished entries due by `due_by`, earliest due first: a scheduled one once its sendAt has
    come, any other once older than `created_before` (until then the API is still publishing it).
    With `lock` (inside a transaction), rows another relay holds are skipped and these stay locked
    until the transaction ends (SELECT … FOR UPDATE SKIP LOCKED)."""
    entries = (
        OutboxEntry.objects.filter(published_at__isnull=True, failed_at__isnull=True, due_at__lte=due_by)
        .filter(Q(message__send_at__isnull=False) | Q(created_at__lt=created_before))
        .select_related("message")
    )
    if lock:
        entries = entries.select_for_update(skip_locked=True, of=("self",))
    return list(entries.order_by("due_at", "pk")[:limit])


def outbox_next_due() -> datetime | None:
    """When the earliest unpublished entry is due (the relay sleeps until then, at most)."""
    return (
        OutboxEntry.objects.filter(published_at__isnull=True, failed_at__isnull=True)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )


def outbox_report() -> None:
    """comms_outbox_entries: entries waiting for the relay, and those Kafka refused for good."""
    pending = OutboxEntry.objects.filter(published_at__isnull=True, failed_at__isnull=True).count()
    OUTBOX.labels(state=OutboxState.PENDING).set(pending)
    OUTBOX.labels(state=OutboxState.FAILED).set(OutboxEntry.objects.filter(failed_at__isnull=False).count())


def delivery_states_get(*, messages: Iterable[Message]) -> dict[uuid.UUID, DeliveryState]:
    """The messages' statuses as their channels' delivery records have them (delivery.selectors, one
    query per channel); a message its channel has not seen yet is missing from the answer."""
    by_channel: dict[str, list[uuid.UUID]] = defaultdict(list)
    for message in messages:
        by_channel[message.channel].append(message.id)
    states: dict[uuid.UUID, DeliveryState] = {}
    for channel, ids in by_channel.items():
        states.update(delivery_selectors.delivery_states_get(channel=channel, message_ids=ids))
    return states


def delivery_trace_get(*, message: Message) -> DeliveryTrace | None:
    """The message's delivery record and attempts in its channel's database (None until the channel has seen it)."""
    return delivery_selectors.delivery_trace_get(channel=message.channel, message_id=message.id)


def delivery_state_get(*, message: Message) -> DeliveryState | None:
    return delivery_states_get(messages=[message]).get(message.id)


def router_status(message: Message) -> MessageStatus | None:
    """What the router's own rows say, for a message its channel has not seen: canceled, scheduled
    (due later, or due and not yet published), failed (Kafka refused it for good); None when they
    say nothing beyond `accepted`. Reads `message.outbox_entry` (select_related it for many)."""
    if message.canceled_at is not None:
        return MessageStatus.CANCELED
    try:
        entry: OutboxEntry | None = message.outbox_entry
    except OutboxEntry.DoesNotExist:  # a reverse one-to-one with no row
        entry = None
    if entry is not None and entry.failed_at is not None:
        return MessageStatus.FAILED
    if message.send_at is not None and (entry is None or entry.published_at is None):
        return MessageStatus.SCHEDULED
    return None


def message_state(
    message: Message, recorded: DeliveryState | None, *, events: DeliveryState | None = None
) -> DeliveryState:
    """A message's status and attempts from the freshest source that has them: its channel's delivery
    record (`recorded`, from delivery_states_get), then the router's own rows, then what its events in
    Elasticsearch add up to (`events`, when read), else `accepted`."""
    if recorded is not None:
        return recorded
    own = router_status(message)
    if own is not None:
        return DeliveryState(status=own, attempts=events.attempts if events is not None else 0)
    return events if events is not None else DeliveryState(status=MessageStatus.ACCEPTED, attempts=0)
