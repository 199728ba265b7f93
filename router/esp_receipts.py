"""Delivery receipts of email sent through an ESP with django-anymail: anymail's tracking webhooks
(`/api/v1/providers/anymail/<esp>/tracking/`, guarded by ANYMAIL's WEBHOOK_SECRET basic auth) turn each
ESP's payload into a normalized `tracking` signal; this receiver hands it to the email channel
(email_service.receipts decides what it means). Connected in RouterConfig.ready(): the webhooks are
served by the API."""

from __future__ import annotations

from typing import Any

from anymail.signals import AnymailTrackingEvent, tracking

from email_service.receipts import email_receipt_apply
from router.kafka import channel_log


def email_receipt(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    email_receipt_apply(
        esp_name=esp_name,
        event_type=str(event.event_type),
        provider_message_id=str(event.message_id or ""),
        why=event.description or event.mta_response or event.reject_reason or "",
        log_for=channel_log,
    )


def connect() -> None:
    tracking.connect(email_receipt, dispatch_uid="comms-email-receipts")
