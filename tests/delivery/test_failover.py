"""The circuit breaker and the failover provider, with fake providers at the edge (the unit under test
is the routing and the breaker; tests/faults/test_smtp_failover.py runs it against real SMTP servers)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence

import pytest
from django.core.exceptions import ImproperlyConfigured

from delivery.decisions import CallResult
from delivery.errors import PermanentProviderError, ProviderThrottled, TransientProviderError
from delivery.failover import BreakerPolicy, BreakerState, CircuitBreaker, FailoverProvider
from delivery.providers import Provider, ProviderPool, SendRequest, SendResult
from delivery.registry import get_channel
from messaging.metrics import BREAKER_SWITCHES

POLICY = BreakerPolicy(failures=3, cooldown=10.0, max_cooldown=40.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def request() -> SendRequest:
    return SendRequest(
        message_id=uuid.uuid4(), trace_id="a" * 32, to="ada@example.com", body="hi", subject="s", metadata={}, attempt=1
    )


class FakeProvider(Provider):
    """Answers with `error` (None: accepted); counts its calls and its batch calls."""

    def __init__(self, name: str, error: Exception | None = None) -> None:
        self.name = name
        self.error = error
        self.calls = 0
        self.batches: list[int] = []
        self.lock = threading.Lock()

    def send(self, request: SendRequest) -> SendResult:
        with self.lock:
            self.calls += 1
        if self.error is not None:
            raise self.error
        return SendResult(provider_message_id=f"{self.name}-{request.message_id}")

    def send_many(self, requests: Sequence[SendRequest], pool: ProviderPool) -> list[CallResult]:
        self.batches.append(len(requests))
        return super().send_many(requests, pool)


def failing(breaker: CircuitBreaker, error: Exception, times: int) -> None:
    for _ in range(times):
        permit = breaker.acquire()
        assert permit is not None
        breaker.record(permit, error)


def test_the_breaker_opens_after_consecutive_transient_failures_only():
    breaker = CircuitBreaker(POLICY, clock=Clock())
    failing(breaker, TransientProviderError("timeout"), 2)
    permit = breaker.acquire()
    assert permit is not None
    breaker.record(permit, None)  # a success in between: the count starts again
    failing(breaker, TransientProviderError("timeout"), 2)
    assert breaker.state is BreakerState.CLOSED
    failing(breaker, TimeoutError("any exception is transient"), 1)
    assert breaker.state is BreakerState.OPEN
    assert breaker.acquire() is None


@pytest.mark.parametrize(
    "answer", [ProviderThrottled("454 4.7.0 Throttling failure"), PermanentProviderError("recipient refused")]
)
def test_slow_down_and_permanent_answers_never_open_the_breaker(answer):
    breaker = CircuitBreaker(POLICY, clock=Clock())
    failing(breaker, answer, 10)
    assert breaker.state is BreakerState.CLOSED


def test_one_probe_after_the_cooldown_closes_on_success():
    clock = Clock()
    breaker = CircuitBreaker(POLICY, clock=clock)
    failing(breaker, TransientProviderError("refused"), 3)
    clock.now += 9.9
    assert breaker.acquire() is None
    clock.now += 0.1
    probe = breaker.acquire()
    assert probe is not None and probe.probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.acquire() is None  # only one probe
    breaker.record(probe, None)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.acquire() is not None


def test_the_cooldown_doubles_while_probes_fail_up_to_its_cap():
    clock = Clock()
    breaker = CircuitBreaker(POLICY, clock=clock)
    failing(breaker, TransientProviderError("refused"), 3)
    cooldowns = []
    for _ in range(4):
        clock.now += breaker.cooldown
        probe = breaker.acquire()
        assert probe is not None and probe.probe
        breaker.record(probe, TransientProviderError("still refused"))
        assert breaker.state is BreakerState.OPEN
        cooldowns.append(breaker.cooldown)
    assert cooldowns == [20.0, 40.0, 40.0, 40.0]


def test_a_breaker_that_opens_again_right_after_closing_keeps_backing_off():
    """It cannot flap: a provider that answers a probe and fails again waits longer each time."""
    clock = Clock()
    breaker = CircuitBreaker(POLICY, clock=clock)
    failing(breaker, TransientProviderError("refused"), 3)
    clock.now += 10
    probe = breaker.acquire()
    assert probe is not None
    breaker.record(probe, None)
    failing(breaker, TransientProviderError("refused"), 3)
    assert (breaker.state, breaker.cooldown) == (BreakerState.OPEN, 20.0)
    # Closed long enough (more than its cooldown): a later outage starts from the first cooldown.
    clock.now += 20
    probe = breaker.acquire()
    assert probe is not None
    breaker.record(probe, None)
    clock.now += 60
    failing(breaker, TransientProviderError("refused"), 3)
    assert breaker.cooldown == 10.0


def test_a_probe_that_never_answers_is_replaced_after_the_longest_cooldown():
    clock = Clock()
    breaker = CircuitBreaker(POLICY, clock=clock)
    failing(breaker, TransientProviderError("refused"), 3)
    clock.now += 10
    lost = breaker.acquire()
    assert lost is not None and lost.probe
    clock.now += 40
    assert breaker.acquire() is None
    clock.now += 1
    probe = breaker.acquire()
    assert probe is not None and probe.probe
    breaker.record(lost, TransientProviderError("late"))  # the old probe's answer settles nothing
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record(probe, None)
    assert breaker.state is BreakerState.CLOSED


def test_calls_started_before_the_breaker_opened_do_not_settle_it():
    clock = Clock()
    breaker = CircuitBreaker(POLICY, clock=clock)
    early = breaker.acquire()
    assert early is not None
    failing(breaker, TransientProviderError("refused"), 3)
    breaker.record(early, None)  # a slow call that succeeded on the old connection
    assert breaker.state is BreakerState.OPEN


def test_only_one_probe_among_many_threads():
    clock = Clock()
    breaker = CircuitBreaker(POLICY, clock=clock)
    failing(breaker, TransientProviderError("refused"), 3)
    clock.now += 10
    start = threading.Barrier(16)
    permits = []

    def ask() -> None:
        start.wait()
        permits.append(breaker.acquire())

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for permit in permits if permit is not None) == 1


def failover(*providers: Provider, policy: BreakerPolicy = POLICY) -> FailoverProvider:
    return FailoverProvider(list(providers), channel="email", policy=policy)


def test_sends_go_to_the_next_provider_once_the_first_ones_breaker_opens():
    primary, backup = FakeProvider("smtp://a:25", TransientProviderError("refused")), FakeProvider("smtp://b:25")
    provider = failover(primary, backup)
    assert provider.next_provider() == "smtp://a:25"
    before = BREAKER_SWITCHES.labels("email", "smtp://a:25", "closed", "open")._value.get()
    with ProviderPool(4) as pool:
        first = provider.send_many([request() for _ in range(3)], pool)
        assert [r.provider for r in first] == ["smtp://a:25"] * 3
        assert all(isinstance(r.error, TransientProviderError) for r in first)
        second = provider.send_many([request() for _ in range(5)], pool)
    assert [r.provider for r in second] == ["smtp://b:25"] * 5
    assert all(r.error is None for r in second)
    assert backup.batches == [5]  # the backup's own batch path, the whole batch at once
    assert BREAKER_SWITCHES.labels("email", "smtp://a:25", "closed", "open")._value.get() == before + 1
    # Whose rate limit the next wave takes from: the backup's, while the primary's breaker is open.
    assert provider.next_provider() == "smtp://b:25"


def test_a_batch_while_half_open_sends_one_probe_to_the_first_and_the_rest_to_the_next():
    clock = Clock()
    primary, backup = FakeProvider("a", TransientProviderError("refused")), FakeProvider("b")
    provider = failover(primary, backup)
    for route in provider.routes:
        route.breaker._clock = clock
    with ProviderPool(4) as pool:
        provider.send_many([request() for _ in range(3)], pool)
        primary.error = None  # back up
        clock.now += 10
        results = provider.send_many([request() for _ in range(6)], pool)
        assert sorted(r.provider for r in results) == ["a"] + ["b"] * 5
        assert provider.routes[0].breaker.state is BreakerState.CLOSED
        again = provider.send_many([request() for _ in range(4)], pool)
    assert [r.provider for r in again] == ["a"] * 4
    assert primary.batches[-1] == 4


def test_every_breaker_open_fails_fast_with_a_transient_error():
    a, b = FakeProvider("a", TransientProviderError("down")), FakeProvider("b", TransientProviderError("down"))
    provider = failover(a, b, policy=BreakerPolicy(failures=1, cooldown=60, max_cooldown=60))
    with ProviderPool(2) as pool:
        provider.send_many([request()], pool)
        provider.send_many([request()], pool)
        calls = a.calls + b.calls
        results = provider.send_many([request(), request()], pool)
    assert a.calls + b.calls == calls  # no call made
    assert all(isinstance(r.error, TransientProviderError) and "unavailable" in str(r.error) for r in results)
    assert all(r.provider == "" for r in results)
    with pytest.raises(TransientProviderError):
        provider.send(request())


def test_a_permanent_answer_is_returned_and_leaves_the_provider_in_use():
    primary = FakeProvider("a", PermanentProviderError("no such mailbox"))
    provider = failover(primary, FakeProvider("b"))
    with ProviderPool(2) as pool:
        results = provider.send_many([request() for _ in range(10)], pool)
    assert {r.provider for r in results} == {"a"}
    assert all(isinstance(r.error, PermanentProviderError) for r in results)
    assert provider.routes[0].breaker.state is BreakerState.CLOSED


def test_failover_is_idempotent_only_when_every_provider_is():
    a, b = FakeProvider("a"), FakeProvider("b")
    a.idempotent = True
    assert not failover(a, b).idempotent
    b.idempotent = True
    assert failover(a, b).idempotent


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("failures", "five", "EMAIL_BREAKER_FAILURES"),
        ("failures", "0", "EMAIL_BREAKER_FAILURES"),
        ("cooldown", "soon", "EMAIL_BREAKER_COOLDOWN"),
        ("max_cooldown", "1s", "EMAIL_BREAKER_MAX_COOLDOWN"),
    ],
)
def test_breaker_settings_that_do_not_parse_stop_the_worker_naming_the_setting(settings, setting, value, named):
    settings.DELIVERY_BREAKER = {**settings.DELIVERY_BREAKER, "email": {**settings.DELIVERY_BREAKER["email"]}}
    settings.DELIVERY_BREAKER["email"][setting] = value
    with pytest.raises(ImproperlyConfigured, match=named):
        get_channel("email").build_provider()


def test_several_providers_build_a_failover_provider_with_their_names(settings):
    settings.SMS_PROVIDER = "simulator,tests.delivery.test_failover.NamedFake"
    provider = get_channel("sms").build_provider()
    assert isinstance(provider, FailoverProvider)
    assert [route.provider.name for route in provider.routes] == ["simulator", "tests.delivery.test_failover.NamedFake"]


_SIM = "sms_service.providers.SimulatedSmsProvider"


class NamedFake(FakeProvider):
    def __init__(self) -> None:
        super().__init__("")
