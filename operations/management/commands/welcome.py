"""`manage.py welcome`: ensure the development API key and print how to use the running system."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from operations.welcome import dev_api_key, welcome_text


class Command(BaseCommand):
    help = "Create (once) the development API key and print it with a ready-to-paste curl and the URLs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, base_url: str, **options: Any) -> None:
        path = Path(settings.DEV_API_KEY_FILE)
        self.stdout.write(welcome_text(base_url.rstrip("/"), dev_api_key(path), path))
