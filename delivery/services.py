"""Writes to the delivery records (HackSoft-style services). Each is one short write on the channel's
database. SQLite has a single writer, so the worker's threads hand their writes to the database's
committer (config.db_writes.group_write), which commits the writes of many threads in one
transaction; each service returns only once its write is committed. The committer is the serial
part of a worker, so what runs there is kept to plain statements: reads happen on the caller's
thread, records are updated by primary key without being loaded."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError
from django.db.models import F, QuerySet
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


@dataclass(frozen=True)
class ReceivedDelivery:
    """What the worker needs of a delivery record: which row to update, and whether to send."""

    pk: int
    status: str  # a DeliveryStatus value, as the database holds it


def _received(records: QuerySet[DeliveryRecord], message_id: uuid.UUID) -> ReceivedDelivery | None:
    row = records.filter(message_id=message_id).values_list("pk", "status").first()
    return None if row is None else ReceivedDelivery(pk=row[0], status=row[1])


def delivery_receive(*, spec: ChannelSpec, envelope: MessageEnvelope) -> ReceivedDelivery:
    """The message's record, created `pending` on first sight.

    Read on the caller's thread, so a redelivery costs one SELECT and no committer hand-off. A new
    message is one plain INSERT on the committer (no get_or_create savepoint). Two deliveries of one
    id racing between read and insert meet the unique constraint on message_id; the loser reads the
    winner's row and goes on as get_or_create would have.
    """
    records = spec.record_model.objects.using(spec.database)
    received = _received(records, envelope.id)
    if received is not None:
        return received

    def write() -> ReceivedDelivery:
        record = records.create(
            message_id=envelope.id, trace_id=envelope.trace_id, recipient=envelope.to, payload=envelope.to_dict()
        )
        return ReceivedDelivery(pk=record.pk, status=record.status)

    try:
        return group_write(spec.database, write)
    except IntegrityError:
        received = _received(records, envelope.id)
        if received is None:
            raise
        return received


# After a failed attempt the outcome says whether a retry is scheduled (pending) or not (failed).
_STATUS_AFTER_FAILURE = {
    AttemptOutcome.TRANSIENT_FAILURE: DeliveryStatus.PENDING,
    AttemptOutcome.PERMANENT_FAILURE: DeliveryStatus.FAILED,
    AttemptOutcome.EXHAUSTED: DeliveryStatus.FAILED,
}


def _record_attempt(*, spec: ChannelSpec, delivery_id: int, attempt: AttemptReport, **fields: object) -> None:
    """One UPDATE of the record (no load-and-save) and the attempt's INSERT, in one hand-off."""
    records = spec.record_model.objects.using(spec.database)
    attempts = spec.attempt_model.objects.using(spec.database)

    def write() -> None:
        # update() skips auto_now: updated_at is set here, at write time, as save() did.
        updated = records.filter(pk=delivery_id).update(
            attempt_count=F("attempt_count") + 1, updated_at=timezone.now(), **fields
        )
        if updated != 1:
            raise spec.record_model.DoesNotExist(f"no {spec.channel} delivery record {delivery_id}")
        attempts.create(  # type: ignore[misc]  # the foreign key is declared by each concrete model
            delivery_id=delivery_id,
            number=attempt.number,
            outcome=attempt.outcome,
            started_at=attempt.started_at,
            duration_ms=attempt.duration_ns / 1e6,
            error_type=attempt.error_type,
            error_message=attempt.error_message,
            provider_message_id=attempt.provider_message_id,
        )

    group_write(spec.database, write)


def delivery_mark_sent(*, spec: ChannelSpec, delivery_id: int, attempt: AttemptReport) -> None:
    _record_attempt(
        spec=spec,
        delivery_id=delivery_id,
        attempt=attempt,
        status=DeliveryStatus.SENT,
        provider_message_id=attempt.provider_message_id,
        sent_at=timezone.now(),
        last_error="",
    )


def delivery_mark_attempt_failed(*, spec: ChannelSpec, delivery_id: int, attempt: AttemptReport) -> None:
    """A transient failure with a retry scheduled leaves the record pending; any other, failed."""
    status = _STATUS_AFTER_FAILURE.get(attempt.outcome)
    if status is None:
        raise ValueError(f"not a failed attempt: {attempt.outcome}")
    _record_attempt(
        spec=spec,
        delivery_id=delivery_id,
        attempt=attempt,
        status=status,
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
