"""`manage.py index_logs`: consume every `logs.*` topic into Elasticsearch until SIGTERM/SIGINT."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from logging_service.connection import elasticsearch
from logging_service.indexer import BatchPolicy, LogIndexer
from messaging.clients import build_consumer
from messaging.shutdown import GracefulShutdown
from messaging.topics import log_topics_pattern


class Command(BaseCommand):
    help = "Index every logs.* topic into Elasticsearch (consumer group INDEXER_GROUP_ID)."

    def handle(self, *args: Any, **options: Any) -> None:
        consumer = build_consumer(
            settings.INDEXER_GROUP_ID,
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
        with GracefulShutdown() as shutdown:
            stats = LogIndexer(
                client=elasticsearch(),
                consumer=consumer,
                topics_pattern=log_topics_pattern(),
                policy=policy,
                shutdown=shutdown,
            ).run()
        self.stdout.write(
            f"index_logs stopped: {stats.indexed} indexed, {stats.already_present} already present, "
            f"{stats.batches} batches"
        )
