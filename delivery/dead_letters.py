"""Where a channel worker's poison goes: records that never decode, and records a step failed on
again and again (a bug, a constraint): the channel's DLQ topic, with the error in its headers."""

from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import Producer

from delivery.decisions import Failure
from delivery.events import DeliveryLog
from messaging.channels import Channel
from messaging.consumption.items import Item
from messaging.consumption.steps import DeadLetterSink
from messaging.dead_letters import dead_letter_record
from messaging.envelope import MessageEnvelope
from messaging.errors import PublishError
from messaging.headers import decode_headers
from messaging.publisher import publish_all
from messaging.topics import dlq_topic
from messaging.tracing import TraceContext


class ChannelDeadLetters(DeadLetterSink):
    def __init__(self, *, channel: Channel, producer: Producer, log: DeliveryLog) -> None:
        self.channel = channel
        self.producer = producer
        self.log = log

    def dead_letter(self, items: Sequence[tuple[Item, str, str]]) -> None:
        records, traces = [], []
        for item, error_type, reason in items:
            envelope: MessageEnvelope | None = getattr(item.value, "envelope", None)
            trace = (
                TraceContext.continuing(envelope.trace_id)
                if envelope is not None
                else TraceContext.parse(decode_headers(item.record.headers()).get("traceparent")) or TraceContext.new()
            )
            traces.append(trace)
            records.append(
                dead_letter_record(
                    item.record,
                    topic=dlq_topic(self.channel),
                    value=item.record.value(),  # verbatim: the operator sees what arrived
                    attempts=envelope.attempt if envelope is not None else 1,
                    error_type=error_type,
                    error_message=reason,
                    trace=trace,
                )
            )
        errors = [error for error in publish_all(self.producer, records) if error is not None]
        if errors:
            raise PublishError(f"{len(errors)} dead letters not acknowledged: {errors[0]}")
        for (item, error_type, reason), trace in zip(items, traces, strict=True):
            key = item.record.key()
            self.log.poison_dead_lettered(
                trace_id=trace.trace_id,
                message_id=key.decode("utf-8", errors="replace") if key else None,
                failure=Failure(type=error_type, message=reason),
            )
