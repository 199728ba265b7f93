"""Delivery receipts: what a provider reports after it accepted a message (Twilio's StatusCallback,
an ESP's tracking webhook) moves the record from `sent` to `delivered`, `undelivered`, `bounced` or
`complained`, and says so in a `delivery.status_reported` log event; a bounce or a complaint puts the
recipient on the channel's suppression list.

Receipts arrive out of order and more than once (Twilio posts `sent` after `delivered` at times), so
a record moves only to a receipt status; `delivered` may still become `undelivered`/`bounced` (a
later bounce), never the other way round. A record is found by the provider's message id the worker
wrote with `sent`, or by our message id in the callback when the worker has not written one: the
receipt came before the worker's outcome (Twilio posts while our call to it returns), or our call
failed for us (a timeout) while Twilio took the message. Such a record, still `sending` or waiting for
its retry, takes the receipt's status; the worker's outcome write leaves a receipt status in place,
and a retry finds the message final and sends nothing (deliveries_record_outcomes, claim_action).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from delivery.events import DeliveryLog
from delivery.models import DeliveryStatus, SuppressionReason
from delivery.registry import ChannelSpec
from delivery.suppressions import suppression_add

RECEIPT_STATUSES = (
    DeliveryStatus.DELIVERED,
    DeliveryStatus.UNDELIVERED,
    DeliveryStatus.BOUNCED,
    DeliveryStatus.COMPLAINED,
)
_SUPPRESSES = {
    DeliveryStatus.BOUNCED: SuppressionReason.BOUNCED,
    DeliveryStatus.COMPLAINED: SuppressionReason.COMPLAINED,
}
# A record not yet `sent` as far as we know — its call under way, or failed for us (a timeout) and
# waiting for its retry, held as unknown, dead-lettered — found by our message id: the provider took
# a send of it, and its receipt is the truth.
_UNCONFIRMED = (DeliveryStatus.SENDING, DeliveryStatus.PENDING, DeliveryStatus.UNKNOWN, DeliveryStatus.FAILED)
# What each status may become on a receipt.
_MAY_BECOME = {
    **{status: set(RECEIPT_STATUSES) for status in (*_UNCONFIRMED, DeliveryStatus.SENT)},
    DeliveryStatus.DELIVERED: {DeliveryStatus.UNDELIVERED, DeliveryStatus.BOUNCED, DeliveryStatus.COMPLAINED},
}


@dataclass(frozen=True)
class Receipt:
    provider_message_id: str
    status: DeliveryStatus
    error: str = ""  # the provider's error code and text, for undelivered / bounced
    message_id: uuid.UUID | None = None  # ours, when the provider's callback names it


def delivery_report_status(*, spec: ChannelSpec, receipt: Receipt, log: DeliveryLog) -> bool:
    """Apply a receipt to the record with that provider message id (or, when the worker has not written
    it, the record the receipt's message id names); False when there is none or the record does not
    move (a duplicate or out-of-order receipt)."""
    records = spec.record_model.objects.using(spec.database)
    with transaction.atomic(using=spec.database):
        record = records.select_for_update().filter(provider_message_id=receipt.provider_message_id).first()
        if record is None and receipt.message_id is not None:  # the worker has not written `sent`
            unwritten = records.filter(message_id=receipt.message_id, provider_message_id="")
            record = unwritten.filter(status__in=_UNCONFIRMED).select_for_update().first()
        if record is None or receipt.status not in _MAY_BECOME.get(DeliveryStatus(record.status), set()):
            return False
        records.filter(pk=record.pk).update(
            status=receipt.status,
            provider_message_id=receipt.provider_message_id,
            last_error=receipt.error[:10_000],
            updated_at=timezone.now(),
        )
    if receipt.status in _SUPPRESSES:  # a hard bounce or a complaint: never send there again
        suppression_add(spec=spec, recipient=record.recipient, reason=_SUPPRESSES[receipt.status], detail=receipt.error)
    log.status_reported(record, status=str(receipt.status), error=receipt.error)
    return True
