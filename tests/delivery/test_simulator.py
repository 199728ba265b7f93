"""The simulated provider: deterministic controls, idempotency key, and a ledger row per real send."""

import uuid

import pytest

from delivery.errors import PermanentProviderError, TransientProviderError
from delivery.providers import SendRequest
from delivery.simulator import SimulateControls, SimulatedLedger, SimulatorSettings
from sms_service.models import SmsSimulatedSend
from sms_service.providers import SimulatedSmsProvider
from tests.delivery.support import CHANNEL_DBS


def request(attempt: int = 1, simulate: dict | None = None, message_id: uuid.UUID | None = None) -> SendRequest:
    return SendRequest(
        message_id=message_id or uuid.uuid4(),
        trace_id="a" * 32,
        to="+14155552671",
        body="hi",
        subject=None,
        metadata={"simulate": simulate} if simulate else {},
        attempt=attempt,
    )


def test_controls_are_read_from_metadata_and_garbage_is_ignored():
    assert SimulateControls.from_metadata({"simulate": {"failTimes": 2, "latencyMs": 50}}) == SimulateControls(
        fail_times=2, latency_ms=50.0
    )
    assert SimulateControls.from_metadata({"simulate": {"permanent": True}}).permanent
    assert SimulateControls.from_metadata({"simulate": {"failTimes": "lots", "permanent": "yes"}}) == SimulateControls()
    assert SimulateControls.from_metadata({}) == SimulateControls()


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_fail_times_counts_the_envelope_attempt_number():
    provider = SimulatedSmsProvider(SimulatorSettings())
    message_id = uuid.uuid4()
    for attempt in (1, 2):
        with pytest.raises(TransientProviderError):
            provider.send(request(attempt, {"failTimes": 2}, message_id))
    result = provider.send(request(3, {"failTimes": 2}, message_id))
    assert SmsSimulatedSend.objects.get().provider_message_id == result.provider_message_id


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_permanent_control_raises_a_permanent_error_and_records_nothing():
    with pytest.raises(PermanentProviderError):
        SimulatedSmsProvider(SimulatorSettings()).send(request(simulate={"permanent": True}))
    assert SmsSimulatedSend.objects.count() == 0


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_a_repeated_idempotency_key_returns_the_first_result_and_sends_nothing():
    provider = SimulatedSmsProvider(SimulatorSettings())
    first = request()
    again = request(attempt=2, message_id=first.message_id)
    assert provider.send(first) == provider.send(again)
    assert SmsSimulatedSend.objects.filter(idempotency_key=str(first.message_id)).count() == 1


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_a_send_racing_another_with_its_key_records_nothing_and_returns_the_first_result():
    ledger = SimulatedLedger(SmsSimulatedSend, SimulatorSettings())
    first = request()
    # Past the read both sends make before their write: the ledger's write itself has to decide.
    winner, loser = ledger._record(first), ledger._record(request(attempt=2, message_id=first.message_id))
    assert loser == winner
    (row,) = SmsSimulatedSend.objects.filter(idempotency_key=str(first.message_id))
    assert (row.provider_message_id, row.attempt, row.recipient) == (winner, 1, first.to)
    assert row.sent_at is not None


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_failure_rate_fails_sends_transiently():
    ledger = SimulatedLedger(SmsSimulatedSend, SimulatorSettings(failure_rate=1.0))
    with pytest.raises(TransientProviderError, match="random"):
        ledger.send(request())


def test_simulator_settings_come_from_the_environment_backed_settings(settings):
    settings.DELIVERY_SIMULATOR = {**settings.DELIVERY_SIMULATOR, "sms": {"latency_ms": 25.0, "failure_rate": 0.1}}
    from messaging.channels import Channel

    assert SimulatorSettings.for_channel(Channel.SMS) == SimulatorSettings(latency_ms=25.0, failure_rate=0.1)
