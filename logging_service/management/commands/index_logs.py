"""`manage.py index_logs`: consume every `logs.*` topic into Elasticsearch until SIGTERM/SIGINT."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from logging_service.indexer import LogIndexer
from messaging.shutdown import GracefulShutdown


class Command(BaseCommand):
    help = "Index every logs.* topic into Elasticsearch (consumer group INDEXER_GROUP_ID)."

    def handle(self, *args: Any, **options: Any) -> None:
        with GracefulShutdown() as shutdown:
            stats = LogIndexer.from_settings(shutdown=shutdown, group_id=settings.INDEXER_GROUP_ID).run()
        self.stdout.write(
            f"index_logs stopped: {stats.indexed} indexed, {stats.already_present} already present, "
            f"{stats.batches} batches"
        )
