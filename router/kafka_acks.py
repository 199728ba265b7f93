"""The producer of accepted messages with the thread that serves its delivery reports: requests hand
it their records and wait on their acknowledgements together (router.accept.durability)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from messaging.publisher import OutgoingRecord

# How long the delivery-report thread waits when idle: bounds how late it notices `close()`.
IDLE_POLL_SECONDS = 0.1


class KafkaAcks:
    """The process's producer for accepted messages, and the thread that serves its delivery reports
    (requests only wait on their PendingAcks). Build one per process, after any fork (router.kafka does)."""

    def __init__(self, producer: Producer) -> None:
        self.producer = producer
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._serve_reports, name="kafka-acks", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def send(self, records: Sequence[OutgoingRecord]) -> PendingAcks:
        """Queue the records; their acknowledgements (or errors) arrive in the returned PendingAcks.
        Never waits for the broker: a full local queue (a long outage) fails the record at once."""
        pending = PendingAcks(len(records))
        produce = self.producer.produce
        for index, record in enumerate(records):
            try:
                produce(
                    record.topic,
                    key=record.key,
                    value=record.value,
                    headers=record.headers,
                    on_delivery=functools.partial(pending.report, index),
                )
            except (BufferError, KafkaException) as error:
                pending.settle(index, error)
        return pending

    def reachable(self, timeout: float) -> bool:
        """True when the report thread runs and the producer gets an answer from a broker."""
        try:
            return self.alive and bool(self.producer.list_topics(timeout=timeout).brokers)
        except KafkaException:
            return False

    def close(self, timeout: float) -> None:
        self._closing.set()
        self._thread.join(10)
        self.producer.flush(timeout)

    def _serve_reports(self) -> None:
        while not self._closing.is_set():
            self.producer.poll(IDLE_POLL_SECONDS)


class PendingAcks:
    """The acknowledgements of one send, awaited together: one event for the whole send, not a
    future (a lock and a condition) per record, which cost a batch of 1,000 about 10% of its CPU."""

    def __init__(self, count: int) -> None:
        self._outcomes: list[BaseException | None] = [_NOT_YET] * count
        self._left = count
        self._lock = threading.Lock()
        self._all_in = threading.Event()
        if count == 0:
            self._all_in.set()

    def report(self, index: int, error: KafkaError | None, message: Message) -> None:  # on the report thread
        self.settle(index, None if error is None else KafkaException(error))

    def settle(self, index: int, error: BaseException | None) -> None:
        with self._lock:
            self._outcomes[index] = error
            self._left -= 1
            if self._left == 0:
                self._all_in.set()

    def outcomes(self, timeout: float) -> list[BaseException | None]:
        """Waits until every record is settled or `timeout` passes; then, per record in order, None
        when acknowledged, else its error (a TimeoutError when no answer came in time)."""
        self._all_in.wait(max(0.0, timeout))
        with self._lock:
            return [
                TimeoutError(f"no acknowledgement within {timeout}s") if outcome is _NOT_YET else outcome
                for outcome in self._outcomes
            ]


# A record's outcome before its report: a distinct exception object, never raised.
_NOT_YET = TimeoutError()
