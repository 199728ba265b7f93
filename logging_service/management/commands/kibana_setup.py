"""`manage.py kibana_setup`: import the data view, saved searches, visualizations and dashboard into Kibana."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from logging_service.documents import index_pattern
from logging_service.kibana.importer import KibanaError, import_saved_objects
from logging_service.kibana.saved_objects import DASHBOARD_ID, saved_objects_ndjson


class Command(BaseCommand):
    help = "Import the Kibana saved objects for the log indices through Kibana's API (needs KIBANA_URL)."

    def handle(self, *args: Any, **options: Any) -> None:
        kibana_url: str = settings.KIBANA_URL
        if not kibana_url:
            self.stdout.write("KIBANA_URL is not set: nothing to import.")
            return
        pattern = index_pattern()
        try:
            result = import_saved_objects(kibana_url=kibana_url, ndjson=saved_objects_ndjson(pattern=pattern))
        except KibanaError as error:
            raise CommandError(str(error)) from error
        if not result.success or result.failures:
            for failure in result.failures:
                self.stderr.write(f"  {failure.describe()}")
            refused = len(result.failures)
            raise CommandError(
                f"Kibana imported {result.success_count} saved objects and refused {refused} (listed above)"
            )
        self.stdout.write(
            self.style.SUCCESS(f"Imported {result.success_count} saved objects into Kibana (data view {pattern!r}).")
        )
        self.stdout.write(f"Dashboard: {result.kibana_url}/app/dashboards#/view/{DASHBOARD_ID}")
