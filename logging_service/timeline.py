"""A message's timeline read back from Elasticsearch, and the status its events add up to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from logging_service.connection import elasticsearch
from logging_service.documents import index_pattern

MAX_EVENTS = 1000


class MessageStatus(StrEnum):
    SCHEDULED = "scheduled"  # accepted with a sendAt still ahead (the router's outbox holds it)
    ACCEPTED = "accepted"
    PENDING = "pending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    # A worker died mid-send and the channel holds the message (ON_UNKNOWN_OUTCOME=hold).
    UNKNOWN = "unknown"
    CANCELED = "canceled"  # by the client, before a provider had it; final
    SUPPRESSED = "suppressed"  # the recipient is on the channel's suppression list: never sent; final
    EXPIRED = "expired"  # not handed to a provider by its expiresAt: never sent; final
    # The provider's receipts after `sent` (delivery.receipts); final.
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


# For the OpenAPI schema: one named enum of statuses (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
MESSAGE_STATUS_CHOICES = [(status.value, status.value) for status in MessageStatus]

# What each action says about the message; actions not listed (duplicate_skipped, …) say nothing new.
STATUS_AFTER: dict[str, MessageStatus] = {
    "message.accepted": MessageStatus.ACCEPTED,
    "message.published": MessageStatus.ACCEPTED,
    "message.failed": MessageStatus.FAILED,  # Kafka refused the record for good (router.outbox)
    "message.canceled": MessageStatus.CANCELED,
    "delivery.suppressed": MessageStatus.SUPPRESSED,
    "delivery.expired": MessageStatus.EXPIRED,
    "delivery.received": MessageStatus.PENDING,
    "delivery.throttled": MessageStatus.PENDING,  # the provider said slow down: tried again, no attempt spent
    "delivery.retry_scheduled": MessageStatus.RETRYING,
    "delivery.sent": MessageStatus.SENT,
    "delivery.dead_lettered": MessageStatus.FAILED,
    "delivery.unknown_outcome_held": MessageStatus.UNKNOWN,
    "delivery.unknown_outcome_resent": MessageStatus.PENDING,
}
# Terminal record statuses a `delivery.duplicate_skipped` event may report.
_REPORTED = {
    "sent": MessageStatus.SENT,
    "failed": MessageStatus.FAILED,
    "unknown": MessageStatus.UNKNOWN,
    "canceled": MessageStatus.CANCELED,
    "suppressed": MessageStatus.SUPPRESSED,
    "expired": MessageStatus.EXPIRED,
}
# Same-timestamp tie-break: the order these happen in for one message.
_LIFECYCLE = [
    "message.accepted",
    "message.published",
    "message.failed",
    "message.canceled",
    "delivery.received",
    "delivery.throttled",
    "delivery.suppressed",
    "delivery.expired",
    "delivery.unknown_outcome_held",
    "delivery.unknown_outcome_resent",
    "delivery.failed",
    "delivery.retry_scheduled",
    "delivery.dead_lettered",
    "delivery.sent",
    "delivery.duplicate_skipped",
    "delivery.status_reported",
]


@dataclass(frozen=True)
class TimelineEvent:
    timestamp: datetime
    service: str
    action: str
    outcome: str
    attempt: int | None
    error: str | None
    # The delivery record's status a `delivery.duplicate_skipped` reports (labels.delivery_status).
    reported_status: str | None = None
    # Which of the channel's providers took the message (`delivery.sent`'s labels.provider).
    provider: str | None = None

    @classmethod
    def from_source(cls, source: dict[str, Any]) -> TimelineEvent:
        error = source.get("error") or {}
        message = error.get("message") or None
        return cls(
            timestamp=datetime.fromisoformat(source["@timestamp"].replace("Z", "+00:00")),
            service=(source.get("service") or {}).get("name", ""),
            action=source["event"]["action"],
            outcome=source["event"].get("outcome", "unknown"),
            attempt=(source.get("labels") or {}).get("attempt"),
            error=f"{error.get('type')}: {message}" if message and error.get("type") else message,
            reported_status=(source.get("labels") or {}).get("delivery_status"),
            provider=(source.get("labels") or {}).get("provider"),
        )

    @property
    def sort_key(self) -> tuple[datetime, int]:
        rank = _LIFECYCLE.index(self.action) if self.action in _LIFECYCLE else len(_LIFECYCLE)
        return self.timestamp, rank


@dataclass(frozen=True)
class Timeline:
    status: MessageStatus
    attempts: int
    events: tuple[TimelineEvent, ...]


# The router's events describe the start of a message's life: logged by another process, they may be
# stamped after the channel's first events (the relay publishes late), and must not set it back.
_ROUTER_EARLY = {"message.accepted", "message.published"}


# Receipts a `delivery.status_reported` event may report (labels.delivery_status) after `sent`.
RECEIPT_STATUS_OF = {
    status.value: status
    for status in (MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.BOUNCED, MessageStatus.COMPLAINED)
}
_FINAL = {MessageStatus.CANCELED, MessageStatus.SUPPRESSED, MessageStatus.EXPIRED, *RECEIPT_STATUS_OF.values()}


def derive_status(events: Sequence[TimelineEvent]) -> MessageStatus:
    """Replay the events in order. `sent` is final but for the provider's receipts (delivered,
    undelivered, …), which are final too, as are `canceled` (a canceled message is never claimed),
    `suppressed` and `expired` (neither is ever handed to a provider);
    `failed` is not, because an operator may replay the message from the DLQ. A status never moves
    back to `accepted` because of which process logged last."""
    status = MessageStatus.ACCEPTED
    for event in events:
        if event.action == "delivery.status_reported" and event.reported_status in RECEIPT_STATUS_OF:
            status = RECEIPT_STATUS_OF[event.reported_status]  # the provider's word on a sent message
            continue
        if status is MessageStatus.SENT or status in _FINAL:
            continue
        if event.action in _ROUTER_EARLY and status is not MessageStatus.ACCEPTED:
            continue
        status = STATUS_AFTER.get(event.action, status)
        if event.action == "delivery.duplicate_skipped" and event.reported_status in _REPORTED:
            # The record's own status: the only sign of a send whose `delivery.sent` event was lost
            # with a killed worker (found by tests/faults/test_worker_kill.py).
            status = _REPORTED[event.reported_status]
    return status


def build_timeline(events: Sequence[TimelineEvent]) -> Timeline:
    ordered = tuple(sorted(events, key=lambda event: event.sort_key))
    attempts = max((e.attempt for e in ordered if e.attempt and e.action.startswith("delivery.")), default=0)
    return Timeline(status=derive_status(ordered), attempts=attempts, events=ordered)


def message_timeline(*, trace_id: str, message_id: str) -> Timeline:
    """Every indexed event of this message (its trace id and message id), oldest first."""
    response = elasticsearch().search(
        index=index_pattern(),
        query={"bool": {"filter": [{"term": {"trace.id": trace_id}}, {"term": {"labels.message_id": message_id}}]}},
        sort=[{"@timestamp": {"order": "asc", "unmapped_type": "date"}}],
        size=MAX_EVENTS,
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    return build_timeline([TimelineEvent.from_source(hit["_source"]) for hit in response["hits"]["hits"]])
