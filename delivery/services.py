"""Writes to the delivery records (HackSoft-style services), a whole consume batch per transaction.

The worker runs one batch at a time on one thread, so each service is one short transaction on the
channel's database: the claims of a batch, then its outcomes. Reads that decide happen inside the
write transaction (SQLite: BEGIN IMMEDIATE holds the write lock; PostgreSQL: SELECT … FOR UPDATE),
so two processes cannot both claim one attempt.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.db import IntegrityError, connections, models, transaction
from django.utils import timezone

from config.db_bulk import RowInserter
from delivery.decisions import (
    CallResult,
    ClaimAction,
    ClaimPlan,
    DeadLetter,
    Outcome,
    RecordState,
    RetryLater,
    Sent,
    UnknownOutcomePolicy,
    claim_plan,
    claim_recipients,
)
from delivery.models import AttemptOutcome, DeliveryStatus
from delivery.receipts import RECEIPT_STATUSES
from delivery.registry import ChannelSpec, get_channel
from delivery.selectors import delivery_status_for_client
from delivery.suppressions import suppressed_among
from messaging.channels import Channel
from messaging.envelope import MessageEnvelope
from messaging.lifecycle import MessageStatus

SUPPRESSED_ERROR = "Suppressed: the recipient is on this channel's suppression list; nothing sent"
EXPIRED_ERROR = "Expired: not handed to a provider by its expiresAt; nothing sent"
UNKNOWN_OUTCOME_ERROR = "the worker stopped after claiming this attempt: whether the provider got it is unknown"


@cache
def _inserter(model: type[models.Model], using: str) -> RowInserter:
    return RowInserter(model, using)


@dataclass(frozen=True)
class Claim:
    action: ClaimAction
    pk: int | None
    # The record as it was before this claim (None: first sight, or a duplicate within the batch).
    before: RecordState | None


def deliveries_claim(
    *,
    spec: ChannelSpec,
    envelopes: Sequence[MessageEnvelope],
    on_unknown: UnknownOutcomePolicy,
    idempotent_provider: bool,
    in_flight: Collection[uuid.UUID] = (),
) -> list[Claim]:
    """Decide every envelope's ClaimAction (delivery.decisions.claim_plan) and make the claims
    durable, in one transaction.

    A record to send is `sending` with `current_attempt` = its attempt before the provider is called,
    so a process that dies mid-send leaves a trace the next one reads as an unknown outcome. A first
    send to a suppressed recipient ends `suppressed`, one past the envelope's `expires_at` ends
    `expired`: no provider call. Returns one Claim per envelope, in order.
    """
    records = spec.record_model.objects.using(spec.database)
    now = timezone.now()
    with transaction.atomic(using=spec.database):
        rows = (
            records.filter(message_id__in={envelope.id for envelope in envelopes})
            .select_for_update()
            .values_list(
                "pk", "message_id", "status", "current_attempt", "outcome_published", "last_error", "claimed_at"
            )
        )
        states = {
            message_id: RecordState(pk, status, current, published, last_error, claimed_at)
            for pk, message_id, status, current, published, last_error, claimed_at in rows
        }
        suppressed = suppressed_among(spec=spec, recipients=claim_recipients(envelopes=envelopes, states=states))
        plan = claim_plan(
            envelopes=envelopes,
            states=states,
            suppressed=suppressed,
            in_flight=in_flight,
            on_unknown=on_unknown,
            idempotent_provider=idempotent_provider,
            now=now,
        )
        created = _claim_plan_write(spec=spec, plan=plan, now=now)
    return [
        Claim(action=action, pk=state.pk if state is not None else created.get(envelope.id), before=state)
        for envelope, (action, state) in zip(envelopes, plan.actions, strict=True)
    ]


_FIRST_ERROR = {DeliveryStatus.SUPPRESSED: SUPPRESSED_ERROR, DeliveryStatus.EXPIRED: EXPIRED_ERROR}


def _new_record(envelope: MessageEnvelope, status: DeliveryStatus, now: datetime) -> dict[str, Any]:
    """A first sight's record: claimed (`sending`), or final at once (suppressed, expired: no provider call)."""
    row: dict[str, Any] = {
        "message_id": envelope.id,
        "trace_id": envelope.trace_id,
        "recipient": envelope.to,
        "payload": envelope.to_dict(),
        "status": status,
        "current_attempt": envelope.attempt,
    }
    if status == DeliveryStatus.SENDING:
        row["claimed_at"] = now
    else:
        row["last_error"] = _FIRST_ERROR[status]
    return row


