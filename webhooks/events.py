"""Webhook events from the services' log events: a message's status change, as its client sees it.

The log events are already in Kafka for every status change (`logs.router`, `logs.delivery.<channel>`),
so the webhooks worker reads them instead of every service producing webhooks of its own: decoded
once (messaging.log_events.LoggedEvent), their status read through the lifecycle
(messaging.lifecycle.status_announced), so a webhook and GET never disagree.
`webhook-id` is derived from the message and the event type: a replayed log event gives the same id,
and receivers deduplicate by it (Standard Webhooks).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from messaging.lifecycle import RECEIPT_STATUSES, MessageStatus, status_announced
from messaging.log_events import InvalidLogEvent, LoggedEvent, event_time_text

# The statuses a client is told of: each change to one, as `message.<status>`; the passing ones
# (accepted, pending, retrying) are not worth a call.
WEBHOOK_STATUSES = (
    MessageStatus.SENT,
    MessageStatus.FAILED,
    *(status for status in MessageStatus if status in RECEIPT_STATUSES),
    MessageStatus.UNKNOWN,
    MessageStatus.SUPPRESSED,
    MessageStatus.CANCELED,
    MessageStatus.EXPIRED,
)


def event_type_of(status: MessageStatus) -> str:
    """The webhook event type that tells of `status` (`message.sent`, …)."""
    return f"message.{status.value}"


EVENT_TYPES = tuple(event_type_of(status) for status in WEBHOOK_STATUSES)


@dataclass(frozen=True)
class WebhookEvent:
    type: str
    webhook_id: str
    message_id: str
    timestamp: str
    payload: dict[str, Any]


def webhook_event_of(log_event: Mapping[str, Any]) -> WebhookEvent | None:
    """The webhook event a log event's JSON stands for, or None (most log events are not status
    changes; a document that is no log event is the log indexer's to dead-letter, not ours)."""
    try:
        event = LoggedEvent.from_ecs(log_event)
    except InvalidLogEvent:
        return None
    return webhook_event_from(event)


def webhook_event_from(event: LoggedEvent) -> WebhookEvent | None:
    status = status_announced(event.action, reported=event.reported_status)
    if status is None or status not in WEBHOOK_STATUSES:
        return None
    try:
        message_id = str(uuid.UUID(event.message_id or ""))
    except ValueError:
        return None  # a poison record's event (no message of ours)
    event_type = event_type_of(status)
    timestamp = event_time_text(event.timestamp)
    data: dict[str, Any] = {
        "id": message_id,
        "traceId": event.trace_id or None,
        "channel": event.channel,
        "status": status.value,
        "attempts": event.attempt,
    }
    if event.error:
        data["error"] = event.error
    webhook_id = "msg_" + hashlib.sha256(f"{message_id}:{event_type}".encode()).hexdigest()[:32]
    return WebhookEvent(
        type=event_type,
        webhook_id=webhook_id,
        message_id=message_id,
        timestamp=timestamp,
        payload={"type": event_type, "timestamp": timestamp, "data": data},
    )
