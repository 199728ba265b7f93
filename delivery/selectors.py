"""Reads of the channel databases for the API (HackSoft-style selectors): a message's status as its
delivery record has it, what the trace page shows of that record, a recipient's suppression.

Each takes the channel by name and answers plain frozen data, never a model instance: the API reads
the channel databases only through here (and writes them only through delivery's services), so a
channel's tables can change without the API noticing. An unknown channel raises LookupError.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from delivery.models import DeliveryStatus
from delivery.registry import get_channel
from messaging.channels import Channel
from messaging.lifecycle import MessageStatus


@dataclass(frozen=True)
class DeliveryState:
    """A message's status as the API shows it, its attempts, and the provider that took it (once sent)."""

    status: MessageStatus
    attempts: int
    provider: str = ""


def delivery_status_for_client(*, status: str, current_attempt: int) -> MessageStatus:
    """The API's status of a delivery record: `pending` waiting for a retry is `retrying` (a replay
    that reopened it has made no attempt yet in this round: `pending`), `sending` is `pending`."""
    if status == DeliveryStatus.PENDING:
        return MessageStatus.RETRYING if current_attempt > 0 else MessageStatus.PENDING
    if status == DeliveryStatus.SENDING:
        return MessageStatus.PENDING
    return MessageStatus(status) if status in MessageStatus._value2member_map_ else MessageStatus.PENDING


def delivery_states_get(
    *, channel: Channel | str, message_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, DeliveryState]:
    """The states of these messages of one channel (one query); a message the channel has not seen yet
    is missing from the answer.

    The record is written before the events that tell of it are even emitted, and those reach
    Elasticsearch a moment later (the indexer's batch, the index refresh): the record is the fresher
    source, so the API's status comes from it when there is one."""
    spec = get_channel(channel)
    rows = (
        spec.record_model.objects.using(spec.database)
        .filter(message_id__in=message_ids)
        .values_list("message_id", "status", "current_attempt", "attempt_count", "provider")
    )
    return {
        message_id: DeliveryState(
            status=delivery_status_for_client(status=status, current_attempt=current_attempt),
            attempts=attempts,
            provider=provider,
        )
        for message_id, status, current_attempt, attempts, provider in rows
    }


@dataclass(frozen=True)
class AttemptTrace:
    """One provider call of a message, as the trace page lists it."""

    number: int
    outcome: str
    started_at: datetime
    duration_ms: float
    error_type: str
    error_message: str
    provider_message_id: str


@dataclass(frozen=True)
class DeliveryTrace:
    """A message's delivery record as the trace page shows it: the record's own status (not the API's)."""

    status: str
    provider: str
    attempts: tuple[AttemptTrace, ...]


def delivery_trace_get(*, channel: Channel | str, message_id: uuid.UUID) -> DeliveryTrace | None:
    """The message's delivery record and its attempts as they were made (None until the channel has
    seen it); a replayed message's attempt numbers restart at 1, so they are in the order they started."""
    spec = get_channel(channel)
    record = spec.record_model.objects.using(spec.database).filter(message_id=message_id).first()
    if record is None:
        return None
    # The attempts' foreign key is declared by each channel's model, not by the abstract base.
    attempts = record.attempts.all()  # type: ignore[attr-defined]
    return DeliveryTrace(
        status=record.status,
        provider=record.provider,
        attempts=tuple(
            AttemptTrace(
                number=attempt.number,
                outcome=attempt.outcome,
                started_at=attempt.started_at,
                duration_ms=attempt.duration_ms,
                error_type=attempt.error_type,
                error_message=attempt.error_message,
                provider_message_id=attempt.provider_message_id,
            )
            for attempt in attempts
        ),
    )


@dataclass(frozen=True)
class SuppressionEntry:
    """A recipient on a channel's suppression list, and why (delivery.suppressions)."""

    channel: Channel
    recipient: str
    reason: str
    detail: str
    created_at: datetime


def suppression_get(*, channel: Channel | str, recipient: str) -> SuppressionEntry | None:
    spec = get_channel(channel)
    row = spec.suppression_model.objects.using(spec.database).filter(recipient=recipient).first()
    if row is None:
        return None
    return SuppressionEntry(
        channel=spec.channel, recipient=row.recipient, reason=row.reason, detail=row.detail, created_at=row.created_at
    )
