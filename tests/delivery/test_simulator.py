"""The simulated provider: a call log like a real provider's view — every call it receives is a row,
a repeated call sends again unless it is configured to honour idempotency keys."""

import dataclasses
import time
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured

from delivery.errors import PermanentProviderError, ProviderThrottled, TransientProviderError
from delivery.models import CallOutcome
from delivery.providers import SendRequest
from delivery.rates import Rate
from delivery.simulator import SimulateControls, SimulatedLedger, SimulatorSettings
from messaging.channels import Channel
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


def calls(message_id: uuid.UUID) -> list[str]:
    rows = SmsSimulatedSend.objects.filter(idempotency_key=str(message_id)).order_by("id")
    return list(rows.values_list("outcome", flat=True))


def test_controls_are_read_from_metadata_and_garbage_is_ignored():
    assert SimulateControls.from_metadata({"simulate": {"failTimes": 2, "latencyMs": 50}}) == SimulateControls(
        fail_times=2, latency_ms=50.0
    )
    assert SimulateControls.from_metadata({"simulate": {"permanent": True}}).permanent
    assert SimulateControls.from_metadata({"simulate": {"failTimes": "lots", "permanent": "yes"}}) == SimulateControls()
    assert SimulateControls.from_metadata({}) == SimulateControls()


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_every_call_is_logged_failures_included_and_fail_times_counts_the_envelope_attempt():
    provider = SimulatedSmsProvider(SimulatorSettings())
    message_id = uuid.uuid4()
    for attempt in (1, 2):
        with pytest.raises(TransientProviderError):
            provider.send(request(attempt, {"failTimes": 2}, message_id))
    result = provider.send(request(3, {"failTimes": 2}, message_id))
    assert calls(message_id) == [CallOutcome.TRANSIENT_FAILURE, CallOutcome.TRANSIENT_FAILURE, CallOutcome.ACCEPTED]
    sent = SmsSimulatedSend.objects.get(outcome=CallOutcome.ACCEPTED)
    assert (sent.provider_message_id, sent.attempt) == (result.provider_message_id, 3)
    assert sent.called_at is not None


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_a_permanent_failure_is_a_logged_call_that_sent_nothing():
    first = request(simulate={"permanent": True})
    with pytest.raises(PermanentProviderError):
        SimulatedSmsProvider(SimulatorSettings()).send(first)
    (row,) = SmsSimulatedSend.objects.all()
    assert (row.outcome, row.provider_message_id) == (CallOutcome.PERMANENT_FAILURE, "")
    assert "permanent" in row.error


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_like_smtp_or_twilio_a_repeated_key_sends_again():
    provider = SimulatedSmsProvider(SimulatorSettings())
    assert not provider.idempotent
    first = request()
    one, two = provider.send(first), provider.send(request(message_id=first.message_id))
    assert one != two
    assert calls(first.message_id) == [CallOutcome.ACCEPTED, CallOutcome.ACCEPTED]


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_an_idempotent_simulator_answers_a_repeated_key_with_the_first_result_and_sends_nothing():
    provider = SimulatedSmsProvider(SimulatorSettings(idempotent=True))
    assert provider.idempotent
    first = request()
    twin = request(message_id=first.message_id)
    # Within one batch too: the twin is answered from the first call of the batch.
    results = provider.ledger.call_many([first, twin])
    again = provider.send(request(attempt=2, message_id=first.message_id))
    assert results[0].provider_message_id == results[1].provider_message_id == again.provider_message_id
    assert calls(first.message_id) == [CallOutcome.ACCEPTED, CallOutcome.DEDUPLICATED, CallOutcome.DEDUPLICATED]


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_a_batch_is_answered_per_call_and_logged_in_one_go():
    ledger = SimulatedLedger(SmsSimulatedSend, SimulatorSettings())
    ok, refused, busy = request(), request(simulate={"permanent": True}), request(simulate={"failTimes": 1})
    results = ledger.call_many([ok, refused, busy])
    assert results[0].error is None and results[0].provider_message_id.startswith("sim-")
    assert isinstance(results[1].error, PermanentProviderError)
    assert isinstance(results[2].error, TransientProviderError)
    assert SmsSimulatedSend.objects.count() == 3


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_failure_rate_fails_calls_transiently():
    ledger = SimulatedLedger(SmsSimulatedSend, SimulatorSettings(failure_rate=1.0))
    (result,) = ledger.call_many([request()])
    assert isinstance(result.error, TransientProviderError) and "random" in str(result.error)


