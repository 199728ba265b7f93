"""The deliver step: claim, call and record in waves no larger than the calls a worker makes at once.

    for each wave (≤ MAX_IN_FLIGHT messages, as many as the provider's pace allows now):
        claim the wave (one transaction) → call the provider for it → record its outcomes (one transaction)

What a SIGKILL can leave claimed-but-unrecorded is one wave: the calls in progress, never the consume
batch (its 200 records are still read, logged and committed together). Slow-down answers give their
claim back (no attempt spent) and wait in the queue for the pace to allow them again. The step works
on a batch for at most `budget_seconds` (half a second); what it has not claimed by then is deferred
(fetched again from Kafka), so a batch of low-priority messages waiting for the rate never holds back
the records that follow, a high-priority one above all. High waves may run a burst ahead of the rate
(delivery.pacing): a high message never waits for the rate behind lower lanes.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime

from delivery.decisions import (
    SENDING_ACTIONS,
    CallResult,
    ClaimAction,
    DeadLetter,
    Failure,
    RetryLater,
    Sent,
    UnknownOutcomePolicy,
)
from delivery.decisions import decide_outcome as decide
from delivery.errors import InvalidRecipient, ProviderThrottled, RecipientUnsubscribed
from delivery.events import DeliveryLog
from delivery.models import SuppressionReason
from delivery.pacing import Pace, Paces
from delivery.pipeline import OUTCOME_NAMES, Delivery, InFlight
from delivery.providers import Provider, ProviderPool, SendRequest
from delivery.registry import ChannelSpec
from delivery.retry_policy import RetryPolicy
from delivery.services import (
    AttemptOutcomeReport,
    deliveries_claim,
    deliveries_record_outcomes,
    deliveries_release_claims,
)
from delivery.suppressions import suppression_add
from messaging.consumption.items import Item
from messaging.consumption.steps import Step
from messaging.metrics import DELIVERIES, PROVIDER_CALL_SECONDS
from messaging.shutdown import GracefulShutdown

# A batch's records in this order: a lane with work goes before lower ones (topics send.<channel>.high,
# send.<channel>, send.<channel>.low; retry topics count as the normal lane).
_LANE_RANK = {"high": 0, "low": 2}


def lane_rank(topic: str) -> int:
    return _LANE_RANK.get(topic.rsplit(".", 1)[-1], 1)


def send_lane(topic: str) -> int | None:
    """The lane of a send topic (0 high, 1 normal, 2 low) for the lane gate; None for a retry topic,
    whose partitions the due gate pauses and resumes."""
    return None if ".retry." in topic else lane_rank(topic)


class DeliverInWaves(Step):
    name = "deliver"

    def __init__(
        self,
        *,
        spec: ChannelSpec,
        on_unknown: UnknownOutcomePolicy,
        provider: Provider,
        policy: RetryPolicy,
        pool: ProviderPool,
        paces: Paces,
        log: DeliveryLog,
        in_flight: InFlight,
        shutdown: GracefulShutdown,
        budget_seconds: float = 0.5,
    ) -> None:
        self.spec = spec
        self.on_unknown = on_unknown
        self.provider = provider
        self.policy = policy
        self.pool = pool
        self.paces = paces
        self.log = log
        self.in_flight = in_flight
        self.shutdown = shutdown
        self.budget_seconds = budget_seconds
        self.wave_size = pool.size

    def records_wanted(self, batch_size: int) -> int:
        """How many records the next consume batch should hold: all of `batch_size` unless the pace
        holds the provider back, then about what it allows within the budget (a wave at least), so
        records are not fetched only to be deferred again and again."""
        per_second = self._pace().allowed_per_second()
        if per_second is None:
            return batch_size
        return max(self.wave_size, min(batch_size, math.ceil(per_second * self.budget_seconds)))

    def run(self, items: list[Item]) -> None:
        # An earlier try of this step called the provider and then failed to write: write, never call again.
        self._record([item for item in items if item.value.call is not None and not item.value.written])
        queue = deque(
            sorted(
                (item for item in items if not item.done and item.value.call is None and item.value.outcome is None),
                key=lambda item: lane_rank(item.record.topic() or ""),
            )
        )
        deadline = time.monotonic() + self.budget_seconds
        waves = 0
        while queue:
            # The first wave always goes (progress), the rest within the budget; a shutdown defers all.
            if self.shutdown.requested or (waves and time.monotonic() >= deadline):
                self._defer(list(queue))
                return
            wave = self._next_wave(queue)
            if not wave:
                continue
            waves += 1
            self._claim([item for item in wave if item.value.action is None])
            sending = [item for item in wave if not item.done and item.value.action in SENDING_ACTIONS]
            self._call(sending)
            throttled = self._record(sending)
            queue.extendleft(reversed(throttled))

    def _defer(self, items: list[Item]) -> None:
        """Leave `items` to a later batch (their partitions are rewound to them). One claimed by an
        earlier try of this step and never called gives its claim back first: fetched again, it must
        read as not yet sent, not as an attempt whose outcome is unknown."""
        claimed = [item for item in items if item.value.action in SENDING_ACTIONS and item.value.pk is not None]
        deliveries_release_claims(spec=self.spec, claims=[(i.value.pk, i.value.envelope.attempt) for i in claimed])
        for item in items:
            self.in_flight.ids.discard(item.value.envelope.id)
            item.defer()

    # --- pacing -----------------------------------------------------------------------------------
    def _next_wave(self, queue: deque[Item]) -> list[Item]:
        """Up to a wave's worth of the queue's head, as far as the pace allows; when it allows
        nothing yet, waits a little (a quarter second at most, so the deadline is looked at) and
        returns nothing."""
        head = [queue[index] for index in range(min(self.wave_size, len(queue)))]
        # A high wave holds only high messages: they may run ahead of the rate, the others may not.
        urgent = lane_rank(head[0].record.topic() or "") == 0
        if urgent:
            head = [item for item in head if lane_rank(item.record.topic() or "") == 0]
        costs = [self.spec.rate_cost(item.value.envelope) for item in head]
        count, wait = self._pace().grant(costs, urgent=urgent)
        if count == 0:
            self.shutdown.wait(min(max(wait, 0.001), 0.25))
            return []
        return [queue.popleft() for _ in range(count)]

    # --- claim ------------------------------------------------------------------------------------
    def _claim(self, items: list[Item]) -> None:
        if not items:
            return
        claims = deliveries_claim(
            spec=self.spec,
            envelopes=[item.value.envelope for item in items],
            on_unknown=self.on_unknown,
            idempotent_provider=self.provider.idempotent,
            in_flight=self.in_flight.ids,
        )
        for item, claim in zip(items, claims, strict=True):
            delivery: Delivery = item.value
            delivery.action, delivery.pk = claim.action, claim.pk
            envelope = delivery.envelope
            if not delivery.received:  # once, though a throttled claim is given back and taken again
                delivery.received = True
                self.log.received(envelope)
            if claim.action in SENDING_ACTIONS:
                self.in_flight.ids.add(envelope.id)
                if claim.action is ClaimAction.RESEND_UNKNOWN:
                    self.log.unknown_outcome(envelope, resent=True)
                    self._count("unknown_resent")
            elif claim.action is ClaimAction.HOLD_UNKNOWN:
                self.log.unknown_outcome(envelope, resent=False)
                self._count("unknown_held")
                item.finish()
            elif claim.action is ClaimAction.SUPPRESS:
                self.log.suppressed(envelope)
                self._count("suppressed")
                item.finish()
            elif claim.action is ClaimAction.EXPIRE:
                self.log.expired(envelope)
                self._count("expired")
                item.finish()
            elif claim.action is ClaimAction.SKIP:
                status = claim.before.status if claim.before else "in flight"
                self.log.duplicate_skipped(envelope, status=status)
                self._count("skipped")
                item.finish()
            else:  # the attempt's outcome is written; its Kafka record may not be: produce it again
                assert claim.before is not None
                failure = Failure.parse(claim.before.last_error)
                delivery.written = True
                delivery.outcome = (
                    RetryLater(
                        failure=failure, level=envelope.attempt, delay_seconds=self.policy.delay(envelope.attempt)
                    )
                    if claim.action is ClaimAction.REPUBLISH_RETRY
                    else DeadLetter(failure=failure, permanent=False)
                )

    # --- call -------------------------------------------------------------------------------------
    def _call(self, items: list[Item]) -> None:
        """The provider for every claimed delivery of the wave at once (it may use the pool). A
        recipient the channel refuses is a permanent failure, with no call."""
        to_call: list[Delivery] = []
        for item in items:
            delivery: Delivery = item.value
            try:
                self.spec.validate_recipient(delivery.envelope.to)
            except InvalidRecipient as error:
                delivery.call = CallResult(started_at=datetime.now(UTC), duration_ns=0, error=error)
            else:
                to_call.append(delivery)
        if not to_call:
            return
        requests = [SendRequest.from_envelope(delivery.envelope) for delivery in to_call]
        started_at, clock = datetime.now(UTC), time.perf_counter_ns()
        try:
            calls = self.provider.send_many(requests, self.pool)
        except Exception as error:
            # A provider broke its contract (send_many never raises). Which calls went out is not
            # known; raising here would let the guard call the provider again. Each is a transient
            # failure instead: retried through the retry topics, like any other.
            elapsed = time.perf_counter_ns() - clock
            calls = [CallResult(started_at=started_at, duration_ns=elapsed, error=error) for _ in requests]
        latency = PROVIDER_CALL_SECONDS.labels(channel=self.spec.channel.value)
        for delivery, call in zip(to_call, calls, strict=True):
            delivery.call = call
            latency.observe(call.duration_ns / 1e9)

    # --- record -----------------------------------------------------------------------------------
    def _record(self, items: Sequence[Item]) -> list[Item]:
        """The wave's outcomes in one transaction; slow-down answers give their claims back. Returns
        the throttled items, to be tried again (their claim released, no attempt spent)."""
        todo = [item for item in items if item.value.call is not None and not item.value.written]
        if not todo:
            return []
        throttled = [item for item in todo if isinstance(item.value.call.error, ProviderThrottled)]
        finished = [item for item in todo if item not in throttled]
        for item in finished:
            delivery: Delivery = item.value
            assert delivery.call is not None
            delivery.outcome = decide(attempt=delivery.envelope.attempt, call=delivery.call, policy=self.policy)
        reports = [
            AttemptOutcomeReport(d.pk, d.envelope.attempt, d.call, d.outcome)
            for d in (item.value for item in finished)
            if d.pk is not None and d.call is not None and d.outcome is not None
        ]
        deliveries_release_claims(
            spec=self.spec,
            claims=[(item.value.pk, item.value.envelope.attempt) for item in throttled if item.value.pk is not None],
        )
        # Failed for us, yet the provider's receipt says it took the message: no retry, no dead letter.
        settled = deliveries_record_outcomes(spec=self.spec, reports=reports) if reports else set()
        self._after_release(throttled)
        self._after_record(finished, settled)
        return throttled

    def _pace(self) -> Pace:
        """The pace of the provider the next calls go to (each provider has its own)."""
        return self.paces.of(self.provider.next_provider())

    def _after_release(self, throttled: list[Item]) -> None:
        retry_after: dict[str, float | None] = {}  # provider → its longest Retry-After (None: none)
        for item in throttled:
            delivery: Delivery = item.value
            error = delivery.call.error if delivery.call else None
            assert isinstance(error, ProviderThrottled)
            provider = delivery.call.provider if delivery.call else ""
            hint = retry_after.get(provider)
            retry_after[provider] = max(hint or 0.0, error.retry_after) if error.retry_after is not None else hint
            duration = delivery.call.duration_ns if delivery.call else 0
            self.log.throttled(delivery.envelope, duration_ns=duration, failure=Failure.of(error))
            self._count("throttled")
            self.in_flight.ids.discard(delivery.envelope.id)
            delivery.action = delivery.call = None
            delivery.pk = None
        for provider, hint in retry_after.items():
            self.paces.of(provider or self.provider.next_provider()).throttled(hint)

    def _after_record(self, finished: list[Item], settled: set[int]) -> None:
        # The provider says the recipient unsubscribed: never send there again. After the outcomes'
        # commit: a crash in between loses only the suppression, which the next refused send adds.
        for item in finished:
            delivery: Delivery = item.value
            assert delivery.call is not None and delivery.outcome is not None
            if isinstance(delivery.outcome, DeadLetter) and isinstance(delivery.call.error, RecipientUnsubscribed):
                reason, detail = SuppressionReason.UNSUBSCRIBED, delivery.outcome.failure.message
                suppression_add(spec=self.spec, recipient=delivery.envelope.to, reason=reason, detail=detail)
        channel = self.spec.channel.value
        for item in finished:
            delivery = item.value
            delivery.written = True
            self.in_flight.ids.discard(delivery.envelope.id)
            DELIVERIES.labels(channel=channel, outcome=OUTCOME_NAMES[type(delivery.outcome)]).inc()
            assert delivery.call is not None
            if isinstance(delivery.outcome, Sent):
                self.log.sent(
                    delivery.envelope,
                    duration_ns=delivery.call.duration_ns,
                    provider_message_id=delivery.outcome.provider_message_id,
                    provider=delivery.call.provider,
                )
            elif delivery.outcome is not None:
                self.log.failed(
                    delivery.envelope, duration_ns=delivery.call.duration_ns, failure=delivery.outcome.failure
                )
            if isinstance(delivery.outcome, Sent) or delivery.pk in settled:
                item.finish()

    def _count(self, outcome: str) -> None:
        DELIVERIES.labels(channel=self.spec.channel.value, outcome=outcome).inc()
