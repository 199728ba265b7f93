"""Email delivery receipts from an ESP: what django-anymail's normalized tracking events mean for an
email's delivery record (delivery.receipts). The API serves anymail's webhooks and hands each
event here (router.esp_receipts)."""

from __future__ import annotations

from collections.abc import Callable

from delivery.events import DeliveryLog
from delivery.models import DeliveryStatus
from delivery.receipts import Receipt, delivery_report_status
from delivery.registry import get_channel
from messaging.channels import Channel

# anymail's EventType values that change a delivery status (by value: anymail stays out of this module).
ANYMAIL_RECEIPTS = {
    "delivered": DeliveryStatus.DELIVERED,
    "bounced": DeliveryStatus.BOUNCED,
    "complained": DeliveryStatus.COMPLAINED,
    "rejected": DeliveryStatus.UNDELIVERED,  # the ESP refused to send it on
    "failed": DeliveryStatus.UNDELIVERED,
}


def email_receipt_apply(
    *, esp_name: str, event_type: str, provider_message_id: str, why: str, log_for: Callable[[Channel], DeliveryLog]
) -> bool:
    """One tracking event of `esp_name` (its type, the ESP's message id, the ESP's words on why):
    False when it changes no status (opened, clicked, queued, deferred …), names no message, or moves
    no record (a duplicate, one out of order); `log_for(Channel.EMAIL)` logs a receipt applied."""
    status = ANYMAIL_RECEIPTS.get(event_type)
    if status is None or not provider_message_id:
        return False
    error = f"{esp_name} {event_type}: {why}".strip().removesuffix(":") if status != DeliveryStatus.DELIVERED else ""
    receipt = Receipt(provider_message_id=provider_message_id, status=status, error=error)
    return delivery_report_status(spec=get_channel(Channel.EMAIL), receipt=receipt, log=log_for(Channel.EMAIL))
