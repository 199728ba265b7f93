"""Failover between a channel's providers: a circuit breaker per provider, and a Provider that sends
each message through the first provider, in the configured order, whose breaker lets it.

A breaker opens after `failures` transient failures in a row (timeouts, refused connections, 4xx
SMTP replies, 5xx HTTP). A slow-down answer (ProviderThrottled) and a permanent answer about a recipient
(PermanentProviderError) do not count: the provider answered, it is up. While a breaker is open its
provider is skipped; after the cooldown one probe call — exactly one, however many pool threads ask —
tries it again: success closes the breaker, failure opens it again with the cooldown doubled (up to
`max_cooldown`). A breaker that opens again soon after closing keeps its doubled cooldown too, so a
provider that answers one probe and then fails again is not given the traffic back every few seconds.
With every breaker open a call fails at once with a TransientProviderError: the retry topics try it
again later, with an attempt spent, as for any transient failure.

A transient failure is returned as it is, not tried on the next provider at once: a timeout may
come after the provider took the message, and the retry topic's delay bounds how often that doubles.

Our own breaker, not pybreaker or circuitbreaker: both wrap a call and learn from its exception,
while provider calls here return their errors as values (CallResult) and a batch must be routed
before its calls start (so each provider keeps its batch path); neither doubles the cooldown, and
circuitbreaker's half-open state lets every concurrent caller through, not one probe. What is needed
is sixty lines with one lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import IntEnum

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.durations import parse_duration
from delivery.decisions import CallResult
from delivery.errors import PermanentProviderError, ProviderThrottled, TransientProviderError
from delivery.providers import Provider, ProviderPool, SendRequest, SendResult
from messaging.metrics import BREAKER_STATE, BREAKER_SWITCHES

logger = logging.getLogger(__name__)


class BreakerState(IntEnum):
    """The values of the `comms_provider_breaker_state` gauge."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int  # transient failures in a row that open the breaker
    cooldown: float  # seconds open before the first probe
    max_cooldown: float  # the doubling stops here

    def __post_init__(self) -> None:
        if self.failures < 1 or self.cooldown <= 0 or self.max_cooldown < self.cooldown:
            raise ValueError(f"invalid breaker policy {self}")

    @classmethod
    def for_channel(cls, channel: str) -> BreakerPolicy:
        """From `<CHANNEL>_BREAKER_FAILURES`, `_COOLDOWN` and `_MAX_COOLDOWN`; ImproperlyConfigured
        naming the setting when one does not parse."""
        raw = settings.DELIVERY_BREAKER[channel]
        prefix = f"{channel.upper()}_BREAKER"
        try:
            failures = int(raw["failures"])
        except ValueError:
            raise ImproperlyConfigured(f"{prefix}_FAILURES: {raw['failures']!r} is not a whole number") from None
        if failures < 1:
            raise ImproperlyConfigured(f"{prefix}_FAILURES: must be at least 1, not {failures}")
        seconds = {}
        for key in ("cooldown", "max_cooldown"):
            try:
                seconds[key] = parse_duration(str(raw[key]))
            except ValueError as error:
                raise ImproperlyConfigured(f"{prefix}_{key.upper()}: {error}") from None
            if seconds[key] <= 0:
                raise ImproperlyConfigured(f"{prefix}_{key.upper()}: must be above zero")
        if seconds["max_cooldown"] < seconds["cooldown"]:
            raise ImproperlyConfigured(f"{prefix}_MAX_COOLDOWN: shorter than {prefix}_COOLDOWN")
        return cls(failures=failures, cooldown=seconds["cooldown"], max_cooldown=seconds["max_cooldown"])


def counts_as_failure(error: BaseException | None) -> bool:
    """Does this answer say the provider is failing? Any error but a slow-down or a permanent answer
    (the Provider contract: an unknown exception is transient)."""
    return error is not None and not isinstance(error, ProviderThrottled | PermanentProviderError)


@dataclass(frozen=True)
class Permit:
    """Leave to make one call; `probe`: the one call of a half-open breaker."""

    probe: bool
    generation: int  # calls let through before the breaker last opened do not settle it


