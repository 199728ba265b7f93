"""`manage.py migrate_all`: apply migrations to every service database."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run `migrate` on every configured database (router, email, sms, whatsapp)."

    def handle(self, *args: Any, **options: Any) -> None:
        for alias in settings.DATABASES:
            self.stdout.write(f"migrating database {alias!r}")
            call_command("migrate", database=alias, interactive=False, verbosity=max(0, options["verbosity"] - 1))
        self.stdout.write(self.style.SUCCESS(f"{len(settings.DATABASES)} databases migrated"))
