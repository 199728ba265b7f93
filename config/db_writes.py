"""One writer at a time per SQLite database within a process.

SQLite has a single writer. When threads of one process (a worker's pool, gthread API workers) race
for it, the losers wait in SQLite's busy handler, which polls by sleeping in growing steps of up to
100 ms — time in which the lock is often free and nobody takes it. Queuing them on a lock of the
process instead hands the database over the moment the writer commits. Other processes still meet
on SQLite's busy timeout as before; databases with concurrent writers (Postgres) take no lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(alias: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(alias, threading.Lock())


@contextmanager
def serialized_writes(using: str) -> Iterator[None]:
    """Hold the process's write turn on `using` (no-op unless SQLite and outside a transaction)."""
    if connections[using].vendor != "sqlite" or transaction.get_connection(using).in_atomic_block:
        # Inside a transaction this thread already holds SQLite's write lock (BEGIN IMMEDIATE), or a
        # caller further out holds the turn: taking it again here could only deadlock.
        yield
        return
    with _lock_for(using):
        yield


@contextmanager
def write_transaction(using: str) -> Iterator[None]:
    """`transaction.atomic(using)` taken in turn with the process's other writers of that database."""
    with serialized_writes(using), transaction.atomic(using=using):
        yield
