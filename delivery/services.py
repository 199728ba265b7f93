"""Writes to the delivery records (HackSoft-style services). Each is one short write on the channel's
database. SQLite has a single writer, so the worker's threads hand their writes to the database's
committer (config.db_writes.group_write), which commits the writes of many threads in one
transaction; each service returns only once its write is committed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from config.db_writes import group_write, write_transaction
from delivery.models import AttemptOutcome, DeliveryRecord, DeliveryStatus
from delivery.registry import ChannelSpec
from messaging.envelope import MessageEnvelope


@dataclass(frozen=True)
class AttemptReport:
    number: int
    outcome: AttemptOutcome
    started_at: datetime
    duration_ns: int
    error_type: str = ""
    error_message: str = ""
    provider_message_id: str = ""


def delivery_receive(*, spec: ChannelSpec, envelope: MessageEnvelope) -> DeliveryRecord:
    """The message's record, created `pending` on first sight."""

    def write() -> DeliveryRecord:
        record, _ = spec.record_model.objects.using(spec.database).get_or_create(
            message_id=envelope.id,
            defaults={"trace_id": envelope.trace_id, "recipient": envelope.to, "payload": envelope.to_dict()},
        )
        return record

    return group_write(spec.database, write)


def _record_attempt(
    *, spec: ChannelSpec, message_id: uuid.UUID, attempt: AttemptReport, status: DeliveryStatus, **fields: object
) -> None:

    def write() -> None:
        record = spec.record_model.objects.using(spec.database).get(message_id=message_id)
        record.status = status
        record.attempt_count += 1
        for name, value in fields.items():
            setattr(record, name, value)
        record.save(using=spec.database)
        spec.attempt_model.objects.using(spec.database).create(
            delivery=record,
            number=attempt.number,
            outcome=attempt.outcome,
            started_at=attempt.started_at,
            duration_ms=attempt.duration_ns / 1e6,
            error_type=attempt.error_type,
            error_message=attempt.error_message,
            provider_message_id=attempt.provider_message_id,
        )

    group_write(spec.database, write)


def delivery_mark_sent(*, spec: ChannelSpec, message_id: uuid.UUID, attempt: AttemptReport) -> None:
    _record_attempt(
        spec=spec,
        message_id=message_id,
        attempt=attempt,
        status=DeliveryStatus.SENT,
        provider_message_id=attempt.provider_message_id,
        sent_at=timezone.now(),
        last_error="",
    )


def delivery_mark_retrying(*, spec: ChannelSpec, message_id: uuid.UUID, attempt: AttemptReport) -> None:
    _record_attempt(
        spec=spec,
        message_id=message_id,
        attempt=attempt,
        status=DeliveryStatus.PENDING,
        last_error=f"{attempt.error_type}: {attempt.error_message}",
    )


def delivery_mark_failed(*, spec: ChannelSpec, message_id: uuid.UUID, attempt: AttemptReport) -> None:
    _record_attempt(
        spec=spec,
        message_id=message_id,
        attempt=attempt,
        status=DeliveryStatus.FAILED,
        last_error=f"{attempt.error_type}: {attempt.error_message}",
    )


def delivery_reopen(*, spec: ChannelSpec, message_id: uuid.UUID) -> bool:
    """failed → pending, so a replayed message is sent again; False if it is already sent."""
    records = spec.record_model.objects.using(spec.database).filter(message_id=message_id)
    with write_transaction(spec.database):
        if records.filter(status=DeliveryStatus.SENT).exists():
            return False
        records.filter(status=DeliveryStatus.FAILED).update(status=DeliveryStatus.PENDING, updated_at=timezone.now())
    return True
