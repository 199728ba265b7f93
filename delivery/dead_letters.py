"""Where a channel worker's poison goes: records that never decode, and records a step failed on
again and again (a bug, a constraint): the channel's DLQ topic, with the error in its headers."""

from __future__ import annotations

from confluent_kafka import Producer

from delivery.decisions import Failure
from delivery.events import DeliveryLog
from messaging.channels import Channel
from messaging.consumption.items import Item
from messaging.dead_letters import TopicDeadLetters
from messaging.envelope import MessageEnvelope
from messaging.topics import dlq_topic
from messaging.tracing import TraceContext


class ChannelDeadLetters(TopicDeadLetters):
    """A decoded record's envelope gives its trace and attempt; each dead letter is a log event."""

    def __init__(self, *, channel: Channel, producer: Producer, log: DeliveryLog) -> None:
        super().__init__(producer=producer, topic=dlq_topic(channel))
        self.log = log

    @staticmethod
    def _envelope(item: Item) -> MessageEnvelope | None:
        return getattr(item.value, "envelope", None)

    def trace_of(self, item: Item) -> TraceContext:
        envelope = self._envelope(item)
        return TraceContext.continuing(envelope.trace_id) if envelope is not None else super().trace_of(item)

    def attempts_of(self, item: Item) -> int:
        envelope = self._envelope(item)
        return envelope.attempt if envelope is not None else 1

    def dead_lettered(self, item: Item, *, error_type: str, reason: str, trace: TraceContext) -> None:
        key = item.record.key()
        self.log.poison_dead_lettered(
            trace_id=trace.trace_id,
            message_id=key.decode("utf-8", errors="replace") if key else None,
            failure=Failure(type=error_type, message=reason),
        )
