"""`manage.py purge [--older-than 30d] [--dry-run]`: delete rows past their retention (operations.retention).

Meant to run once a day, e.g. from cron: `17 3 * * * cd /srv/comms && .venv/bin/python manage.py purge`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.durations import parse_duration
from operations.retention import purge


def _age(text: str) -> timedelta:
    """`30d`, `12h`, `90m` … (d for days, then what delivery.retry_policy.parse_duration takes)."""
    text = text.strip()
    try:
        if text.endswith("d"):
            return timedelta(days=float(text[:-1]))
        return timedelta(seconds=parse_duration(text))
    except ValueError as error:
        raise CommandError(f"--older-than: {error}") from None


class Command(BaseCommand):
    help = "Delete what is past its retention: published outbox entries, expired keys, final deliveries, …"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than", default=None, help="one age for every table instead of RETENTION_*_DAYS (e.g. 30d)"
        )
        parser.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")

    def handle(self, *args: Any, older_than: str | None, dry_run: bool, **options: Any) -> None:
        results = purge(older_than=_age(older_than) if older_than else None, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        for result in results:
            self.stdout.write(f"{verb} {result.rows:>8} {result.what}")
