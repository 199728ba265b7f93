"""`manage.py create_topics`: create every topic of docs/architecture.md that is missing (KAFKA_REPLICATION_FACTOR
replicas, min.insync.replicas min(2, RF)); warn about an existing topic with other settings."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from messaging.clients import build_admin
from messaging.topic_admin import ensure_topics
from messaging.topics import all_topics


class Command(BaseCommand):
    help = "Create every Kafka topic the system uses (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--partitions", type=int, default=None, help="default: KAFKA_TOPIC_PARTITIONS")

    def handle(self, *args: Any, **options: Any) -> None:
        report = ensure_topics(build_admin(), all_topics(), partitions=options["partitions"])
        for name in report.created:
            self.stdout.write(f"created {name}")
        for mismatch in report.mismatches:
            self.stderr.write(self.style.WARNING(f"warning: {mismatch}"))
        self.stdout.write(
            self.style.SUCCESS(
                f"topics: {len(report.created)} created, {len(report.existing)} already present"
                + (f" ({len(report.mismatches)} settings differ, see the warnings)" if report.mismatches else "")
            )
        )
