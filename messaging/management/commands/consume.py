"""`manage.py consume <name>`: run one of the project's Kafka consumers until SIGTERM/SIGINT.

Names: each channel (`email`, `sms`, `whatsapp`: its delivery worker) and `logs` (the log indexer,
also `manage.py index_logs`). Every one runs on messaging.consumption's runner.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from messaging.consumption.registry import consumer_entry, consumer_names


class Command(BaseCommand):
    help = "Run one Kafka consumer (a channel's delivery worker, or `logs`, the log indexer)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", choices=consumer_names())
        parser.add_argument(
            "--max-in-flight",
            type=int,
            default=None,
            help="channel workers: provider calls at a time (default <CHANNEL>_MAX_IN_FLIGHT)",
        )

    def handle(self, *args: Any, name: str, max_in_flight: int | None, **options: Any) -> None:
        entry = consumer_entry(name)
        extra = {"max_in_flight": max_in_flight} if max_in_flight is not None else {}
        entry.run(**extra)
