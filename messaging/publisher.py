"""Produce records and wait for Kafka's acknowledgement (delivery reports are always checked)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from django.conf import settings

from messaging.errors import PublishError
from messaging.headers import KafkaHeaders


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: bytes
    value: bytes
    headers: KafkaHeaders

    @property
    def size(self) -> int:
        """What librdkafka weighs against `message.max.bytes`: value, key and headers."""
        headers = sum(len(name) + len(value or b"") for name, value in self.headers)
        return len(self.value) + len(self.key) + headers


# Kafka will never take these records as they are: retrying cannot help (a record too large, a topic
# that may not be written). Anything else (timeouts, a broker down) may pass later.
PERMANENT_ERRORS = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.TOPIC_EXCEPTION,
        KafkaError._INVALID_ARG,
    }
)


def is_permanent(error: KafkaError | BaseException | None) -> bool:
    """True when Kafka refused a record for good (see PERMANENT_ERRORS)."""
    if isinstance(error, KafkaException):
        error = error.args[0] if error.args and isinstance(error.args[0], KafkaError) else None
    return isinstance(error, KafkaError) and error.code() in PERMANENT_ERRORS


@dataclass
class _Report:
    error: KafkaError | None = None
    message: Message | None = None
    done: bool = False

    def record(self, error: KafkaError | None, message: Message) -> None:
        """librdkafka's delivery callback, run inside producer.poll()."""
        self.error, self.message, self.done = error, message, True


DeliveryCallback = Callable[[KafkaError | None, Message], None]


def produce_when_room(
    producer: Producer,
    topic: str,
    *,
    key: bytes,
    value: bytes,
    headers: KafkaHeaders,
    on_delivery: DeliveryCallback | None = None,
) -> None:
    """produce(); while librdkafka's local queue is full (BufferError), serve delivery reports to make
    room and try again. Other errors (e.g. an unknown topic reported synchronously) propagate."""
    while True:
        try:
            producer.produce(topic, key=key, value=value, headers=headers, on_delivery=on_delivery)
            return
        except BufferError:
            producer.poll(0.05)


def publish_all(
    producer: Producer, records: Sequence[OutgoingRecord], timeout: float | None = None
) -> list[PublishError | None]:
    """Produce every record and wait for each report; result[i] is None when record i is acked."""
    timeout = settings.KAFKA_DELIVERY_TIMEOUT_SECONDS if timeout is None else timeout
    reports = [_Report() for _ in records]

    for record, report in zip(records, reports, strict=True):
        try:
            produce_when_room(
                producer,
                record.topic,
                key=record.key,
                value=record.value,
                headers=record.headers,
                on_delivery=report.record,
            )
        except Exception as error:  # e.g. unknown topic reported synchronously
            report.error, report.done = error, True  # type: ignore[assignment]
    deadline = time.monotonic() + timeout
    while not all(report.done for report in reports) and time.monotonic() < deadline:
        producer.poll(min(0.1, max(0.0, deadline - time.monotonic())))
    return [
        None
        if report.done and report.error is None
        else PublishError(str(report.error), permanent=is_permanent(report.error))
        if report.done
        else PublishError(f"no acknowledgement within {timeout}s")
        for report in reports
    ]


def publish_all_or_raise(
    producer: Producer, records: Sequence[OutgoingRecord], *, what: str, timeout: float | None = None
) -> None:
    """Publish every record, or raise PublishError naming `what` (the step that produces them is
    retried whole: records already acknowledged go again, which their consumers deduplicate)."""
    failed = [error for error in publish_all(producer, records, timeout) if error is not None]
    if failed:
        raise PublishError(f"{len(failed)} of {len(records)} {what} not acknowledged: {failed[0]}")


def publish(producer: Producer, record: OutgoingRecord, timeout: float | None = None) -> None:
    """Produce one record and block until Kafka acknowledges it; raises PublishError otherwise."""
    (error,) = publish_all(producer, [record], timeout)
    if error is not None:
        raise error