class CircuitBreaker:
    """Thread-safe: `acquire` and `record` run on the provider pool's threads."""

    def __init__(
        self,
        policy: BreakerPolicy,
        *,
        on_change: Callable[[BreakerState, BreakerState], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self._on_change = on_change
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._cooldown = policy.cooldown
        self._open_until = 0.0
        self._closed_at = -float("inf")
        self._probe_started = 0.0
        self._generation = 0

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def cooldown(self) -> float:
        return self._cooldown

    def acquire(self) -> Permit | None:
        """A permit to call now, or None: open and cooling down, or half-open with its probe out."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return Permit(probe=False, generation=self._generation)
            now = self._clock()
            if self._state is BreakerState.OPEN and now >= self._open_until:
                self._switch(BreakerState.HALF_OPEN)
                self._probe_started = now
                return Permit(probe=True, generation=self._generation)
            if self._state is BreakerState.HALF_OPEN and now - self._probe_started > self.policy.max_cooldown:
                # A probe never answered (its thread died?): another one, or the breaker stays half-open.
                self._generation += 1
                self._probe_started = now
                return Permit(probe=True, generation=self._generation)
            return None

    def would_allow(self) -> bool:
        """Whether a call now would go through (closed, or open with its cooldown over); takes no permit."""
        with self._lock:
            return self._state is BreakerState.CLOSED or (
                self._state is BreakerState.OPEN and self._clock() >= self._open_until
            )

    def record(self, permit: Permit, error: BaseException | None) -> None:
        """The answer of a call made with `permit`."""
        failed = counts_as_failure(error)
        with self._lock:
            if permit.generation != self._generation:
                return  # started before the breaker last opened: it says nothing new
            if permit.probe:
                if failed:
                    self._cooldown = min(self._cooldown * 2, self.policy.max_cooldown)
                    self._open()
                else:
                    self._failures = 0
                    self._closed_at = self._clock()
                    self._switch(BreakerState.CLOSED)
                return
            if self._state is not BreakerState.CLOSED:
                return
            if not failed:
                self._failures = 0
                return
            self._failures += 1
            if self._failures >= self.policy.failures:
                # Open again soon after closing: the provider is flapping, keep backing off.
                if self._clock() - self._closed_at > self._cooldown:
                    self._cooldown = self.policy.cooldown
                else:
                    self._cooldown = min(self._cooldown * 2, self.policy.max_cooldown)
                self._open()

    def _open(self) -> None:
        self._generation += 1
        self._failures = 0
        self._open_until = self._clock() + self._cooldown
        self._switch(BreakerState.OPEN)

    def _switch(self, state: BreakerState) -> None:
        before, self._state = self._state, state
        if self._on_change is not None and before is not state:
            self._on_change(before, state)


@dataclass(frozen=True)
class Route:
    provider: Provider
    breaker: CircuitBreaker


class FailoverProvider(Provider):
    """A channel's providers in order, each behind its breaker (see the module's docstring)."""

    def __init__(self, providers: Sequence[Provider], *, channel: str, policy: BreakerPolicy) -> None:
        if len(providers) < 2:
            raise ValueError("failover needs at least two providers")
        self.channel = channel
        self.routes = [Route(provider, self._breaker(channel, provider.name, policy)) for provider in providers]
        # A resend after a crash may reach another provider: only idempotent if every one is.
        self.idempotent = all(provider.idempotent for provider in providers)
        self.name = ""

    @staticmethod
    def _breaker(channel: str, name: str, policy: BreakerPolicy) -> CircuitBreaker:
        def on_change(before: BreakerState, after: BreakerState) -> None:
            BREAKER_STATE.labels(channel, name).set(after.value)
            BREAKER_SWITCHES.labels(channel, name, before.label, after.label).inc()
            log = logger.warning if after is BreakerState.OPEN else logger.info
            log("%s provider %s: breaker %s → %s", channel, name, before.label, after.label)

        BREAKER_STATE.labels(channel, name).set(BreakerState.CLOSED.value)
        return CircuitBreaker(policy, on_change=on_change)

    def route(self) -> tuple[Route, Permit] | None:
        """The first provider, in order, whose breaker lets a call through now."""
        for route in self.routes:
            permit = route.breaker.acquire()
            if permit is not None:
                return route, permit
        return None

    def next_provider(self) -> str:
        for route in self.routes:
            if route.breaker.would_allow():
                return route.provider.name
        return self.routes[0].provider.name

    def send(self, request: SendRequest) -> SendResult:
        result = self.call(request)
        if result.error is not None:
            raise result.error
        return SendResult(provider_message_id=result.provider_message_id)

    def call(self, request: SendRequest) -> CallResult:
        routed = self.route()
        if routed is None:
            return self._unavailable()
        route, permit = routed
        result = route.provider.call(request)
        route.breaker.record(permit, result.error)
        return replace(result, provider=route.provider.name)

    def send_many(self, requests: Sequence[SendRequest], pool: ProviderPool) -> list[CallResult]:
        """Routes every request first, then calls each provider with its share: the provider taking
        most of the batch through its own `send_many` (its batch path: one SMTP session per group), the
        others (a probe, mostly) one call each on the pool meanwhile."""
        routed = [self.route() for _ in requests]
        shares: dict[int, list[int]] = {}
        for index, choice in enumerate(routed):
            if choice is not None:
                shares.setdefault(self.routes.index(choice[0]), []).append(index)
        results = [self._unavailable() for _ in requests]
        if not shares:
            return results
        main = max(shares, key=lambda position: len(shares[position]))
        others: list[tuple[int, Future[CallResult]]] = [
            (index, pool.submit(self.routes[position].provider.call, requests[index]))
            for position, indexes in shares.items()
            if position != main
            for index in indexes
        ]
        main_share = shares[main]
        try:
            answers = self.routes[main].provider.send_many([requests[index] for index in main_share], pool)
        except Exception as error:  # the contract says never; a broken provider still must not lose the probes
            answers = [CallResult(started_at=datetime.now(UTC), duration_ns=0, error=error) for _ in main_share]
        for index, answer in zip(main_share, answers, strict=True):
            results[index] = answer
        for index, future in others:
            results[index] = future.result()
        for index, choice in enumerate(routed):
            if choice is not None:
                route, permit = choice
                route.breaker.record(permit, results[index].error)
                results[index] = replace(results[index], provider=route.provider.name)
        return results

    def _unavailable(self) -> CallResult:
        names = ", ".join(route.provider.name for route in self.routes)
        error = TransientProviderError(f"every {self.channel} provider is unavailable (circuit breakers open: {names})")
        return CallResult(started_at=datetime.now(UTC), duration_ns=0, error=error)
