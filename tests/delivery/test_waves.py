"""The deliver step in process, on the real channel database, with a provider of the test's own at the
edge: claims never run ahead of the calls in progress, and a slow-down answer spends no attempt."""

from __future__ import annotations

import threading

import pytest

from bench.handler import in_process_chain, items_for
from delivery.errors import ProviderThrottled
from delivery.models import DeliveryStatus
from delivery.providers import Provider, SendRequest, SendResult
from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS, make_envelope, records

pytestmark = pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)

CHANNEL = Channel.SMS
WAVE = 4


class Gate(Provider):
    """Holds every call until the test opens the gate; counts the calls it got."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.calls = 0
        self._lock = threading.Lock()

    def send(self, request: SendRequest) -> SendResult:
        with self._lock:
            self.calls += 1
        self.open.wait(30)
        return SendResult(provider_message_id=f"gate-{request.message_id}")


class ThrottlesFirstCalls(Provider):
    """Answers the first `refusals` calls of each message with a slow-down answer, then sends."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def send(self, request: SendRequest) -> SendResult:
        with self._lock:
            count = self.seen[request.idempotency_key] = self.seen.get(request.idempotency_key, 0) + 1
        if count <= self.refusals:
            raise ProviderThrottled("429 Too Many Requests (code 20429)", retry_after=0.05)
        return SendResult(provider_message_id=f"sent-{request.message_id}")


def chain(provider: Provider):
    return in_process_chain(CHANNEL, pool_size=WAVE, provider=provider)


def test_claims_never_run_ahead_of_the_calls_in_progress():
    """While a wave's calls hang, exactly the wave is `sending`; the rest of the batch is unclaimed."""
    provider = Gate()
    steps, guard = chain(provider)
    envelopes = [make_envelope(CHANNEL) for _ in range(3 * WAVE)]
    ids = [envelope.id for envelope in envelopes]
    items = items_for(envelopes)
    worker = threading.Thread(target=guard.run, args=(steps, items))
    worker.start()
    try:
        for _ in range(300):
            if provider.calls == WAVE:
                break
            provider.open.wait(0.05)
        claimed = [r for r in records(CHANNEL, ids) if r.status == DeliveryStatus.SENDING]
        assert len(claimed) == WAVE  # a SIGKILL now leaves these unknown, not the batch of 12
        assert len(records(CHANNEL, ids)) == WAVE  # the others are not even created yet
    finally:
        provider.open.set()
        worker.join(30)
    # Every record is sent, or was never claimed: deferred (past the step's second), fetched again later.
    assert {r.status for r in records(CHANNEL, ids)} == {DeliveryStatus.SENT}
    assert len(records(CHANNEL, ids)) + sum(item.deferred for item in items) == len(envelopes)


def test_a_slow_down_answer_spends_no_attempt_and_the_message_is_sent():
    provider = ThrottlesFirstCalls(refusals=2)
    steps, guard = chain(provider)
    envelopes = [make_envelope(CHANNEL) for _ in range(WAVE)]
    batch = envelopes
    for _ in range(30):  # as the runner does: what a batch deferred is fetched again
        items = items_for(batch)
        guard.run(steps, items)
        batch = [item.value.envelope for item in items if item.deferred]
        if not batch:
            break
    rows = records(CHANNEL, [envelope.id for envelope in envelopes])
    assert not batch
    assert {r.status for r in rows} == {DeliveryStatus.SENT}
    for row in rows:
        assert row.attempt_count == 1  # two refusals, no attempt spent
        assert [a.outcome for a in row.attempts.all()] == ["sent"]
    assert set(provider.seen.values()) == {3}
