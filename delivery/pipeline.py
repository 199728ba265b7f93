"""A channel worker's chain of steps, run by messaging.consumption's runner:

    decode → deliver (delivery.waves: claim → call → record, a wave at a time) → produce outcomes
    → (runner) commit offsets

Decoding, retry and dead-letter records, log events and offsets work on the whole consume batch;
claims and outcomes on waves no larger than the provider calls in progress (delivery.waves). What a
step completed is kept on the item's `Delivery`, so a step retried after an error (the database was
locked, Kafka did not answer) never repeats an earlier one: a provider that said yes is never asked
again because the outcome write failed — the write is retried.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from confluent_kafka import Producer

from delivery.decisions import (
    CallResult,
    ClaimAction,
    DeadLetter,
    Outcome,
    RetryLater,
    Sent,
)
from delivery.events import DeliveryLog
from delivery.registry import ChannelSpec
from delivery.services import (
    deliveries_mark_outcomes_published,
)
from messaging.channels import Channel
from messaging.consumption.items import Item
from messaging.consumption.steps import Step
from messaging.dead_letters import dead_letter_record
from messaging.envelope import MessageEnvelope
from messaging.errors import InvalidMessage, PublishError
from messaging.publisher import OutgoingRecord, publish_all
from messaging.retries import retry_record
from messaging.topics import dlq_topic, retry_topic
from messaging.tracing import TraceContext


@dataclass(slots=True, eq=False)
class Delivery:
    """One record's delivery as the steps advance it (the item's `value`)."""

    envelope: MessageEnvelope
    received: bool = False  # its delivery.received event is out (logged at its first claim)
    action: ClaimAction | None = None
    pk: int | None = None
    call: CallResult | None = None
    outcome: Outcome | None = None
    written: bool = False  # the outcome is in the database
    produced: bool = False  # its retry / dead-letter record is acknowledged
    marked: bool = False  # … and the database knows that


OUTCOME_NAMES: dict[type, str] = {Sent: "sent", RetryLater: "retry", DeadLetter: "dead_letter"}


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
            return retry_record(
                topic=retry_topic(self.channel, outcome.level),
                key=envelope.key,
                value=envelope.with_attempt(envelope.attempt + 1).to_json(),
                trace=trace,
                delay_seconds=outcome.delay_seconds,
            )
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
