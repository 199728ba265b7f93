"""POST /api/v1/messages/{id}/cancel: stop a message no provider has yet.

The decision is the channel's (delivery.services.delivery_cancel): its delivery record is what a
worker's claim reads in the same database, so a cancel and a claim cannot both win. The router then
drops the message's unpublished outbox entry (a scheduled message is never published) and notes
the cancel; should the relay publish the entry anyway (it read it a moment before), the worker
finds the canceled record and skips it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import router as db_router
from django.utils import timezone

from config.db_writes import write_transaction
from delivery.services import delivery_cancel
from messaging.lifecycle import Action, MessageStatus
from messaging.log_events import Outcome
from router.kafka import router_log
from router.models import Message, OutboxEntry
from router.selectors import router_status


@dataclass(frozen=True)
class Cancellation:
    canceled: bool
    status: MessageStatus  # canceled, or the status that refused it (pending = in flight, sent, …)


def message_cancel(*, message: Message) -> Cancellation:
    if router_status(message) is MessageStatus.FAILED:  # Kafka refused it for good: nothing to stop
        return Cancellation(canceled=False, status=MessageStatus.FAILED)
    result = delivery_cancel(
        channel=message.channel, message_id=message.id, trace_id=message.trace_id, recipient=message.recipient
    )
    if not result.canceled:
        return Cancellation(canceled=False, status=result.status)
    if message.canceled_at is None:
        now = timezone.now()
        with write_transaction(db_router.db_for_write(Message)):
            Message.objects.filter(pk=message.pk).update(canceled_at=now)
            OutboxEntry.objects.filter(message=message, published_at__isnull=True, failed_at__isnull=True).delete()
        message.canceled_at = now
        router_log().emit(
            Action.MESSAGE_CANCELED,
            trace_id=message.trace_id,
            message_id=message.id,
            channel=message.channel,
            outcome=Outcome.SUCCESS,
            message=f"{message.channel} message canceled by the client",
        )
    return Cancellation(canceled=True, status=MessageStatus.CANCELED)
