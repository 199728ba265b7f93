"""The producer of accepted messages with the thread that serves its delivery reports: requests hand
it their records and wait on futures (router.accept.durability)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from messaging.publisher import OutgoingRecord

# How long the delivery-report thread waits when idle: bounds how late it notices `close()`.
IDLE_POLL_SECONDS = 0.1


class KafkaAcks:
    """The process's producer for accepted messages, and the thread that serves its delivery reports
    (requests only wait on futures). Build one per process, after any fork (router.kafka does)."""

    def __init__(self, producer: Producer) -> None:
        self.producer = producer
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._serve_reports, name="kafka-acks", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def send(self, records: Sequence[OutgoingRecord]) -> list[Future[None]]:
        """Queue the records; each future ends with the record's acknowledgement or its error. Never
        waits for the broker: a full local queue (a long outage) fails the record's future at once."""
        futures: list[Future[None]] = []
        for record in records:
            future: Future[None] = Future()
            try:
                self.producer.produce(
                    record.topic,
                    key=record.key,
                    value=record.value,
                    headers=record.headers,
                    on_delivery=_settle(future),
                )
            except (BufferError, KafkaException) as error:
                future.set_exception(error)
            futures.append(future)
        return futures

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


def _settle(future: Future[None]) -> Any:
    def report(error: KafkaError | None, message: Message) -> None:  # on the report thread
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(KafkaException(error))

    return report