def test_simulator_settings_come_from_the_environment_backed_settings(settings):
    settings.DELIVERY_SIMULATOR = {
        **settings.DELIVERY_SIMULATOR,
        "sms": {"latency_ms": 25.0, "failure_rate": 0.1, "idempotent": True},
    }
    assert SimulatorSettings.for_channel(Channel.SMS) == SimulatorSettings(
        latency_ms=25.0, failure_rate=0.1, idempotent=True
    )


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_calls_of_a_batch_wait_out_the_latency_in_rounds_of_the_callers_concurrency():
    """A pool of 2 making 5 calls of 40 ms each needs 3 rounds: at least 120 ms (a lower bound, which
    a busy machine can only lengthen)."""
    ledger = SimulatedLedger(SmsSimulatedSend, SimulatorSettings(latency_ms=40))
    results = ledger.call_many([request() for _ in range(5)], concurrency=2)
    assert all(result.duration_ns >= 120_000_000 for result in results)


@pytest.fixture
def fresh_buckets(monkeypatch):
    """Each test its own buckets: they live as long as the process, as in a worker."""
    monkeypatch.setattr("delivery.simulator._buckets", {})


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_above_its_rate_limit_the_simulator_throttles_and_the_call_is_logged_as_not_sent(fresh_buckets):
    provider = SimulatedSmsProvider(SimulatorSettings(rate_limit=Rate.parse("5/s")))
    started = time.monotonic()
    results = provider.ledger.call_many([request() for _ in range(20)])
    elapsed = time.monotonic() - started
    throttled = [result.error for result in results if result.error is not None]
    assert 5 <= 20 - len(throttled) <= 5 + 5 * elapsed + 1
    assert throttled and all(isinstance(error, ProviderThrottled) for error in throttled)
    assert all(0 < error.retry_after <= 0.2 + 1e-9 for error in throttled)  # type: ignore[attr-defined]
    assert "above 5/s (segments)" in str(throttled[0])
    outcomes = list(SmsSimulatedSend.objects.values_list("outcome", flat=True))
    assert outcomes.count(CallOutcome.ACCEPTED) == 20 - len(throttled)
    assert outcomes.count(CallOutcome.THROTTLED) == len(throttled)  # not a failure: no attempt is spent on it


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_sms_counts_segments_against_the_rate_and_providers_of_a_channel_share_it(fresh_buckets):
    config = SimulatorSettings(rate_limit=Rate.parse("3/s"))
    long_sms = dataclasses.replace(request(), body="a" * 161)  # two segments
    first = SimulatedSmsProvider(config).ledger.call_many([long_sms])
    second = SimulatedSmsProvider(config).ledger.call_many([request(), request()])  # 1 token left
    assert first[0].error is None
    assert second[0].error is None and isinstance(second[1].error, ProviderThrottled)


@pytest.mark.parametrize("value", ["fast", "20", "0/s", "-1/s", "20/fortnight"])
def test_a_rate_limit_that_does_not_parse_stops_the_provider_naming_the_setting(settings, value):
    settings.DELIVERY_SIMULATOR = {**settings.DELIVERY_SIMULATOR, "sms": {"rate_limit": value}}
    with pytest.raises(ImproperlyConfigured, match="SMS_SIMULATOR_RATE_LIMIT"):
        SimulatedSmsProvider()


def test_the_rate_limit_setting_is_read_from_the_environment_backed_settings(settings):
    settings.DELIVERY_SIMULATOR = {**settings.DELIVERY_SIMULATOR, "sms": {"rate_limit": "1200/min"}}
    assert SimulatorSettings.for_channel(Channel.SMS).rate_limit == Rate(per_second=20.0)
    settings.DELIVERY_SIMULATOR = {**settings.DELIVERY_SIMULATOR, "sms": {"rate_limit": ""}}
    assert SimulatorSettings.for_channel(Channel.SMS).rate_limit is None
