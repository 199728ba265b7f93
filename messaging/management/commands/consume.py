"""`manage.py consume <name>`: run one of the project's Kafka consumers until SIGTERM/SIGINT.

Names: the consumer table's (messaging.consumption.registry): each channel (`email`, `sms`,
`whatsapp`: its delivery worker), `logs` (the log indexer, also `manage.py index_logs`) and
`webhooks` (the status webhooks worker). Every one is built from its definition by `run_consumer`.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from messaging.consumption.assembly import run_consumer
from messaging.consumption.registry import consumer_names


class Command(BaseCommand):
    help = "Run one Kafka consumer (a channel's delivery worker, `logs` the log indexer, `webhooks`)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", choices=consumer_names())
        parser.add_argument(
            "--max-in-flight",
            type=int,
            default=None,
            help="channel workers: provider calls at a time (default <CHANNEL>_MAX_IN_FLIGHT)",
        )

    def handle(self, *args: Any, name: str, max_in_flight: int | None, **options: Any) -> None:
        run_consumer(name, max_in_flight=max_in_flight)
