"""The API's outbox publisher: produce without waiting for Kafka, settle the entries in the background.

A request only hands its records to librdkafka (`produce()` does not wait for the broker) and answers:
its 202 was already durable when the accept transaction committed (DESIGN §7). One thread per process
serves the producer's delivery reports and settles them in batches (router.outbox): acknowledged
entries marked published with one UPDATE, failures counted and left to `relay_outbox`, which publishes
whatever is still unpublished after its grace period (at least once; workers dedupe by message id).

The producer gives a record up after ROUTER_PUBLISH_TIMEOUT_SECONDS, well inside the relay's grace
period, so a late delivery does not race the relay's copy of the same entry. Build one per process,
after any fork (router.kafka does): neither librdkafka's threads nor this one survive a fork.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from django.db import close_old_connections, connections

from messaging.errors import PublishError
from messaging.log_events import LogEmitter
from messaging.publisher import is_permanent
from router.models import OutboxEntry
from router.outbox import outbox_entries_settle, outbox_record

logger = logging.getLogger(__name__)

# How long the thread waits for delivery reports when idle: bounds how late it notices `close()`.
IDLE_POLL_SECONDS = 0.1
# Once a report arrived, gather more for this long, so one UPDATE marks many entries.
BATCH_WAIT_SECONDS = 0.05
# Entries settled by one UPDATE at most (well below SQLite's limit on bound parameters).
BATCH_MAX = 500

_Report = tuple[OutboxEntry, PublishError | None]  # the entry and None when acknowledged, else the error


class OutboxPublisher:
    def __init__(self, *, producer: Producer, log: Callable[[], LogEmitter]) -> None:
        self._producer = producer
        self._log = log
        self._reports: queue.SimpleQueue[_Report] = queue.SimpleQueue()
        self._closing = threading.Event()
        self._settle_on_close = True
        self._flush_timeout = 0.0
        self._thread = threading.Thread(target=self._run, name="outbox-publisher", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, entries: Sequence[OutboxEntry]) -> None:
        """Queue the entries' records in the producer; never waits for the broker. Thread-safe.

        An entry librdkafka will not even queue (its local queue full in a long outage) is settled as
        failed at once: it stays in the outbox for the relay, the request is not held up.
        """
        for entry in entries:
            record = outbox_record(entry)
            try:
                self._producer.produce(
                    record.topic,
                    key=record.key,
                    value=record.value,
                    headers=record.headers,
                    on_delivery=self._reporter(entry),
                )
            except (BufferError, KafkaException) as error:
                refused = PublishError(str(error) or type(error).__name__, permanent=is_permanent(error))
                self._reports.put((entry, refused))

    def reachable(self, timeout: float) -> bool:
        """True when the settling thread runs and the producer gets an answer from a broker."""
        try:
            return self.alive and bool(self._producer.list_topics(timeout=timeout).brokers)
        except KafkaException:
            return False

    def close(self, flush_timeout: float) -> None:
        """Wait up to `flush_timeout` for outstanding acknowledgements and settle them; what is left
        unacknowledged stays unpublished in the outbox (the relay's). Call once, at process exit."""
        self._flush_timeout = flush_timeout
        self._closing.set()
        self._thread.join(flush_timeout + 10)

    def discard(self) -> None:
        """Drop queued records and stop without settling (tests that pointed the API at a dead broker)."""
        self._settle_on_close = False
        self._producer.purge()
        self._closing.set()
        self._thread.join(10)

    def _reporter(self, entry: OutboxEntry) -> Callable[[KafkaError | None, Message], None]:
        def report(error: KafkaError | None, message: Message) -> None:  # run by poll(), on the thread
            refused = None if error is None else PublishError(str(error), permanent=is_permanent(error))
            self._reports.put((entry, refused))

        return report

    def _run(self) -> None:
        try:
            while not self._closing.is_set():
                self._gather()
                self._settle_reported()
            if self._settle_on_close:
                self._producer.flush(self._flush_timeout)
                self._settle_reported()
        finally:
            connections.close_all()  # this thread's own connections

    def _gather(self) -> None:
        self._producer.poll(IDLE_POLL_SECONDS)
        if self._reports.empty():
            return
        deadline = time.monotonic() + BATCH_WAIT_SECONDS
        while self._reports.qsize() < BATCH_MAX and not self._closing.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._producer.poll(left)

    def _settle_reported(self) -> None:
        while batch := self._take(BATCH_MAX):
            acked = [entry for entry, error in batch if error is None]
            failed = [(entry, error) for entry, error in batch if error is not None]
            try:
                close_old_connections()
                outbox_entries_settle(acked=acked, failed=failed, log=self._log())
            except Exception:
                # The thread must go on; the entries stay unpublished, so the relay publishes them.
                logger.exception("could not settle %d outbox entries; left to the outbox relay", len(batch))

    def _take(self, limit: int) -> list[_Report]:
        batch: list[_Report] = []
        while len(batch) < limit:
            try:
                batch.append(self._reports.get_nowait())
            except queue.Empty:
                break
        return batch
