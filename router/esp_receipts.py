"""Delivery receipts of email sent through an ESP with django-anymail: anymail's tracking webhooks
(`/api/v1/providers/anymail/<esp>/tracking/`, guarded by ANYMAIL's WEBHOOK_SECRET basic auth) turn each
ESP's payload into a normalized `tracking` signal; this receiver applies it (delivery.receipts).
Connected in RouterConfig.ready(): the webhooks are served by the API."""

from __future__ import annotations

from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType, tracking

from delivery.models import DeliveryStatus
from delivery.receipts import Receipt, delivery_report_status
from delivery.registry import get_channel
from messaging.channels import Channel
from router.kafka import channel_log

ANYMAIL_RECEIPTS = {
    EventType.DELIVERED: DeliveryStatus.DELIVERED,
    EventType.BOUNCED: DeliveryStatus.BOUNCED,
    EventType.COMPLAINED: DeliveryStatus.COMPLAINED,
    EventType.REJECTED: DeliveryStatus.UNDELIVERED,  # the ESP refused to send it on
    EventType.FAILED: DeliveryStatus.UNDELIVERED,
}


def email_receipt(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    status = ANYMAIL_RECEIPTS.get(event.event_type)
    if status is None or not event.message_id:
        return  # opened, clicked, queued, deferred …: not a change of delivery status
    why = event.description or event.mta_response or event.reject_reason or ""
    error = f"{esp_name} {event.event_type}: {why}".strip().removesuffix(":") if status != "delivered" else ""
    receipt = Receipt(provider_message_id=str(event.message_id), status=status, error=error)
    delivery_report_status(spec=get_channel(Channel.EMAIL), receipt=receipt, log=channel_log(Channel.EMAIL))


def connect() -> None:
    tracking.connect(email_receipt, dispatch_uid="comms-email-receipts")
