"""Delivery receipts: what a provider reports after it accepted a message (Twilio's StatusCallback,
an ESP's tracking webhook) moves the record from `sent` to `delivered`, `undelivered`, `bounced` or
`complained`, and says so in a `delivery.status_reported` log event; a bounce or a complaint puts the
recipient on the channel's suppression list.

Receipts arrive out of order and more than once (Twilio posts `sent` after `delivered` at times), so
a record moves only to a receipt status; `delivered` may still become `undelivered`/`bounced` (a
later bounce), never the other way round. A record is found by the provider's message id the worker
wrote with `sent`, or — for a receipt that comes before that write (Twilio posts while our call to it
returns) — by our message id in the callback, while it is still `sending` with no provider id yet;
the worker's `sent` then leaves the receipt's status in place (deliveries_record_outcomes).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from delivery.models import DeliveryStatus, SuppressionReason
from delivery.registry import ChannelSpec
from delivery.suppressions import suppression_add
from messaging.log_events import LogEmitter, Outcome

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
# What each status may become on a receipt.
_MAY_BECOME = {
    DeliveryStatus.SENDING: set(RECEIPT_STATUSES),
    DeliveryStatus.SENT: set(RECEIPT_STATUSES),
    DeliveryStatus.DELIVERED: {DeliveryStatus.UNDELIVERED, DeliveryStatus.BOUNCED, DeliveryStatus.COMPLAINED},
}


@dataclass(frozen=True)
class Receipt:
    provider_message_id: str
    status: DeliveryStatus
    error: str = ""  # the provider's error code and text, for undelivered / bounced
    message_id: uuid.UUID | None = None  # ours, when the provider's callback names it


def delivery_report_status(*, spec: ChannelSpec, receipt: Receipt, log: LogEmitter) -> bool:
    """Apply a receipt to the record with that provider message id (or, before the worker wrote it,
    the `sending` record the receipt's message id names); False when there is none or the record does
    not move (a duplicate or out-of-order receipt)."""
    records = spec.record_model.objects.using(spec.database)
    with transaction.atomic(using=spec.database):
        record = records.select_for_update().filter(provider_message_id=receipt.provider_message_id).first()
        if record is None and receipt.message_id is not None:  # before the worker wrote `sent`
            unwritten = records.filter(message_id=receipt.message_id, provider_message_id="")
            record = unwritten.filter(status=DeliveryStatus.SENDING).select_for_update().first()
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
    failed = receipt.status is not DeliveryStatus.DELIVERED
    log.emit(
        "delivery.status_reported",
        trace_id=record.trace_id,
        message=f"the provider reports the {spec.channel} message {receipt.status}",
        outcome=Outcome.FAILURE if failed else Outcome.SUCCESS,
        level="warning" if failed else "info",
        message_id=record.message_id,
        channel=spec.channel.value,
        attempt=record.current_attempt,
        recipient=record.recipient,
        error_type="ProviderReceipt" if failed and receipt.error else None,
        error_message=receipt.error or None,
        labels={"delivery_status": str(receipt.status)},
    )
    return True
