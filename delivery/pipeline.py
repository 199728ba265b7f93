"""A channel worker's chain of steps (DESIGN §2, §4), run by messaging.consumption's runner:

    decode → claim → send → record outcomes → produce outcomes → (runner) commit offsets

Each step works on the whole consume batch: claims in one transaction, provider calls concurrently,
outcomes in one transaction, retry and dead-letter records produced together, log events queued
together. What a step completed is kept on the item's `Delivery`, so a step retried after an error
(the database was locked, Kafka did not answer) never repeats an earlier one: a provider that said
yes is never asked again because the outcome write failed — the write is retried.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka import Producer

from delivery.decisions import (
    CallResult,
    ClaimAction,
    DeadLetter,
    Failure,
    Outcome,
    RetryLater,
    Sent,
    UnknownOutcomePolicy,
    decide_outcome,
)
from delivery.errors import InvalidRecipient, RecipientUnsubscribed
from delivery.events import DeliveryLog
from delivery.models import SuppressionReason
from delivery.providers import Provider, ProviderPool, SendRequest
from delivery.registry import ChannelSpec
from delivery.retry_policy import RetryPolicy
from delivery.services import (
    SENDING_ACTIONS,
    AttemptOutcomeReport,
    deliveries_claim,
    deliveries_mark_outcomes_published,
    deliveries_record_outcomes,
)
from delivery.suppressions import suppression_add
from messaging.channels import Channel
from messaging.consumption.items import Item
from messaging.consumption.steps import Step
from messaging.dead_letters import dead_letter_record
from messaging.due_time import due_at_headers
from messaging.envelope import MessageEnvelope
from messaging.errors import InvalidMessage, PublishError
from messaging.headers import build_headers
from messaging.publisher import OutgoingRecord, publish_all
from messaging.topics import dlq_topic, retry_topic
from messaging.tracing import TraceContext
from operations.metrics import DELIVERIES, PROVIDER_CALL_SECONDS


@dataclass(slots=True, eq=False)
class Delivery:
    """One record's delivery as the steps advance it (the item's `value`)."""

    envelope: MessageEnvelope
    action: ClaimAction | None = None
    pk: int | None = None
    call: CallResult | None = None
    outcome: Outcome | None = None
    written: bool = False  # the outcome is in the database
    produced: bool = False  # its retry / dead-letter record is acknowledged
    marked: bool = False  # … and the database knows that


_OUTCOME_NAMES: dict[type, str] = {Sent: "sent", RetryLater: "retry", DeadLetter: "dead_letter"}


def _deliveries(items: Iterable[Item]) -> list[Delivery]:
    return [item.value for item in items]


@dataclass
class InFlight:
    """Message ids this process claimed and has not finished: a twin record of one of them in a later
    try of a step is a duplicate, not a process that died mid-send."""

    ids: set[uuid.UUID] = field(default_factory=set)


class DecodeEnvelopes(Step):
    name = "decode"

    def __init__(self, *, channel: Channel, log: DeliveryLog) -> None:
        self.channel = channel
        self.log = log

    def run(self, items: list[Item]) -> None:
        for item in items:
            try:
                envelope = MessageEnvelope.from_json(item.record.value())
                if envelope.channel != self.channel:
                    raise InvalidMessage(f"a {envelope.channel} envelope on a {self.channel} topic")
            except InvalidMessage as error:
                item.reject(type(error).__name__, error.reason)  # the same bytes will never decode
                continue
            item.value = Delivery(envelope=envelope)
            self.log.received(envelope)


class ClaimDeliveries(Step):
    name = "claim"

    def __init__(
        self,
        *,
        spec: ChannelSpec,
        on_unknown: UnknownOutcomePolicy,
        provider: Provider,
        policy: RetryPolicy,
        log: DeliveryLog,
        in_flight: InFlight,
    ) -> None:
        self.spec = spec
        self.on_unknown = on_unknown
        self.provider = provider
        self.policy = policy
        self.log = log
        self.in_flight = in_flight

    def run(self, items: list[Item]) -> None:
        todo = [item for item in items if item.value.action is None]
        if not todo:
            return
        claims = deliveries_claim(
            spec=self.spec,
            envelopes=[item.value.envelope for item in todo],
            on_unknown=self.on_unknown,
            idempotent_provider=self.provider.idempotent,
            in_flight=self.in_flight.ids,
        )
        for item, claim in zip(todo, claims, strict=True):
            delivery: Delivery = item.value
            delivery.action, delivery.pk = claim.action, claim.pk
            envelope = delivery.envelope
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

    def _count(self, outcome: str) -> None:
        DELIVERIES.labels(channel=self.spec.channel.value, outcome=outcome).inc()


class SendDeliveries(Step):
    """Calls the provider for every claimed delivery at once (it may use the pool), then decides
    what each answer means. A recipient the channel refuses is a permanent failure, with no call."""

    name = "send"

    def __init__(self, *, spec: ChannelSpec, provider: Provider, policy: RetryPolicy, pool: ProviderPool) -> None:
        self.spec = spec
        self.provider = provider
        self.policy = policy
        self.pool = pool

    def run(self, items: list[Item]) -> None:
        deliveries = [d for d in _deliveries(items) if d.action in SENDING_ACTIONS and d.outcome is None]
        to_call: list[Delivery] = []
        for delivery in deliveries:
            if delivery.call is not None:
                continue  # called in an earlier try of this step: never again
            try:
                self.spec.validate_recipient(delivery.envelope.to)
            except InvalidRecipient as error:
                delivery.call = CallResult(started_at=datetime.now(UTC), duration_ns=0, error=error)
            else:
                to_call.append(delivery)
        if to_call:
            requests = [SendRequest.from_envelope(delivery.envelope) for delivery in to_call]
            started_at, clock = datetime.now(UTC), time.perf_counter_ns()
            try:
                calls = self.provider.send_many(requests, self.pool)
            except Exception as error:
                # A provider broke its contract (send_many never raises). Which calls went out is not
                # known; raising here would let the guard call the provider again. Each is a
                # transient failure instead: retried through the retry topics, like any other.
                elapsed = time.perf_counter_ns() - clock
                calls = [CallResult(started_at=started_at, duration_ns=elapsed, error=error) for _ in requests]
            latency = PROVIDER_CALL_SECONDS.labels(channel=self.spec.channel.value)
            for delivery, call in zip(to_call, calls, strict=True):
                delivery.call = call
                latency.observe(call.duration_ns / 1e9)
        for delivery in deliveries:
            assert delivery.call is not None
            delivery.outcome = decide_outcome(attempt=delivery.envelope.attempt, call=delivery.call, policy=self.policy)


class RecordOutcomes(Step):
    name = "record outcomes"

    def __init__(self, *, spec: ChannelSpec, log: DeliveryLog, in_flight: InFlight) -> None:
        self.spec = spec
        self.log = log
        self.in_flight = in_flight

    def run(self, items: list[Item]) -> None:
        todo = [d for d in _deliveries(items) if d.outcome is not None and not d.written]
        if not todo:
            return
        reports = []
        for delivery in todo:
            assert delivery.pk is not None and delivery.call is not None and delivery.outcome is not None
            reports.append(
                AttemptOutcomeReport(delivery.pk, delivery.envelope.attempt, delivery.call, delivery.outcome)
            )
        # Failed for us, yet the provider's receipt says it took the message: no retry, no dead letter.
        settled = deliveries_record_outcomes(spec=self.spec, reports=reports)
        # The provider says the recipient unsubscribed: never send there again. After the outcomes'
        # commit: a crash in between loses only the suppression, which the next refused send adds.
        for delivery in todo:
            assert delivery.call is not None
            if isinstance(delivery.outcome, DeadLetter) and isinstance(delivery.call.error, RecipientUnsubscribed):
                reason, detail = SuppressionReason.UNSUBSCRIBED, delivery.outcome.failure.message
                suppression_add(spec=self.spec, recipient=delivery.envelope.to, reason=reason, detail=detail)
        channel = self.spec.channel.value
        for delivery in todo:
            delivery.written = True
            self.in_flight.ids.discard(delivery.envelope.id)
            DELIVERIES.labels(channel=channel, outcome=_OUTCOME_NAMES[type(delivery.outcome)]).inc()
            assert delivery.call is not None
            if isinstance(delivery.outcome, Sent):
                self.log.sent(
                    delivery.envelope,
                    duration_ns=delivery.call.duration_ns,
                    provider_message_id=delivery.outcome.provider_message_id,
                )
            elif delivery.outcome is not None:
                self.log.failed(
                    delivery.envelope, duration_ns=delivery.call.duration_ns, failure=delivery.outcome.failure
                )
        for item in items:
            if isinstance(item.value.outcome, Sent) or item.value.pk in settled:
                item.finish()


class ProduceOutcomes(Step):
    """Retry records (due later, on the level's topic) and dead letters, acknowledged by Kafka before
    the offsets of their records can be committed; then the database learns they are out."""

    name = "produce outcomes"

    def __init__(self, *, spec: ChannelSpec, producer: Producer, log: DeliveryLog) -> None:
        self.spec = spec
        self.channel = spec.channel
        self.producer = producer
        self.log = log

    def run(self, items: list[Item]) -> None:
        pending = [item for item in items if item.value.outcome is not None and not item.value.produced]
        if pending:
            records = [self._record(item) for item in pending]
            errors = publish_all(self.producer, records)
            for item, error in zip(pending, errors, strict=True):
                if error is None:
                    item.value.produced = True
                    self._log(item.value)
            failed = [error for error in errors if error is not None]
            if failed:
                raise PublishError(f"{len(failed)} of {len(records)} outcome records not acknowledged: {failed[0]}")
        unmarked = [d for d in _deliveries(items) if d.produced and not d.marked]
        if unmarked:
            deliveries_mark_outcomes_published(spec=self.spec, pks=[d.pk for d in unmarked if d.pk is not None])
            for delivery in unmarked:
                delivery.marked = True

    def _record(self, item: Item) -> OutgoingRecord:
        delivery: Delivery = item.value
        envelope, outcome = delivery.envelope, delivery.outcome
        trace = TraceContext.continuing(envelope.trace_id)
        if isinstance(outcome, RetryLater):
            headers = build_headers(trace, due_at_headers(time.time() + outcome.delay_seconds))
            retry = envelope.with_attempt(envelope.attempt + 1)
            return OutgoingRecord(retry_topic(self.channel, outcome.level), envelope.key, retry.to_json(), headers)
        assert isinstance(outcome, DeadLetter)
        return dead_letter_record(
            item.record,
            topic=dlq_topic(self.channel),
            value=envelope.to_json(),
            attempts=envelope.attempt,
            error_type=outcome.failure.type,
            error_message=outcome.failure.message,
            trace=trace,
        )

    def _log(self, delivery: Delivery) -> None:
        outcome = delivery.outcome
        if isinstance(outcome, RetryLater):
            self.log.retry_scheduled(delivery.envelope, delay=outcome.delay_seconds, failure=outcome.failure)
        elif isinstance(outcome, DeadLetter):
            self.log.dead_lettered(delivery.envelope, failure=outcome.failure)
