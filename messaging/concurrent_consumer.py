"""A consume loop that keeps many records in flight on a thread pool and still commits in order.

Steps per record, arroyo-style: fetch → (wait until due) → run the handler on a thread → store the
offset once it and every earlier record of its partition are done → commit (librdkafka auto-commits
stored offsets). The handler owns the record's effect; this loop only guarantees that an offset is
never stored before the handler returned for it and for everything before it.

- In-flight limit: at most `max_in_flight` records are fetched and unfinished; the loop stops
  fetching when full, so a slow provider means backpressure, not an unbounded queue.
- Same key, one at a time: records with one key (one message id) run in order, never concurrently,
  so a re-published message cannot race its twin.
- Delayed records (`due-at` header, the retry topics): the partition is paused and the consumer seeks
  back to the record until it is due; the thread pool keeps serving other partitions meanwhile.
- A handler that raises has hit infrastructure trouble (DB, broker): the record is retried after a
  back-off and its partition's offset does not move past it; nothing is skipped.
- Shutdown: stop fetching, let running handlers finish, store and commit, close.
"""

from __future__ import annotations

import logging
import queue
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from messaging.due_time import record_due_at
from messaging.offset_tracker import OffsetTracker
from messaging.record_position import PartitionKey, RecordPosition
from messaging.shutdown import GracefulShutdown

logger = logging.getLogger(__name__)

Handler = Callable[[Message], None]


def _partition_of(record: Message) -> PartitionKey:
    return RecordPosition.of(record).partition_key


