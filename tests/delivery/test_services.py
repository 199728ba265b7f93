"""The delivery record services: what each leaves in the record and its attempt rows."""

from datetime import UTC, datetime

import pytest

from delivery import services
from delivery.models import AttemptOutcome, DeliveryStatus
from delivery.services import AttemptReport, delivery_mark_attempt_failed, delivery_mark_sent, delivery_receive
from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS, make_envelope, spec

pytestmark = pytest.mark.django_db(databases=CHANNEL_DBS)

SMS = spec(Channel.SMS)


def attempt(outcome: AttemptOutcome, **fields: str) -> AttemptReport:
    return AttemptReport(number=1, outcome=outcome, started_at=datetime.now(UTC), duration_ns=1_500_000, **fields)


def stored(delivery_id: int):
    return SMS.record_model.objects.using(SMS.database).get(pk=delivery_id)


def test_receive_creates_a_pending_record_once():
    envelope = make_envelope(Channel.SMS)
    first = delivery_receive(spec=SMS, envelope=envelope)
    again = delivery_receive(spec=SMS, envelope=envelope)
    assert first == again
    assert first.status == DeliveryStatus.PENDING
    record = stored(first.pk)
    assert (record.message_id, record.trace_id, record.recipient) == (envelope.id, envelope.trace_id, envelope.to)
    assert record.payload == envelope.to_dict()


def test_receive_losing_the_race_to_insert_returns_the_winners_record(monkeypatch):
    envelope = make_envelope(Channel.SMS)
    winner = delivery_receive(spec=SMS, envelope=envelope)
    SMS.record_model.objects.using(SMS.database).filter(pk=winner.pk).update(status=DeliveryStatus.SENT)
    real_read, reads = services._received, []

    def read_missing_the_winner_first(records, message_id):
        # As if the winner committed between this delivery's read and its INSERT.
        reads.append(message_id)
        return None if len(reads) == 1 else real_read(records, message_id)

    monkeypatch.setattr(services, "_received", read_missing_the_winner_first)
    received = delivery_receive(spec=SMS, envelope=envelope)
    assert received == services.ReceivedDelivery(pk=winner.pk, status=DeliveryStatus.SENT)
    assert len(reads) == 2
    assert SMS.record_model.objects.using(SMS.database).filter(message_id=envelope.id).count() == 1


def test_mark_sent_records_the_send_and_the_attempt():
    received = delivery_receive(spec=SMS, envelope=make_envelope(Channel.SMS))
    before = stored(received.pk)
    delivery_mark_sent(
        spec=SMS, delivery_id=received.pk, attempt=attempt(AttemptOutcome.SENT, provider_message_id="p-1")
    )
    record = stored(received.pk)
    assert record.status == DeliveryStatus.SENT
    assert (record.attempt_count, record.provider_message_id, record.last_error) == (1, "p-1", "")
    assert record.sent_at is not None and record.updated_at > before.updated_at
    assert record.created_at == before.created_at
    (row,) = record.attempts.all()
    assert (row.number, row.outcome, row.duration_ms, row.provider_message_id) == (1, AttemptOutcome.SENT, 1.5, "p-1")


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (AttemptOutcome.TRANSIENT_FAILURE, DeliveryStatus.PENDING),
        (AttemptOutcome.EXHAUSTED, DeliveryStatus.FAILED),
        (AttemptOutcome.PERMANENT_FAILURE, DeliveryStatus.FAILED),
    ],
)
def test_a_failed_attempt_leaves_the_status_its_outcome_implies(outcome, status):
    received = delivery_receive(spec=SMS, envelope=make_envelope(Channel.SMS))
    before = stored(received.pk)
    failed = attempt(outcome, error_type="TransientProviderError", error_message="busy")
    delivery_mark_attempt_failed(spec=SMS, delivery_id=received.pk, attempt=failed)
    delivery_mark_attempt_failed(spec=SMS, delivery_id=received.pk, attempt=failed)
    record = stored(received.pk)
    assert (record.status, record.attempt_count) == (status, 2)
    assert record.last_error == "TransientProviderError: busy"
    assert record.sent_at is None and record.updated_at > before.updated_at
    assert [row.error_message for row in record.attempts.all()] == ["busy", "busy"]


def test_a_sent_attempt_is_not_a_failure():
    received = delivery_receive(spec=SMS, envelope=make_envelope(Channel.SMS))
    with pytest.raises(ValueError, match="not a failed attempt"):
        delivery_mark_attempt_failed(spec=SMS, delivery_id=received.pk, attempt=attempt(AttemptOutcome.SENT))
