"""`manage.py dlq list <channel>` and `manage.py dlq replay <channel> [--message-id ID] [--limit N]`."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from delivery.dlq import DeadLetter, dlq_read, dlq_replay
from delivery.registry import get_channel
from messaging.channels import Channel


class Command(BaseCommand):
    help = "List or replay a channel's dead-letter topic (send.<channel>.dlq)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        channels = [channel.value for channel in Channel]
        listing = actions.add_parser("list", help="print every dead-lettered record")
        listing.add_argument("channel", choices=channels)
        replay = actions.add_parser("replay", help="publish undelivered messages back onto send.<channel>")
        replay.add_argument("channel", choices=channels)
        replay.add_argument("--message-id", type=uuid.UUID, default=None)
        replay.add_argument("--limit", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        spec = get_channel(options["channel"])
        if options["action"] == "list":
            letters = dlq_read(spec=spec)
            for letter in letters:
                self.stdout.write(self._line(letter))
            self.stdout.write(f"{len(letters)} dead-lettered record(s) on {spec.channel}")
            return
        replayed = dlq_replay(spec=spec, message_id=options["message_id"], limit=options["limit"])
        for letter in replayed:
            self.stdout.write(f"replayed {letter.message_id}")
        self.stdout.write(self.style.SUCCESS(f"{len(replayed)} message(s) replayed onto send.{spec.channel}"))

    @staticmethod
    def _line(letter: DeadLetter) -> str:
        info = letter.info
        where = f"{letter.partition}:{letter.offset}"
        if info is None:
            return f"{where}  {letter.message_id}  (no dead-letter headers)"
        return (
            f"{where}  {letter.message_id}  attempts={info.attempts}  {info.error_type}: {info.error_message}"
            f"  failed-at={info.failed_at.isoformat()}  from={info.original_topic}[{info.original_partition}]"
            f"@{info.original_offset}"
        )