def _claim_plan_write(*, spec: ChannelSpec, plan: ClaimPlan, now: datetime) -> dict[uuid.UUID, int]:
    """The plan's writes, inside the claim's transaction; returns the pks of the records created."""
    records = spec.record_model.objects.using(spec.database)
    created: dict[uuid.UUID, int] = {}
    if plan.new_records:
        _inserter(spec.record_model, spec.database).insert(
            [_new_record(envelope, status, now) for envelope, status in plan.new_records]
        )
        ids = [envelope.id for envelope, _ in plan.new_records]
        created = dict(records.filter(message_id__in=ids).values_list("message_id", "pk"))
    for attempt, pks in plan.claimed.items():
        records.filter(pk__in=pks).update(
            status=DeliveryStatus.SENDING,
            current_attempt=attempt,
            claimed_at=now,
            outcome_published=True,
            updated_at=now,
        )
    if plan.suppressed:
        records.filter(pk__in=plan.suppressed).update(
            status=DeliveryStatus.SUPPRESSED, last_error=SUPPRESSED_ERROR, updated_at=now
        )
    if plan.expired:
        records.filter(pk__in=plan.expired).update(
            status=DeliveryStatus.EXPIRED, last_error=EXPIRED_ERROR, outcome_published=True, updated_at=now
        )
    if plan.held:
        records.filter(pk__in=plan.held).update(
            status=DeliveryStatus.UNKNOWN, last_error=f"UnknownOutcome: {UNKNOWN_OUTCOME_ERROR}", updated_at=now
        )
    _inserter(spec.attempt_model, spec.database).insert(
        [_unknown_attempt(state, attempt, now) for state, attempt in plan.unknown_attempts]
    )
    return created


def _unknown_attempt(state: RecordState, attempt: int, now: datetime) -> dict[str, object]:
    """The attempt row of an attempt claimed by a process that died before writing its outcome."""
    return {
        "delivery_id": state.pk,
        "number": attempt,
        "outcome": AttemptOutcome.UNKNOWN,
        "started_at": state.claimed_at or now,
        "duration_ms": 0,
        "error_type": "UnknownOutcome",
        "error_message": UNKNOWN_OUTCOME_ERROR,
    }


@dataclass(frozen=True)
class AttemptOutcomeReport:
    """One finished provider call of a claimed record, and what it was decided to mean."""

    pk: int
    attempt: int
    call: CallResult
    outcome: Outcome


_ATTEMPT_OUTCOME = {
    Sent: AttemptOutcome.SENT,
    RetryLater: AttemptOutcome.TRANSIENT_FAILURE,
}


def _attempt_outcome(outcome: Outcome) -> AttemptOutcome:
    if isinstance(outcome, DeadLetter):
        return AttemptOutcome.PERMANENT_FAILURE if outcome.permanent else AttemptOutcome.EXHAUSTED
    return _ATTEMPT_OUTCOME[type(outcome)]


# A receipt that came before the worker's outcome write (delivery.receipts) already settled the record.
_REPORTED = f"status IN ({', '.join(repr(str(status)) for status in RECEIPT_STATUSES)})"


def deliveries_record_outcomes(*, spec: ChannelSpec, reports: Sequence[AttemptOutcomeReport]) -> set[int]:
    """The outcomes of a batch's provider calls and their attempt rows, in one transaction.

    sent → `sent`; retry later → `pending` (its retry record not yet acknowledged:
    outcome_published false); dead letter → `failed` (likewise). Rows are updated by primary key with
    one executemany per kind, the statement the ORM would run once per row. A record a provider's
    receipt already settled keeps the receipt's status; returns those of the failed calls (our call
    failed, a timeout, while the provider took the message): they need no retry and no dead letter.
    """
    connection = connections[spec.database]
    ops = connection.ops
    table = ops.quote_name(spec.record_model._meta.db_table)
    now = ops.adapt_datetimefield_value(timezone.now())
    sent_rows, failed_rows = [], []
    attempt_rows = []
    for report in reports:
        outcome, call = report.outcome, report.call
        if isinstance(outcome, Sent):
            sent_rows.append((outcome.provider_message_id, call.provider, now, now, report.pk))
        else:
            status = DeliveryStatus.PENDING if isinstance(outcome, RetryLater) else DeliveryStatus.FAILED
            failed_rows.append((str(status), str(outcome.failure)[:10_000], now, report.pk))
        attempt_rows.append(
            {
                "delivery_id": report.pk,
                "number": report.attempt,
                "outcome": _attempt_outcome(outcome),
                "started_at": call.started_at,
                "duration_ms": call.duration_ns / 1e6,
                "error_type": "" if isinstance(outcome, Sent) else outcome.failure.type,
                "error_message": "" if isinstance(outcome, Sent) else outcome.failure.message,
                "provider_message_id": call.provider_message_id,
            }
        )
    settled: set[int] = set()
    with transaction.atomic(using=spec.database), connection.cursor() as cursor:
        if sent_rows:
            cursor.executemany(
                f"UPDATE {table} SET status = CASE WHEN {_REPORTED} THEN status ELSE '{DeliveryStatus.SENT}' END, "
                "provider_message_id = %s, provider = %s, sent_at = %s, updated_at = %s, "
                f"last_error = CASE WHEN {_REPORTED} THEN last_error ELSE '' END, "
                "attempt_count = attempt_count + 1 WHERE id = %s",
                sent_rows,
            )
        if failed_rows:
            cursor.executemany(
                f"UPDATE {table} SET status = CASE WHEN {_REPORTED} THEN status ELSE %s END, "
                f"last_error = CASE WHEN {_REPORTED} THEN last_error ELSE %s END, updated_at = %s, "
                f"attempt_count = attempt_count + 1, outcome_published = {_REPORTED} WHERE id = %s",
                failed_rows,
            )
            failed_pks = [row[-1] for row in failed_rows]
            records = spec.record_model.objects.using(spec.database)
            settled = set(records.filter(pk__in=failed_pks, status__in=RECEIPT_STATUSES).values_list("pk", flat=True))
        _inserter(spec.attempt_model, spec.database).insert(attempt_rows)
    return settled


