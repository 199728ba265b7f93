"""`manage.py create_api_key <name>`: create an API key and print it — the only time it is shown."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from rest_framework_api_key.models import APIKey


class Command(BaseCommand):
    help = "Create an API key for a client and print it once (only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who the key is for, e.g. 'billing-service'.")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        api_key, key = APIKey.objects.create_key(name=name)
        self.stderr.write(f"API key {api_key.prefix!r} for {name!r}; store it now, it cannot be shown again:")
        self.stdout.write(key)
