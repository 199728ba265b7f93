"""The log indexer: `logs.*` → Elasticsearch in bulk, committing offsets only after success.

Loop: collect a batch (by count or time) → bulk-create it, retrying the same batch with backoff
while Elasticsearch is down or throttling → store the batch's offsets (librdkafka commits stored
offsets). Nothing is skipped: a batch is never dropped, a malformed record becomes an error document.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from django.conf import settings
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from logging_service.bulk import bulk_create
from logging_service.connection import elasticsearch
from logging_service.documents import install_template
from logging_service.records import BatchContext, IndexAction, prepare
from messaging.clients import build_consumer
from messaging.record_position import RecordPosition
from messaging.shutdown import GracefulShutdown
from messaging.topics import log_topics_pattern

logger = logging.getLogger(__name__)

ES_UNAVAILABLE = (TransportError, ApiError, ConnectionError)


@dataclass(frozen=True)
class BatchPolicy:
    max_records: int
    max_wait_seconds: float
    max_backoff_seconds: float
    first_backoff_seconds: float = 0.25


@dataclass
class IndexerStats:
    indexed: int = 0
    already_present: int = 0
    batches: int = 0


class LogIndexer:
    def __init__(
        self,
        *,
        client: Elasticsearch,
        consumer: Consumer,
        topics_pattern: str,
        policy: BatchPolicy,
        shutdown: GracefulShutdown,
    ) -> None:
        self.client = client
        self.consumer = consumer
        self.topics_pattern = topics_pattern
        self.policy = policy
        self.shutdown = shutdown
        self.stats = IndexerStats()

    @classmethod
    def from_settings(cls, *, shutdown: GracefulShutdown, group_id: str) -> LogIndexer:
        """The indexer `index_logs` runs: every `logs.*` topic, consumer and batching from settings."""
        consumer = build_consumer(
            group_id,
            **{
                "max.poll.interval.ms": settings.INDEXER_MAX_POLL_INTERVAL_MS,
                "topic.metadata.refresh.interval.ms": settings.INDEXER_TOPIC_REFRESH_MS,
            },
        )
        policy = BatchPolicy(
            max_records=settings.INDEXER_BATCH_SIZE,
            max_wait_seconds=settings.INDEXER_BATCH_WAIT_MS / 1000,
            max_backoff_seconds=settings.INDEXER_MAX_BACKOFF_SECONDS,
        )
        return cls(
            client=elasticsearch(),
            consumer=consumer,
            topics_pattern=log_topics_pattern(),
            policy=policy,
            shutdown=shutdown,
        )

    def run(self) -> IndexerStats:
        """Index until shutdown is requested; then commit what is done and close the consumer."""
        if not self._with_backoff(install_template, "install the index template"):
            self.consumer.close()
            return self.stats
        self.consumer.subscribe([self.topics_pattern])
        logger.info("indexing %s into Elasticsearch", self.topics_pattern)
        try:
            while not self.shutdown.requested:
                batch = self._collect()
                if batch and self._index(batch):
                    self._store_offsets(batch)
        finally:
            self.consumer.close()  # commits the stored offsets
        return self.stats

    def _collect(self) -> list[Message]:
        """Up to max_records, waiting at most max_wait_seconds after the first record arrives."""
        batch: list[Message] = []
        deadline: float | None = None
        while len(batch) < self.policy.max_records and not self.shutdown.requested:
            remaining = 1.0 if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                break
            records = self.consumer.consume(
                num_messages=min(1000, self.policy.max_records - len(batch)), timeout=remaining
            )
            for record in records:
                error = record.error()
                if error is None:
                    batch.append(record)
                elif error.code() != KafkaError._PARTITION_EOF:
                    logger.warning("consumer error: %s", error)
            if batch and deadline is None:
                deadline = time.monotonic() + self.policy.max_wait_seconds
            if not batch and deadline is None and not records:
                break  # idle: go round the outer loop so shutdown is noticed
        return batch

    def _index(self, batch: list[Message]) -> bool:
        """Index the whole batch; False only when shutdown interrupted a retry (nothing stored)."""
        context = BatchContext.now()
        pending: list[IndexAction] = [prepare(record.value(), RecordPosition.of(record), context) for record in batch]
        backoff = self.policy.first_backoff_seconds
        while pending:
            try:
                result = bulk_create(self.client, pending)
            except ES_UNAVAILABLE as error:
                logger.warning(
                    "Elasticsearch unavailable (%s); retrying %d events in %.1fs", error, len(pending), backoff
                )
                if self.shutdown.wait(backoff):
                    return False
                backoff = min(backoff * 2, self.policy.max_backoff_seconds)
                continue
            self.stats.indexed += result.created
            self.stats.already_present += result.already_present
            pending = result.retry
            if result.throttled:
                logger.warning("Elasticsearch throttled %d events; retrying in %.1fs", len(pending), backoff)
                if self.shutdown.wait(backoff):
                    return False
                backoff = min(backoff * 2, self.policy.max_backoff_seconds)
        self.stats.batches += 1
        return True

    def _store_offsets(self, batch: list[Message]) -> None:
        next_offsets: dict[tuple[str, int], int] = {}
        for record in batch:
            position = RecordPosition.of(record)
            key = position.partition_key
            next_offsets[key] = max(next_offsets.get(key, 0), position.offset + 1)
        partitions = [TopicPartition(topic, partition, offset) for (topic, partition), offset in next_offsets.items()]
        try:
            self.consumer.store_offsets(offsets=partitions)
        except KafkaException as error:
            # Partitions revoked while we indexed: their new owner re-reads them; `create` dedups.
            logger.info("could not store offsets after a rebalance: %s", error)

    def _with_backoff(self, step: Callable[[], None], what: str) -> bool:
        backoff = self.policy.first_backoff_seconds
        while not self.shutdown.requested:
            try:
                step()
                return True
            except ES_UNAVAILABLE as error:
                logger.warning("could not %s (%s); retrying in %.1fs", what, error, backoff)
                self.shutdown.wait(backoff)
                backoff = min(backoff * 2, self.policy.max_backoff_seconds)
        return False
