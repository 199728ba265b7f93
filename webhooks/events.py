"""Webhook events from the services' log events: a message's status change, as its client sees it.

The log events are already in Kafka for every status change (`logs.router`, `logs.delivery.<channel>`),
so the webhooks worker reads them instead of every service producing webhooks of its own.
`webhook-id` is derived from the message and the event type: a replayed log event gives the same id,
and receivers deduplicate by it (Standard Webhooks).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from logging_service.timeline import RECEIPT_STATUS_OF, STATUS_AFTER, MessageStatus

# The statuses a client is told of: each change to one, as `message.<status>` (the timeline's own
# reading of the log events, so a webhook and GET never disagree); the passing ones (accepted, pending,
# retrying) are not worth a call.
WEBHOOK_STATUSES = (
    MessageStatus.SENT,
    MessageStatus.FAILED,
    *RECEIPT_STATUS_OF.values(),
    MessageStatus.UNKNOWN,
    MessageStatus.SUPPRESSED,
    MessageStatus.CANCELED,
    MessageStatus.EXPIRED,
)
EVENT_TYPES = tuple(f"message.{status.value}" for status in WEBHOOK_STATUSES)


@dataclass(frozen=True)
class WebhookEvent:
    type: str
    webhook_id: str
    message_id: str
    timestamp: str
    payload: dict[str, Any]


def webhook_event_of(log_event: dict[str, Any]) -> WebhookEvent | None:
    """The webhook event a log event stands for, or None (most log events are not status changes)."""
    event, labels = log_event.get("event"), log_event.get("labels")
    if not isinstance(event, dict) or not isinstance(labels, dict):
        return None
    action = str(event.get("action"))
    status = STATUS_AFTER.get(action)
    if action == "delivery.status_reported":
        status = RECEIPT_STATUS_OF.get(str(labels.get("delivery_status")))
    if status not in WEBHOOK_STATUSES:
        return None
    try:
        message_id = str(uuid.UUID(str(labels.get("message_id"))))
    except ValueError:
        return None  # a poison record's event (no message of ours)
    event_type = f"message.{status.value}"
    timestamp = str(log_event.get("@timestamp", ""))
    attempts = labels.get("attempt")
    data = {
        "id": message_id,
        "traceId": (log_event.get("trace") or {}).get("id") if isinstance(log_event.get("trace"), dict) else None,
        "channel": labels.get("channel"),
        "status": status.value,
        "attempts": int(attempts) if isinstance(attempts, int | str) and str(attempts).isdigit() else None,
    }
    error = log_event.get("error")
    if isinstance(error, dict) and error.get("message"):
        data["error"] = f"{error.get('type', 'Error')}: {error['message']}"
    webhook_id = "msg_" + hashlib.sha256(f"{message_id}:{event_type}".encode()).hexdigest()[:32]
    return WebhookEvent(
        type=event_type,
        webhook_id=webhook_id,
        message_id=str(message_id),
        timestamp=timestamp,
        payload={"type": event_type, "timestamp": timestamp, "data": data},
    )
