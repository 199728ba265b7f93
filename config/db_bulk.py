"""Many rows of one model in one executemany INSERT.

The statement is the one `bulk_create` runs, without what made `bulk_create` a third of a channel
worker's CPU per message (`python -m bench.handler`): building a model instance per row and compiling
every value of every row through the SQL compiler. Values are adapted for the database once per
field kind (dates, UUIDs, JSON), which is all the ORM's compiler did for these models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.db import connections, models
from django.utils import timezone

_Adapter = Callable[[Any], Any]


class RowInserter:
    """Inserts rows given as field name → value; missing fields take their model default, and
    `auto_now`/`auto_now_add` dates the moment of the insert. Returns nothing: ask for pks yourself."""

    def __init__(self, model: type[models.Model], using: str) -> None:
        self.using = using
        connection = connections[using]
        meta = model._meta
        self._fields = [field for field in meta.concrete_fields if not field.primary_key]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in self._fields)
        placeholders = ", ".join(["%s"] * len(self._fields))
        self.sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"
        self._adapters = [self._adapter(field) for field in self._fields]

    def _adapter(self, field: models.Field[Any, Any]) -> _Adapter | None:
        connection = connections[self.using]
        if isinstance(field, models.DateTimeField):
            return connection.ops.adapt_datetimefield_value
        if isinstance(field, models.UUIDField | models.JSONField):
            return lambda value: field.get_db_prep_value(value, connection)
        return None

    def insert(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        now = timezone.now()
        defaults = [self._default(field, now) for field in self._fields]
        names = [field.attname for field in self._fields]
        params = []
        for row in rows:
            values = []
            for name, default, adapt in zip(names, defaults, self._adapters, strict=True):
                value = row[name] if name in row else default()
                values.append(value if adapt is None or value is None else adapt(value))
            params.append(values)
        with connections[self.using].cursor() as cursor:
            cursor.executemany(self.sql, params)

    @staticmethod
    def _default(field: models.Field[Any, Any], now: Any) -> Callable[[], Any]:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            return lambda: now
        return field.get_default
