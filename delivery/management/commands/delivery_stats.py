"""`manage.py delivery_stats [--channel C] [--json]`: counts per status, simulator sends, double sends."""

from __future__ import annotations

from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandParser

from delivery.models import DeliveryStatus
from delivery.registry import get_channel, registered_channels
from delivery.stats import channel_stats
from messaging.channels import Channel


class Command(BaseCommand):
    help = "Delivery counts per status, the simulator's calls and sends, and message ids sent more than once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--channel", choices=[channel.value for channel in Channel], default=None)
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args: Any, **options: Any) -> None:
        specs = [get_channel(options["channel"])] if options["channel"] else registered_channels()
        stats = [channel_stats(spec=spec) for spec in specs]
        if options["json"]:
            self.stdout.write(orjson.dumps([s.to_dict() for s in stats], option=orjson.OPT_INDENT_2).decode())
            return
        for s in stats:
            counts = "  ".join(f"{status}={count}" for status, count in s.statuses.items())
            self.stdout.write(
                f"{s.channel:<9} {counts}  simulator_calls={s.simulator_calls} simulator_sends={s.simulator_sends}"
            )
            if held := s.statuses.get(DeliveryStatus.UNKNOWN):
                self.stdout.write(self.style.WARNING(f"  {held} unknown: settle with `bin/manage dlq resolve`"))
            for message_id in s.sent_more_than_once:
                self.stdout.write(self.style.ERROR(f"  sent more than once: {message_id}"))
