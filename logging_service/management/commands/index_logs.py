"""`manage.py index_logs` (= `manage.py consume logs`): every `logs.*` topic into Elasticsearch until
SIGTERM/SIGINT, then what it indexed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from logging_service.indexer import IndexEvents
from messaging.consumption.assembly import run_consumer


class Command(BaseCommand):
    help = "Index every logs.* topic into Elasticsearch (consumer group INDEXER_GROUP_ID)."

    def handle(self, *args: Any, **options: Any) -> None:
        stats = run_consumer("logs").step(IndexEvents).stats
        self.stdout.write(
            f"index_logs stopped: {stats.indexed} indexed, {stats.already_present} already present, "
            f"{stats.bulk_requests} bulk requests"
        )
