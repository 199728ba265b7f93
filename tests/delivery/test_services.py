"""The delivery record services: claims and outcomes of a whole batch, each in one transaction."""

from datetime import UTC, datetime

import pytest

from delivery.decisions import CallResult, ClaimAction, DeadLetter, Failure, RetryLater, Sent, UnknownOutcomePolicy
from delivery.errors import TransientProviderError
from delivery.models import AttemptOutcome, DeliveryStatus
from delivery.services import (
    AttemptOutcomeReport,
    deliveries_claim,
    deliveries_mark_outcomes_published,
    deliveries_record_outcomes,
    delivery_reopen,
    delivery_resolve_as_sent,
)
from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS, make_envelope, spec

pytestmark = pytest.mark.django_db(databases=CHANNEL_DBS)

SMS = spec(Channel.SMS)


def claim(envelopes, *, on_unknown=UnknownOutcomePolicy.RESEND, idempotent=False, in_flight=()):
    return deliveries_claim(
        spec=SMS, envelopes=envelopes, on_unknown=on_unknown, idempotent_provider=idempotent, in_flight=in_flight
    )


def stored(message_id):
    return SMS.record_model.objects.using(SMS.database).get(message_id=message_id)


def call(error=None, provider_message_id=""):
    return CallResult(datetime.now(UTC), 2_500_000, provider_message_id=provider_message_id, error=error)


def test_first_sight_creates_the_record_claimed_for_its_attempt():
    envelope = make_envelope(Channel.SMS)
    (first,) = claim([envelope])
    assert first.action is ClaimAction.SEND and first.pk is not None and first.before is None
    record = stored(envelope.id)
    assert (record.status, record.current_attempt, record.attempt_count) == (DeliveryStatus.SENDING, 1, 0)
    assert record.claimed_at is not None and record.payload == envelope.to_dict()
    assert (record.trace_id, record.recipient) == (envelope.trace_id, envelope.to)


def test_a_twin_in_the_batch_and_an_id_in_flight_here_are_duplicates_not_unknown_outcomes():
    envelope, other = make_envelope(Channel.SMS), make_envelope(Channel.SMS)
    claims = claim([envelope, envelope])
    assert [c.action for c in claims] == [ClaimAction.SEND, ClaimAction.SKIP]
    (again,) = claim([envelope], in_flight={envelope.id})
    assert again.action is ClaimAction.SKIP
    (fresh,) = claim([other], in_flight={envelope.id})
    assert fresh.action is ClaimAction.SEND


def test_a_claim_left_by_a_dead_worker_is_resent_with_an_unknown_attempt_row():
    envelope = make_envelope(Channel.SMS)
    claim([envelope])  # the worker that made this claim died before writing an outcome
    (again,) = claim([envelope])
    assert again.action is ClaimAction.RESEND_UNKNOWN
    record = stored(envelope.id)
    assert record.status == DeliveryStatus.SENDING
    (row,) = record.attempts.all()
    assert (row.number, row.outcome, row.error_type) == (1, AttemptOutcome.UNKNOWN, "UnknownOutcome")


def test_hold_keeps_the_message_unknown_and_resolve_settles_it():
    envelope = make_envelope(Channel.SMS)
    claim([envelope])
    (again,) = claim([envelope], on_unknown=UnknownOutcomePolicy.HOLD)
    assert again.action is ClaimAction.HOLD_UNKNOWN
    assert stored(envelope.id).status == DeliveryStatus.UNKNOWN
    (later,) = claim([envelope], on_unknown=UnknownOutcomePolicy.HOLD)
    assert later.action is ClaimAction.SKIP  # held: nothing is sent until an operator says so

    assert delivery_resolve_as_sent(spec=SMS, message_id=envelope.id, note="checked the provider's console")
    record = stored(envelope.id)
    assert (record.status, record.last_error) == (DeliveryStatus.SENT, "checked the provider's console")
    assert record.sent_at is not None


def test_resend_reopens_an_unknown_message_for_attempt_1():
    envelope = make_envelope(Channel.SMS)
    claim([envelope])
    claim([envelope], on_unknown=UnknownOutcomePolicy.HOLD)
    assert delivery_reopen(spec=SMS, message_id=envelope.id)
    assert (stored(envelope.id).status, stored(envelope.id).current_attempt) == (DeliveryStatus.PENDING, 0)
    (again,) = claim([envelope])
    assert again.action is ClaimAction.SEND


def test_outcomes_of_a_batch_are_written_together():
    sent, retried, dead = (make_envelope(Channel.SMS) for _ in range(3))
    claims = claim([sent, retried, dead])
    busy, refused = Failure("TransientProviderError", "busy"), Failure("PermanentProviderError", "no such number")
    deliveries_record_outcomes(
        spec=SMS,
        reports=[
            AttemptOutcomeReport(claims[0].pk, 1, call(provider_message_id="p-1"), Sent("p-1")),
            AttemptOutcomeReport(claims[1].pk, 1, call(TransientProviderError("busy")), RetryLater(busy, 1, 2.0)),
            AttemptOutcomeReport(claims[2].pk, 1, call(), DeadLetter(refused, permanent=True)),
        ],
    )
    record = stored(sent.id)
    assert (record.status, record.provider_message_id, record.attempt_count, record.last_error) == (
        DeliveryStatus.SENT,
        "p-1",
        1,
        "",
    )
    assert record.sent_at is not None and record.outcome_published
    (row,) = record.attempts.all()
    assert (row.outcome, row.duration_ms, row.provider_message_id) == (AttemptOutcome.SENT, 2.5, "p-1")

    record = stored(retried.id)
    assert (record.status, record.last_error, record.outcome_published) == (
        DeliveryStatus.PENDING,
        "TransientProviderError: busy",
        False,
    )
    assert [r.outcome for r in record.attempts.all()] == [AttemptOutcome.TRANSIENT_FAILURE]
    record = stored(dead.id)
    assert (record.status, record.outcome_published) == (DeliveryStatus.FAILED, False)
    assert [r.outcome for r in record.attempts.all()] == [AttemptOutcome.PERMANENT_FAILURE]

    # Redelivered before Kafka acknowledged the retry record: produce it again, send nothing.
    assert claim([retried])[0].action is ClaimAction.REPUBLISH_RETRY
    deliveries_mark_outcomes_published(spec=SMS, pks=[claims[1].pk, claims[2].pk])
    assert claim([retried])[0].action is ClaimAction.SKIP
    assert claim([retried.with_attempt(2)])[0].action is ClaimAction.SEND
