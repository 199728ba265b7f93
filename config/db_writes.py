"""Taking turns on SQLite's single writer, within a process.

SQLite has one writer. When threads of one process (gthread API workers) race for it, the losers
wait in SQLite's busy handler, which polls by sleeping in growing steps of up to 100 ms — time in
which the lock is often free and nobody takes it. `serialized_writes` queues the process's writers on
a lock instead, so the database is handed over the moment a writer commits; other processes still
meet on SQLite's busy timeout, and nothing special happens for Postgres. (The channel workers need
none of this: they write one batch at a time from one thread.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction

_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _is_sqlite(using: str) -> bool:
    return connections[using].vendor == "sqlite"


def _in_transaction(using: str) -> bool:
    return transaction.get_connection(using).in_atomic_block


@contextmanager
def serialized_writes(using: str) -> Iterator[None]:
    """Hold the process's write turn on `using` (no-op unless SQLite and outside a transaction)."""
    if not _is_sqlite(using) or _in_transaction(using):
        # Inside a transaction this thread already holds SQLite's write lock (BEGIN IMMEDIATE), or a
        # caller further out holds the turn: taking it again here could only deadlock.
        yield
        return
    with _guard:
        lock = _locks.setdefault(using, threading.Lock())
    with lock:
        yield


@contextmanager
def write_transaction(using: str) -> Iterator[None]:
    """`transaction.atomic(using)` taken in turn with the process's other writers of that database."""
    with serialized_writes(using), transaction.atomic(using=using):
        yield
