"""The simulated provider: a provider like the real ones, whose "service" is a call log in the
channel's database (one row per call it receives, whatever came of it).

Behaviour comes from per-channel settings (latency, random transient-failure rate, whether it honours
idempotency keys) and from `metadata.simulate` of a message (deterministic, for tests):
`{"failTimes": n}` fails attempts 1..n transiently, `{"permanent": true}` fails permanently,
`{"latencyMs": m}` overrides the latency. Attempts are counted from the envelope's attempt number,
so the outcome is the same in whichever process or restart handles it.

With `<CHANNEL>_SIMULATOR_RATE_LIMIT` (`20/s`, `1200/min`) it caps its rate like a real provider: a
call above it is answered ProviderThrottled (SES's 454, Twilio's 429), with the wait as retry_after.
SMS and WhatsApp count segments, as Twilio does. The cap is per process (a token bucket in memory,
one per channel): enough to show throttling by hand with `bin/run`, not a provider shared by several
worker processes — with N workers the simulated provider takes up to N times the rate.

Like SMTP, Twilio or SES it does not deduplicate: a repeated call sends again, and the call log shows
it, which is what the fault suite counts. Only with `<CHANNEL>_SIMULATOR_IDEMPOTENT=true` does it
behave like a provider that honours an idempotency key (answers the first result, sends nothing).
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, router, transaction

from config.db_bulk import RowInserter
from delivery.decisions import CallResult
from delivery.errors import PermanentProviderError, ProviderError, ProviderThrottled, TransientProviderError
from delivery.models import CallOutcome, SimulatedSend
from delivery.providers import Provider, ProviderPool, SendRequest, SendResult
from delivery.rates import Rate
from delivery.segments import SEGMENTED_CHANNELS, message_segments
from delivery.token_bucket import TokenBucket
from messaging.channels import Channel


@dataclass(frozen=True)
class SimulatorSettings:
    latency_ms: float = 0.0
    failure_rate: float = 0.0
    idempotent: bool = False
    rate_limit: Rate | None = None

    @classmethod
    def for_channel(cls, channel: Channel) -> SimulatorSettings:
        """Raises ImproperlyConfigured naming `<CHANNEL>_SIMULATOR_RATE_LIMIT` if it does not parse:
        the worker building this provider refuses to start rather than run uncapped."""
        values = dict(settings.DELIVERY_SIMULATOR[channel.value])
        try:
            rate = Rate.parse(values.pop("rate_limit", ""))
        except ValueError as error:
            raise ImproperlyConfigured(f"{channel.value.upper()}_SIMULATOR_RATE_LIMIT: {error}") from error
        return cls(**values, rate_limit=rate)


# One bucket per call log and rate, per process: the simulator's cap is not shared between workers.
_buckets: dict[tuple[str, float], TokenBucket] = {}
_buckets_lock = threading.Lock()


def _bucket(ledger_model: type[SimulatedSend], rate: Rate) -> TokenBucket:
    key = (ledger_model._meta.label, rate.per_second)
    with _buckets_lock:
        return _buckets.setdefault(key, TokenBucket(rate.per_second))


@dataclass(frozen=True)
class SimulateControls:
    """`metadata.simulate` of one message, validated."""

    fail_times: int = 0
    permanent: bool = False
    latency_ms: float | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> SimulateControls:
        raw = metadata.get("simulate")
        if not isinstance(raw, Mapping):
            return cls()
        fail_times, latency = raw.get("failTimes", 0), raw.get("latencyMs")
        return cls(
            fail_times=fail_times if isinstance(fail_times, int) and fail_times > 0 else 0,
            permanent=raw.get("permanent") is True,
            latency_ms=float(latency) if isinstance(latency, int | float) and latency >= 0 else None,
        )

    @property
    def deterministic(self) -> bool:
        return self.permanent or self.fail_times > 0


class SimulatedLedger:
    """The simulated service behind one channel: answers calls and logs each one (its call log)."""

    def __init__(
        self, ledger_model: type[SimulatedSend], config: SimulatorSettings, *, per_segment: bool = False
    ) -> None:
        """`per_segment`: a call costs its body's SMS segments against the rate (else one)."""
        self.ledger_model = ledger_model
        self.config = config
        self.per_segment = per_segment
        # Every ledger of a channel in this process (the email backend builds one per connection) shares it.
        self._bucket = _bucket(ledger_model, config.rate_limit) if config.rate_limit else None
        self._alias = router.db_for_write(ledger_model)
        self._calls = RowInserter(ledger_model, self._alias)

    def call_many(self, requests: Sequence[SendRequest], *, concurrency: int = 1) -> list[CallResult]:
        """Answer a batch of calls made `concurrency` at a time (the caller's pool): they wait out the
        latency in rounds, as concurrent calls to a real service do, and are logged in one
        transaction. If the log cannot be written, nothing was "sent": every call fails transiently."""
        started_at, clock = datetime.now(UTC), time.perf_counter_ns()
        controls = [SimulateControls.from_metadata(request.metadata) for request in requests]
        latency_ms = max((self._latency_ms(control) for control in controls), default=0.0)
        if latency_ms > 0:
            rounds = -(-len(requests) // max(1, concurrency))  # ceil
            time.sleep(rounds * latency_ms / 1000)
        answers: list[tuple[CallOutcome, str, ProviderError | None]] = []
        rows = []
        try:
            earlier = self._accepted_before(requests) if self.config.idempotent else {}
            for request, control in zip(requests, controls, strict=True):
                answer = self._answer(request, control, earlier)
                answers.append(answer)
                outcome, provider_message_id, error = answer
                rows.append(self._call_row(request, outcome, provider_message_id, error))
            with transaction.atomic(using=self._alias):
                self._calls.insert(rows)
        except DatabaseError as error:
            down = TransientProviderError(f"simulated provider unavailable: {error}")
            answers = [(CallOutcome.TRANSIENT_FAILURE, "", down) for _ in requests]
        duration = time.perf_counter_ns() - clock
        return [
            CallResult(started_at=started_at, duration_ns=duration, provider_message_id=pmid, error=error)
            for _, pmid, error in answers
        ]

    def _latency_ms(self, control: SimulateControls) -> float:
        return self.config.latency_ms if control.latency_ms is None else control.latency_ms

    def _answer(
        self, request: SendRequest, control: SimulateControls, earlier: dict[str, str]
    ) -> tuple[CallOutcome, str, ProviderError | None]:
        throttled = self._throttled(request)
        if throttled is not None:
            return CallOutcome.THROTTLED, "", throttled
        key = request.idempotency_key
        if key in earlier:
            return CallOutcome.DEDUPLICATED, earlier[key], None
        if control.permanent:
            error: ProviderError = PermanentProviderError("simulated permanent failure (metadata.simulate.permanent)")
            return CallOutcome.PERMANENT_FAILURE, "", error
        if request.attempt <= control.fail_times:
            error = TransientProviderError(
                f"simulated transient failure {request.attempt} of {control.fail_times} (metadata.simulate.failTimes)"
            )
            return CallOutcome.TRANSIENT_FAILURE, "", error
        if not control.deterministic and random.random() < self.config.failure_rate:
            error = TransientProviderError(f"simulated random transient failure (rate {self.config.failure_rate})")
            return CallOutcome.TRANSIENT_FAILURE, "", error
        provider_message_id = f"sim-{secrets.token_hex(12)}"
        if self.config.idempotent:
            earlier[key] = provider_message_id  # a twin later in the same batch is deduplicated too
        return CallOutcome.ACCEPTED, provider_message_id, None

    def _throttled(self, request: SendRequest) -> ProviderThrottled | None:
        """Above the rate: refused before anything else, as a real provider's API does; logged as
        `throttled`, not as a failure (the worker spends no attempt on it)."""
        if self._bucket is None:
            return None
        cost = message_segments(request.body) if self.per_segment else 1
        wait = self._bucket.take(cost)
        if wait <= 0:
            return None
        unit = "segments" if self.per_segment else "calls"
        return ProviderThrottled(f"simulated throttling: above {self.config.rate_limit} ({unit})", retry_after=wait)

    def _accepted_before(self, requests: Sequence[SendRequest]) -> dict[str, str]:
        return dict(
            self.ledger_model.objects.using(self._alias)
            .filter(idempotency_key__in={request.idempotency_key for request in requests}, outcome=CallOutcome.ACCEPTED)
            .values_list("idempotency_key", "provider_message_id")
        )

    @staticmethod
    def _call_row(
        request: SendRequest, outcome: CallOutcome, provider_message_id: str, error: ProviderError | None
    ) -> dict[str, Any]:
        return {
            "idempotency_key": request.idempotency_key,
            "provider_message_id": provider_message_id,
            "outcome": outcome,
            "error": str(error) if error else "",
            "trace_id": request.trace_id,
            "recipient": request.to,
            "subject": request.subject or "",
            "body": request.body,
            "attempt": request.attempt,
        }


class SimulatedProvider(Provider):
    """A channel's simulated provider: subclasses name their channel and call-log model."""

    channel: Channel
    ledger_model: type[SimulatedSend]

    def __init__(self, config: SimulatorSettings | None = None) -> None:
        self.ledger = SimulatedLedger(
            self.ledger_model,
            config or SimulatorSettings.for_channel(self.channel),
            per_segment=self.channel in SEGMENTED_CHANNELS,
        )
        self.idempotent = self.ledger.config.idempotent

    def send(self, request: SendRequest) -> SendResult:
        (result,) = self.ledger.call_many([request])
        if result.error is not None:
            raise result.error
        return SendResult(provider_message_id=result.provider_message_id)

    def send_many(self, requests: Sequence[SendRequest], pool: ProviderPool) -> list[CallResult]:
        results = self.ledger.call_many(requests, concurrency=pool.size)
        return [replace(result, provider=self.name) for result in results]
