"""`manage.py dlq list <channel>`, `manage.py dlq replay <channel> [--message-id ID] [--limit N]` and
`manage.py dlq resolve <channel> (--message-id ID | --all [--older-than 1h]) --as sent|resend` (messages
held as `unknown`)."""

from __future__ import annotations

import argparse
import uuid
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.durations import parse_duration
from delivery.dlq import DeadLetter, Resolution, dlq_read, dlq_replay, dlq_resolve, dlq_resolve_held
from delivery.registry import get_channel
from messaging.channels import Channel


class Command(BaseCommand):
    help = "List or replay a channel's dead-letter topic (send.<channel>.dlq); resolve a message held as unknown."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        channels = [channel.value for channel in Channel]
        listing = actions.add_parser("list", help="print every dead-lettered record")
        listing.add_argument("channel", choices=channels)
        replay = actions.add_parser("replay", help="publish undelivered messages back onto send.<channel>")
        replay.add_argument("channel", choices=channels)
        replay.add_argument("--message-id", type=uuid.UUID, default=None)
        replay.add_argument("--limit", type=int, default=None)
        resolve = actions.add_parser(
            "resolve", help="settle a message held as unknown (a worker died mid-send; ON_UNKNOWN_OUTCOME=hold)"
        )
        resolve.add_argument("channel", choices=channels)
        which = resolve.add_mutually_exclusive_group(required=True)
        which.add_argument("--message-id", type=uuid.UUID)
        which.add_argument("--all", action="store_true", help="every message of the channel held as unknown")
        resolve.add_argument(
            "--older-than", type=_age, default=None, help="with --all: only those held for longer (e.g. 30m, 1h)"
        )
        resolve.add_argument("--as", dest="resolution", choices=[r.value for r in Resolution], required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        spec = get_channel(options["channel"])
        if options["action"] == "list":
            letters = dlq_read(spec=spec)
            for letter in letters:
                self.stdout.write(self._line(letter))
            self.stdout.write(f"{len(letters)} dead-lettered record(s) on {spec.channel}")
            return
        if options["action"] == "resolve":
            resolution = Resolution(options["resolution"])
            if options["all"]:
                settled = dlq_resolve_held(spec=spec, resolution=resolution, older_than=options["older_than"])
                for message_id in settled:
                    self.stdout.write(f"resolved {message_id}: {resolution.value}")
                self.stdout.write(self.style.SUCCESS(f"{len(settled)} held message(s) resolved: {resolution.value}"))
                return
            if options["older_than"] is not None:
                raise CommandError("--older-than goes with --all (a --message-id is settled whatever its age)")
            try:
                dlq_resolve(spec=spec, message_id=options["message_id"], resolution=resolution)
            except LookupError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(self.style.SUCCESS(f"{options['message_id']} resolved: {options['resolution']}"))
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


def _age(text: str) -> timedelta:
    try:
        return timedelta(seconds=parse_duration(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
