"""`manage.py consume <email|sms|whatsapp>`: run one channel's delivery worker until SIGTERM/SIGINT."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from delivery.runner import run_channel_worker
from messaging.channels import Channel


class Command(BaseCommand):
    help = "Deliver messages of one channel: consume send.<channel> and its retry topics."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("channel", choices=[channel.value for channel in Channel])
        parser.add_argument(
            "--max-in-flight",
            type=int,
            default=None,
            help="records sent concurrently (default <CHANNEL>_MAX_IN_FLIGHT)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        run_channel_worker(Channel(options["channel"]), max_in_flight=options["max_in_flight"])
