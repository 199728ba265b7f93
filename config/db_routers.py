"""Route each app's models, and its migrations, to the database of the service that owns it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Model


class ServiceDatabaseRouter:
    """Data-driven: settings.DATABASE_APPS_MAPPING maps app label → alias; the rest is `default`."""

    @staticmethod
    def _alias_for(app_label: str) -> str:
        return settings.DATABASE_APPS_MAPPING.get(app_label, "default")

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        return self._alias_for(model._meta.app_label)

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return self._alias_for(model._meta.app_label)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        # No relation may cross service databases; ids are stored instead.
        return self._alias_for(obj1._meta.app_label) == self._alias_for(obj2._meta.app_label)

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == self._alias_for(app_label)
