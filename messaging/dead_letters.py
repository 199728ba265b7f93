"""Dead-letter records (docs/architecture.md): the original record plus headers saying where it came from and
why it failed, so an operator can list and replay it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import Message, Producer

from messaging.consumption.items import Item
from messaging.consumption.steps import DeadLetterSink
from messaging.headers import build_headers, decode_headers
from messaging.publisher import OutgoingRecord, publish_all_or_raise
from messaging.record_position import RecordPosition
from messaging.tracing import TraceContext

PREFIX = "dlq-"
# Kafka headers have no size limit of their own, but a record does (the API keeps room for this one:
# router.accept.prepare): the error text is cut to this many bytes of UTF-8.
DEAD_LETTER_ERROR_MAX_BYTES = 3 * 1024


@dataclass(frozen=True)
class DeadLetterInfo:
    original_topic: str
    original_partition: int
    original_offset: int
    attempts: int
    error_type: str
    error_message: str
    failed_at: datetime

    @classmethod
    def for_record(cls, record: Message, *, attempts: int, error_type: str, error_message: str) -> DeadLetterInfo:
        position = RecordPosition.of(record)
        return cls(
            original_topic=position.topic,
            original_partition=position.partition,
            original_offset=position.offset,
            attempts=attempts,
            error_type=error_type,
            error_message=error_message,
            failed_at=datetime.now(UTC),
        )

    def to_headers(self) -> dict[str, str]:
        return {
            f"{PREFIX}original-topic": self.original_topic,
            f"{PREFIX}original-partition": str(self.original_partition),
            f"{PREFIX}original-offset": str(self.original_offset),
            f"{PREFIX}attempts": str(self.attempts),
            f"{PREFIX}error-type": self.error_type,
            f"{PREFIX}error-message": _cut_to_bytes(self.error_message, DEAD_LETTER_ERROR_MAX_BYTES),
            f"{PREFIX}failed-at": self.failed_at.isoformat().replace("+00:00", "Z"),
        }

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> DeadLetterInfo | None:
        """None when the headers are not a dead letter's (e.g. a record produced by hand)."""
        try:
            return cls(
                original_topic=headers[f"{PREFIX}original-topic"],
                original_partition=int(headers[f"{PREFIX}original-partition"]),
                original_offset=int(headers[f"{PREFIX}original-offset"]),
                attempts=int(headers[f"{PREFIX}attempts"]),
                error_type=headers[f"{PREFIX}error-type"],
                error_message=headers.get(f"{PREFIX}error-message", ""),
                failed_at=datetime.fromisoformat(headers[f"{PREFIX}failed-at"].replace("Z", "+00:00")),
            )
        except (KeyError, ValueError):
            return None


def _cut_to_bytes(text: str, limit: int) -> str:
    """At most `limit` bytes of `text` as UTF-8, never cutting a character in two."""
    return text.encode()[:limit].decode(errors="ignore")


def dead_letter_record(
    record: Message,
    *,
    topic: str,
    value: bytes | None,
    attempts: int,
    error_type: str,
    error_message: str,
    trace: TraceContext,
) -> OutgoingRecord:
    """The DLQ record of a consumed `record`: `value` (the record's own, or what should be replayed)
    under the record's key, with the headers that say where it came from and why it failed."""
    info = DeadLetterInfo.for_record(record, attempts=attempts, error_type=error_type, error_message=error_message)
    return OutgoingRecord(topic, record.key() or b"", value or b"", build_headers(trace, info.to_headers()))


class TopicDeadLetters(DeadLetterSink):
    """Items a consumer's chain gives up on: verbatim to a DLQ topic (the operator sees what arrived),
    the error in the headers, in the trace the record came with. Subclasses say more where they know
    more (a channel's envelope) and tell of each once the DLQ has it."""

    def __init__(self, *, producer: Producer, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    def trace_of(self, item: Item) -> TraceContext:
        return TraceContext.parse(decode_headers(item.record.headers()).get("traceparent")) or TraceContext.new()

    def attempts_of(self, item: Item) -> int:
        return 1

    def dead_lettered(self, item: Item, *, error_type: str, reason: str, trace: TraceContext) -> None:
        """Called for each item once its dead letter is acknowledged."""

    def dead_letter(self, items: Sequence[tuple[Item, str, str]]) -> None:
        traces = [self.trace_of(item) for item, _, _ in items]
        records = [
            dead_letter_record(
                item.record,
                topic=self.topic,
                value=item.record.value(),
                attempts=self.attempts_of(item),
                error_type=error_type,
                error_message=reason,
                trace=trace,
            )
            for (item, error_type, reason), trace in zip(items, traces, strict=True)
        ]
        publish_all_or_raise(self.producer, records, what="dead letters")
        for (item, error_type, reason), trace in zip(items, traces, strict=True):
            self.dead_lettered(item, error_type=error_type, reason=reason, trace=trace)