def deliveries_release_claims(*, spec: ChannelSpec, claims: Sequence[tuple[int, int]]) -> None:
    """Give back claims whose provider call was refused with a slow-down answer: (pk, attempt) →
    `pending` with the attempt not spent, so the record of that attempt is claimed afresh later (by this
    process, or by whichever reads it again after a crash: never an unknown outcome). A claim that is
    no longer this attempt's `sending` is left alone."""
    if not claims:
        return
    connection = connections[spec.database]
    table = connection.ops.quote_name(spec.record_model._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = [(attempt - 1, now, pk, attempt) for pk, attempt in claims]
    with transaction.atomic(using=spec.database), connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET status = '{DeliveryStatus.PENDING}', current_attempt = %s, claimed_at = NULL, "
            f"updated_at = %s WHERE id = %s AND status = '{DeliveryStatus.SENDING}' AND current_attempt = %s",
            rows,
        )


def deliveries_mark_outcomes_published(*, spec: ChannelSpec, pks: Collection[int]) -> None:
    """Kafka acknowledged these records' retry or dead-letter records."""
    spec.record_model.objects.using(spec.database).filter(pk__in=pks).update(outcome_published=True)


def delivery_reopen(*, spec: ChannelSpec, message_id: uuid.UUID) -> bool:
    """failed or unknown → pending with no attempt made, so a record of attempt 1 (a DLQ replay, an
    operator's resend) is sent again. False when the message is in any other status (sent, …)."""
    records = spec.record_model.objects.using(spec.database).filter(message_id=message_id)
    reopened = records.filter(status__in=[DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN]).update(
        status=DeliveryStatus.PENDING, current_attempt=0, outcome_published=True, updated_at=timezone.now()
    )
    return reopened == 1 or not records.exists()


def delivery_resolve_as_sent(*, spec: ChannelSpec, message_id: uuid.UUID, note: str) -> bool:
    """An operator confirmed that a message held as `unknown` did reach the provider."""
    now = timezone.now()
    return (
        spec.record_model.objects.using(spec.database)
        .filter(message_id=message_id, status=DeliveryStatus.UNKNOWN)
        .update(status=DeliveryStatus.SENT, sent_at=now, updated_at=now, last_error=note)
        == 1
    )


CANCELED_BY_CLIENT = "Canceled: the client canceled the message before a provider had it"


@dataclass(frozen=True)
class CancelResult:
    canceled: bool
    # The message's status as the API shows it: `canceled`, or the one that stopped the cancel
    # (`pending` for a record a provider is being handed, `sent`, …).
    status: MessageStatus


def delivery_cancel(*, channel: Channel | str, message_id: uuid.UUID, trace_id: str, recipient: str) -> CancelResult:
    """Cancel a message the channel has not handed to a provider: no record yet (it never arrived,
    or it is scheduled), or `pending` (a retry is due, or a replay reopened it). `sending` and every
    final status refuse. The record is the one a claim reads inside its own write transaction
    (deliveries_claim), so whichever commits first wins: a canceled record is never claimed
    (claim_action skips it), and a claimed one is not canceled."""
    spec = get_channel(channel)
    records = spec.record_model.objects.using(spec.database)
    canceled = CancelResult(canceled=True, status=MessageStatus.CANCELED)
    for tries_left in (1, 0):
        try:
            with transaction.atomic(using=spec.database):
                row = (
                    records.select_for_update()
                    .filter(message_id=message_id)
                    .values_list("pk", "status", "current_attempt")
                    .first()
                )
                if row is None:
                    records.create(
                        message_id=message_id,
                        trace_id=trace_id,
                        recipient=recipient,
                        payload={"id": str(message_id), "traceId": trace_id, "to": recipient, "canceled": True},
                        status=DeliveryStatus.CANCELED,
                        last_error=CANCELED_BY_CLIENT,
                    )
                    return canceled
                pk, status, attempt = row
                if status == DeliveryStatus.CANCELED:
                    return canceled
                if status != DeliveryStatus.PENDING:
                    refused = delivery_status_for_client(status=status, current_attempt=attempt)
                    return CancelResult(canceled=False, status=refused)
                records.filter(pk=pk).update(
                    status=DeliveryStatus.CANCELED, last_error=CANCELED_BY_CLIENT, updated_at=timezone.now()
                )
                return canceled
        except IntegrityError:
            # A database with concurrent writers (PostgreSQL): a worker's claim inserted the record
            # first. Read it again and decide on it.
            if not tries_left:
                raise
    raise AssertionError("unreachable")
