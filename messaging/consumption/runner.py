"""The one consume loop every consumer runs: fetch a batch, admit it, run the chain, commit last.

    consume(up to max_records, waiting at most max_wait) → admit (errors, due gate) → guard.run(steps)
    → remember the batch's positions → store them once `before_commit` says its effects are out
    (e.g. log events acknowledged); librdkafka auto-commits stored offsets.

Everything runs on one thread, one batch at a time, so a rebalance (its callbacks run inside
`consume`) always falls between batches: nothing is in flight when partitions move, and what was
processed is stored and committed before they go. SIGTERM/SIGINT: the batch in hand is finished
(its provider calls complete, its outcomes are written), its offsets are committed, then exit.

A consumer out of its group for too long (watchdog.py) is rebuilt between batches, like a
rebalance: what was processed is stored and committed, the client closed and a new one subscribed.
Closing waits for the group's coordinator, which may never answer (a broker hung or gone), so the
commit and close are given CLOSE_SECONDS, then abandoned with a log line saying what was skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from django.conf import settings

from messaging.clients import RebuildableConsumer
from messaging.consumption.due_gate import DueGate
from messaging.consumption.guard import StepGuard
from messaging.consumption.items import Item
from messaging.consumption.lane_gate import LaneGate
from messaging.consumption.steps import Aborted, Step
from messaging.consumption.watchdog import ConsumerWatch
from messaging.metrics import CONSUMER_LAG, CONSUMER_REBUILDS
from messaging.record_position import PartitionKey, RecordPosition

logger = logging.getLogger(__name__)

REPORT_SECONDS = 5.0
# How long a commit and close may wait for the group's coordinator (librdkafka's close has no timeout).
CLOSE_SECONDS = 10.0
# From the end of the loop, how long the process may still wait for Kafka (flushes, commit, close),
# so that SIGTERM ends it within 30 s even when no broker answers.
SHUTDOWN_SECONDS = 25.0

# Called with block=False on every loop (answer at once), with block=True when offsets have waited
# `commit_interval` or a rebalance/shutdown needs them (may wait); True when offsets may be stored.
BeforeCommit = Callable[[bool], bool]


@dataclass(frozen=True)
class BatchLimits:
    max_records: int
    # How long a batch may wait to fill up: the latency a quiet stream adds to each record.
    max_wait_seconds: float
    # Fewer records than max_records when the consumer can take only so many now (a paced provider);
    # called with max_records before each consume.
    records_wanted: Callable[[int], int] | None = None

    def size(self) -> int:
        return self.max_records if self.records_wanted is None else self.records_wanted(self.max_records)


@dataclass
class RunnerStats:
    records: int = 0
    batches: int = 0


class ConsumerRunner:
    def __init__(
        self,
        *,
        name: str,
        consumer: Consumer,
        topics: Sequence[str],
        steps: Sequence[Step],
        guard: StepGuard,
        batch: BatchLimits,
        due_gate: DueGate | None = None,
        lane_gate: LaneGate | None = None,
        before_commit: BeforeCommit = lambda block: True,
        commit_interval_seconds: float = 0.5,
        group: str = "",
        every_few_seconds: Callable[[], None] = lambda: None,
    ) -> None:
        self.name = name
        self._consumer = consumer
        self._topics = list(topics)
        self._steps = list(steps)
        self.guard = guard
        self._batch = batch
        self._due_gate = due_gate
        self._lane_gate = lane_gate
        self._before_commit = before_commit
        self._commit_interval = commit_interval_seconds
        self._unstored: dict[PartitionKey, int] = {}
        self._unstored_since = 0.0
        self.stats = RunnerStats()
        self._group = group or name
        # Lag gauges and anything else a consumer reports now and then (a DLQ's size).
        self._every_few_seconds = every_few_seconds
        self._next_report = 0.0
        self._watch = (
            ConsumerWatch(consumer, group=self._group, topics=self._topics, timeout=settings.CONSUMER_REJOIN_TIMEOUT)
            if isinstance(consumer, RebuildableConsumer) and settings.CONSUMER_REJOIN_TIMEOUT > 0
            else None
        )
        self.stopped_at: float | None = None  # monotonic time the loop ended

    def run(self) -> RunnerStats:
        """Consume until shutdown is requested (or a step's error ends the consumer); commits what
        is done and closes the consumer in any case."""
        shutdown = self.guard.shutdown
        self._subscribe()
        logger.info("%s consuming %s", self.name, ", ".join(self._topics))
        try:
            while not shutdown.requested:
                if self._due_gate is not None:
                    self._due_gate.resume_due()
                if self._lane_gate is not None:
                    self._lane_gate.hold_lower_lanes()
                records = self._consumer.consume(num_messages=self._batch.size(), timeout=self._batch.max_wait_seconds)
                items = self._admit(records)
                if items:
                    self.guard.run(self._steps, items)
                    self._processed(items)
                self._store(block=False)
                self._report()
                if self._watch is not None and (out_for := self._watch.due()) is not None:
                    self._rebuild(out_for)
            self.stopped_at = time.monotonic()
            self._store(block=True)
        except Aborted as stop:
            logger.warning("%s: %s; the batch in hand is left for redelivery", self.name, stop)
        finally:
            self.stopped_at = self.stopped_at or time.monotonic()
            self._close("shutdown")
        logger.info("%s stopped: %d records in %d batches", self.name, self.stats.records, self.stats.batches)
        return self.stats

    def _subscribe(self) -> None:
        self._consumer.subscribe(
            self._topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )

    # --- the rejoin watchdog's rebuild and the bounded close ---------------------------------------
    def _rebuild(self, out_for: float) -> None:
        """Between batches, so nothing is in flight: store what was processed, commit and close (as
        far as the coordinator lets), forget the old client's partitions, subscribe a new client."""
        assert isinstance(self._consumer, RebuildableConsumer)
        logger.warning(
            "%s: no partitions or no group membership for %.0fs while its topics have partitions; "
            "closing its Kafka consumer and building a new one",
            self.name,
            out_for,
        )
        CONSUMER_REBUILDS.labels(self._group).inc()
        self._store(block=True)
        held = {(tp.topic, tp.partition) for tp in self._consumer.assignment()}
        self._close("rebuild")
        self._forget(held | set(self._unstored))
        self._consumer.rebuild()
        self._subscribe()
        assert self._watch is not None
        self._watch.rebuilt()

    def _close(self, why: str) -> None:
        """Commit and close on a thread of their own, waiting at most CLOSE_SECONDS: librdkafka's close
        waits for the group's coordinator, forever if it never answers. Given up, the thread is left
        behind (a daemon: it does not hold the process), and so are the client and its commit."""
        consumer = self._consumer.client if isinstance(self._consumer, RebuildableConsumer) else self._consumer
        unstored = dict(self._unstored)

        def commit_and_close() -> None:
            try:
                self._commit()
            finally:
                consumer.close()

        closer = threading.Thread(target=commit_and_close, name=f"{self.name}-close", daemon=True)
        closer.start()
        closer.join(CLOSE_SECONDS)
        if closer.is_alive():
            logger.warning(
                "%s (%s): no answer from the group's coordinator in %.0fs; skipped committing the stored "
                "offsets and leaving the group (their records are delivered again; the group drops this "
                "member after its session timeout)%s",
                self.name,
                why,
                CLOSE_SECONDS,
                f"; never stored: {unstored}" if unstored else "",
            )

    def _stale(self, consumer: Consumer) -> bool:
        """A callback of a client the watchdog replaced (its close may still run on its own thread)."""
        return isinstance(self._consumer, RebuildableConsumer) and consumer is not self._consumer.client

    def _admit(self, records: list[Message]) -> list[Item]:
        items: list[Item] = []
        for record in records:
            error = record.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                if error.code() != KafkaError._PARTITION_EOF:
                    logger.warning("%s: consumer error: %s", self.name, error)
                continue
            position = RecordPosition.of(record)
            if self._due_gate is not None and not self._due_gate.admit(record, position):
                continue
            items.append(Item(record=record, position=position))
        return items

    def _report(self) -> None:
        """Every REPORT_SECONDS: how far behind each assigned partition is (comms_consumer_lag), from
        the watermarks librdkafka already has (no broker round trip), and the consumer's own reports."""
        now = time.monotonic()
        if now < self._next_report:
            return
        self._next_report = now + REPORT_SECONDS
        try:
            for position in self._consumer.position(self._consumer.assignment()):
                if position.offset < 0:
                    continue  # nothing consumed there yet
                _, high = self._consumer.get_watermark_offsets(position, cached=True)
                if high >= 0:
                    CONSUMER_LAG.labels(self._group, position.topic, str(position.partition)).set(
                        high - position.offset
                    )
            self._every_few_seconds()
        except Exception:  # a report must never stop the consumer
            logger.debug("%s: could not report", self.name, exc_info=True)

    # --- offsets ----------------------------------------------------------------------------------
    def _processed(self, items: list[Item]) -> None:
        """Within a partition the items are consecutive (the due gate only cuts a partition's tail),
        so one past the last is the position to commit. A deferred item rewinds its partition to it:
        it and what follows are fetched again, and only what came before it is committed."""
        if not self._unstored:
            self._unstored_since = time.monotonic()
        rewind: dict[PartitionKey, int] = {}
        for item in items:
            if item.deferred:
                key = item.position.partition_key
                rewind[key] = min(rewind.get(key, item.position.offset), item.position.offset)
        done = 0
        for item in items:
            position = item.position
            first_deferred = rewind.get(position.partition_key)
            if first_deferred is not None and position.offset >= first_deferred:
                continue
            self._unstored[position.partition_key] = position.offset + 1
            done += 1
        for (topic, partition), offset in rewind.items():
            try:
                self._consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as error:  # revoked meanwhile: its next owner reads from the commit
                logger.warning("%s: could not rewind %s[%d] to %d: %s", self.name, topic, partition, offset, error)
        self.stats.records += done
        self.stats.batches += 1

    def _store(self, *, block: bool, partitions: set[PartitionKey] | None = None) -> None:
        positions = {key: offset for key, offset in self._unstored.items() if partitions is None or key in partitions}
        if not positions:
            return
        waited = time.monotonic() - self._unstored_since >= self._commit_interval
        if not self._before_commit(False) and not ((block or waited) and self._before_commit(True)):
            return  # e.g. log events not acknowledged (broker down): stored later, redelivered on a crash
        try:
            self._consumer.store_offsets(
                offsets=[TopicPartition(topic, partition, offset) for (topic, partition), offset in positions.items()]
            )
        except KafkaException as error:
            # The partition was revoked meanwhile; its next owner re-reads from the last commit.
            logger.warning("%s: could not store offsets %s: %s", self.name, positions, error)
        for key in positions:
            del self._unstored[key]
        self._unstored_since = time.monotonic()

    def _commit(self) -> None:
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as error:
            if error.args[0].code() != KafkaError._NO_OFFSET:
                logger.warning("%s: commit failed: %s", self.name, error)

    # --- rebalance callbacks (inside consume(), so between batches) ---------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self._stale(consumer):
            return
        logger.info("%s assigned %s", self.name, [f"{p.topic}[{p.partition}]" for p in partitions])
        if self._lane_gate is not None:
            self._lane_gate.assigned(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Store and commit what was processed on the revoked partitions before they move on, so the
        next owner neither repeats nor skips it."""
        if self._stale(consumer):
            return
        revoked = {(p.topic, p.partition) for p in partitions}
        logger.info("%s revoking %s", self.name, sorted(revoked))
        self._store(block=True, partitions=revoked)
        self._commit()
        if not self._stale(consumer):  # the commit may have waited past a rebuild
            self._forget(revoked)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self._stale(consumer):
            return
        lost = {(p.topic, p.partition) for p in partitions}
        logger.warning("%s lost %s; their records go to the new owner", self.name, sorted(lost))
        self._forget(lost)

    def _forget(self, partitions: set[PartitionKey]) -> None:
        for key in partitions:
            self._unstored.pop(key, None)
        if self._due_gate is not None:
            self._due_gate.forget(partitions)
        if self._lane_gate is not None:
            self._lane_gate.forget(partitions)
