"""Many rows of one model in one executemany INSERT.

The statement is the one `bulk_create` runs, without what made `bulk_create` a third of a channel
worker's CPU per message (`python -m bench.handler`): building a model instance per row and compiling
every value of every row through the SQL compiler. Values are adapted for the database once per
field kind (dates, UUIDs, JSON), which is all the ORM's compiler did for these models.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from django.db import connections, models, transaction
from django.utils import timezone

from config.db_writes import write_transaction

_Adapter = Callable[[Any], Any]


class RowInserter:
    """Inserts rows given as field name → value; missing fields take their model default, and
    `auto_now`/`auto_now_add` dates the moment of the insert. Returns nothing: ask for pks yourself."""

    def __init__(self, model: type[models.Model], using: str) -> None:
        self.using = using
        connection = connections[using]
        meta = model._meta
        # Every column but a database-generated primary key (an explicit one, a UUID, is a value).
        self._fields = [field for field in meta.concrete_fields if not isinstance(field, models.fields.AutoFieldMixin)]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in self._fields)
        placeholders = ", ".join(["%s"] * len(self._fields))
        self.sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"
        self._adapters = [self._adapter(field) for field in self._fields]

    def _adapter(self, field: models.Field[Any, Any]) -> _Adapter | None:
        connection = connections[self.using]
        if isinstance(field, models.DateTimeField):
            return connection.ops.adapt_datetimefield_value
        if isinstance(field, models.UUIDField | models.JSONField | models.ForeignKey):
            # A foreign key is stored as its target's value (a UUID primary key needs adapting too).
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


_Rows = list[tuple[type[models.Model], list[dict[str, Any]]]]  # rows by model, committed together
_Batch = list[tuple[_Rows, "Future[None]"]]


class GroupInserter:
    """Rows of many threads, inserted by one thread in one transaction; each caller waits for the
    commit that made its rows durable (group commit: one BEGIN/COMMIT, and with synchronous=FULL one
    fsync, for whatever the threads queued meanwhile). Rows of one model go in one executemany, in
    the order the models were first queued (a foreign key's target first)."""

    def __init__(self, using: str, *, name: str) -> None:
        self.using = using
        self._queue: queue.SimpleQueue[tuple[_Rows, Future[None]]] = queue.SimpleQueue()
        self._inserters: dict[type[models.Model], RowInserter] = {}
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, model: type[models.Model], rows: list[dict[str, Any]]) -> Future[None]:
        return self.submit_together([(model, rows)])

    def submit_together(self, rows: _Rows) -> Future[None]:
        future: Future[None] = Future()
        self._queue.put((rows, future))
        return future

    def insert(self, model: type[models.Model], rows: list[dict[str, Any]], timeout: float | None = None) -> None:
        """Insert and wait for the commit; raises what the transaction raised."""
        self.insert_together([(model, rows)], timeout)

    def insert_together(self, rows: _Rows, timeout: float | None = None) -> None:
        """Rows of several models, committed in the same transaction (never one without the others).
        Inside a transaction of the caller's (a test's, an enclosing service's) the rows go in there,
        as it expects: another thread's transaction could neither see its rows nor get past its write
        lock."""
        if transaction.get_connection(self.using).in_atomic_block:
            for model, model_rows in rows:
                self._inserter(model).insert(model_rows)
            return
        self.submit_together(rows).result(timeout)

    def _run(self) -> None:
        while True:
            batch: _Batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: _Batch) -> None:
        by_model: dict[type[models.Model], list[dict[str, Any]]] = {}
        for rows_by_model, _ in batch:
            for model, rows in rows_by_model:
                by_model.setdefault(model, []).extend(rows)
        try:
            connections[self.using].close_if_unusable_or_obsolete()
            with write_transaction(self.using):
                for model, rows in by_model.items():
                    self._inserter(model).insert(rows)
        except Exception as error:
            # One transaction for all: a constraint broken by one caller fails them all. Retry each
            # alone, so that the failure stays its own (rare: the rows are fresh ids).
            if len(batch) == 1:
                batch[0][1].set_exception(error)
                return
            for item in batch:
                self._commit([item])
            return
        for _, future in batch:
            future.set_result(None)

    def _inserter(self, model: type[models.Model]) -> RowInserter:
        inserter = self._inserters.get(model)
        if inserter is None:
            inserter = self._inserters[model] = RowInserter(model, self.using)
        return inserter