class ConcurrentConsumer:
    def __init__(
        self,
        *,
        consumer: Consumer,
        topics: Sequence[str],
        handler: Handler,
        max_in_flight: int,
        before_store: Callable[[], bool] = lambda: True,
        store_interval: float = 0.2,
        handler_retry_backoff: float = 1.0,
        name: str = "consumer",
    ) -> None:
        self._consumer = consumer
        self._topics = list(topics)
        self._handler = handler
        self._max_in_flight = max_in_flight
        self._before_store = before_store
        self._store_interval = store_interval
        self._backoff = handler_retry_backoff
        self._executor = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix=name)
        self._completions: queue.Queue[tuple[Message, BaseException | None]] = queue.Queue()
        self._tracker = OffsetTracker()
        self._running: dict[PartitionKey, int] = {}
        self._busy_keys: dict[bytes, PartitionKey] = {}
        self._waiting: dict[bytes, deque[Message]] = {}
        self._retry_later: list[tuple[float, Message]] = []
        self._paused: dict[PartitionKey, float] = {}
        self._closing: set[PartitionKey] = set()
        self._stopping = False
        self._last_store = 0.0

    # --- the loop ---------------------------------------------------------------------------
    def run(self, shutdown: GracefulShutdown) -> None:
        self._consumer.subscribe(
            self._topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        try:
            while not shutdown.requested:
                self._resume_due_partitions()
                self._resubmit_due_retries()
                free = self._max_in_flight - self._tracker.outstanding()
                if free > 0:
                    for record in self._consumer.consume(num_messages=free, timeout=0.1):
                        self._dispatch(record)
                    self._drain_completions(timeout=0.0)
                else:
                    self._drain_completions(timeout=0.1)
                self._store_offsets()
            self._stopping = True
            self._wait_for_running(None)
            self._store_offsets(force=True)
            self._commit()
        finally:
            self._stopping = True
            self._executor.shutdown(wait=True)
            self._consumer.close()

    def _dispatch(self, record: Message) -> None:
        error = record.error()
        if error is not None:
            if error.fatal():
                raise KafkaException(error)
            if error.code() != KafkaError._PARTITION_EOF:
                logger.warning("consumer error: %s", error)
            return
        position = RecordPosition.of(record)
        partition = position.partition_key
        if partition in self._paused:
            return  # fetched before the pause took effect; re-read after resume (we sought back)
        due = record_due_at(record)
        if due is not None and due > time.time():
            self._pause_until(partition, position.offset, due)
            return
        self._tracker.started(partition, position.offset)
        key = record.key()
        if key is not None:
            if key in self._busy_keys:
                self._waiting.setdefault(key, deque()).append(record)
                return
            self._busy_keys[key] = partition
        self._submit(record)

    def _submit(self, record: Message) -> None:
        partition = _partition_of(record)
        self._running[partition] = self._running.get(partition, 0) + 1
        self._executor.submit(self._call_handler, record)

    def _call_handler(self, record: Message) -> None:
        """Runs on a pool thread; reports back through the queue so that all consumer state is
        touched by the loop's thread only (confluent-kafka consumers are not thread-safe)."""
        try:
            self._handler(record)
        except BaseException as error:
            self._completions.put((record, error))
        else:
            self._completions.put((record, None))

    def _drain_completions(self, timeout: float) -> None:
        try:
            first = self._completions.get(timeout=timeout) if timeout > 0 else self._completions.get_nowait()
        except queue.Empty:
            return
        self._complete(*first)
        while True:
            try:
                self._complete(*self._completions.get_nowait())
            except queue.Empty:
                return

    def _complete(self, record: Message, error: BaseException | None) -> None:
        position = RecordPosition.of(record)
        partition = position.partition_key
        self._running[partition] = self._running.get(partition, 1) - 1
        abandoning = self._stopping or partition in self._closing
        if error is not None:
            logger.error(
                "handler failed on %s[%d]@%d; %s",
                position.topic,
                position.partition,
                position.offset,
                "left for redelivery" if abandoning else f"retrying in {self._backoff}s",
                exc_info=error,
            )
            if not abandoning:
                self._retry_later.append((time.monotonic() + self._backoff, record))
            return
        self._tracker.finished(partition, position.offset)
        key = record.key()
        if key is None:
            return
        waiting = self._waiting.get(key)
        if waiting and not abandoning:
            self._submit(waiting.popleft())
            return
        self._waiting.pop(key, None)
        self._busy_keys.pop(key, None)

    def _resubmit_due_retries(self) -> None:
        now = time.monotonic()
        due = [record for at, record in self._retry_later if at <= now]
        if due:
            self._retry_later = [(at, record) for at, record in self._retry_later if at > now]
            for record in due:
                self._submit(record)

    def _wait_for_running(self, partitions: set[PartitionKey] | None) -> None:
        def running() -> int:
            keys = self._running.keys() if partitions is None else partitions
            return sum(self._running.get(key, 0) for key in keys)

        while running():
            self._drain_completions(timeout=0.1)

    # --- delayed records --------------------------------------------------------------------
    def _pause_until(self, partition: PartitionKey, offset: int, due: float) -> None:
        topic_partition = TopicPartition(*partition)
        self._consumer.pause([topic_partition])
        # Rewind so the record (and everything after it) is fetched again once we resume.
        self._consumer.seek(TopicPartition(partition[0], partition[1], offset))
        self._paused[partition] = due

    def _resume_due_partitions(self) -> None:
        now = time.time()
        due = [partition for partition, at in self._paused.items() if at <= now]
        if due:
            self._consumer.resume([TopicPartition(*partition) for partition in due])
            for partition in due:
                del self._paused[partition]

    # --- offsets ----------------------------------------------------------------------------
    def _store_offsets(self, *, force: bool = False, partitions: set[PartitionKey] | None = None) -> None:
        if not force and time.monotonic() - self._last_store < self._store_interval:
            return
        positions = self._tracker.to_store(partitions)
        if not positions:
            return
        self._last_store = time.monotonic()
        # E.g. flush log events: whatever the handler queued must be out before its offset can be
        # committed, or a crash after the commit would lose it. Not out yet (broker down): keep the
        # offsets unstored and try again at the next interval; a crash meanwhile redelivers.
        if not self._before_store():
            return
        try:
            self._consumer.store_offsets(
                offsets=[TopicPartition(topic, partition, offset) for (topic, partition), offset in positions.items()]
            )
        except KafkaException as error:
            # The partition was revoked meanwhile; its next owner re-reads from the last commit.
            logger.warning("could not store offsets %s: %s", positions, error)
            return
        self._tracker.mark_stored(positions)

    def _commit(self) -> None:
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as error:
            if error.args[0].code() != KafkaError._NO_OFFSET:
                logger.warning("final commit failed: %s", error)

    # --- rebalance callbacks (run inside consume(), on the loop's thread) --------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        logger.info("assigned %s", [f"{p.topic}[{p.partition}]" for p in partitions])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Finish what runs on the revoked partitions and commit it before they move on, so the
        next owner neither repeats nor skips work; records not yet started are left to it."""
        revoked = {(p.topic, p.partition) for p in partitions}
        logger.info("revoking %s", sorted(revoked))
        self._closing |= revoked
        try:
            self._wait_for_running(revoked)
            self._store_offsets(force=True, partitions=revoked)
            self._commit()
        finally:
            self._drop(revoked)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lost = {(p.topic, p.partition) for p in partitions}
        logger.warning("lost %s; their records will be redelivered to the new owner", sorted(lost))
        self._closing |= lost
        self._wait_for_running(lost)
        self._drop(lost)

    def _drop(self, partitions: set[PartitionKey]) -> None:
        self._retry_later = [(at, r) for at, r in self._retry_later if _partition_of(r) not in partitions]
        for key, waiting in list(self._waiting.items()):
            kept = deque(r for r in waiting if _partition_of(r) not in partitions)
            if kept:
                self._waiting[key] = kept
            else:
                del self._waiting[key]
        self._busy_keys = {key: p for key, p in self._busy_keys.items() if p not in partitions}
        self._tracker.forget(partitions)
        for partition in partitions:
            self._paused.pop(partition, None)
            self._running.pop(partition, None)
        self._closing -= partitions
