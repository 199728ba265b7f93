"""Taking turns on SQLite's single writer, within a process and across processes.

SQLite has one writer. When writers race for it — threads of one process, or the API's gunicorn
workers, each with its group-commit thread — the losers wait in SQLite's busy handler, which polls by
sleeping in growing steps of up to 100 ms: time in which the lock is often free and nobody takes it.
Under load that was most of a request's wait (`py-spy --idle` on a worker: 47% of its request
threads' time in the commit, most of it in BEGIN IMMEDIATE). `serialized_writes` queues the writers
instead: the process's on a lock, and the processes on an flock of a file beside the database, which
the kernel hands over the moment the holder lets go; so SQLite's lock is always free when asked for.
Writers that do not take the turn (another program) still meet on SQLite's busy timeout; nothing
special happens for Postgres. (The channel workers need none of this: they write one batch at a time
from one thread, in a database of their own.)
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction

_locks: dict[str, threading.Lock] = {}
# Opened per process (a descriptor inherited through fork would share its lock with the parent's).
_lock_files: dict[tuple[int, str], int] = {}
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
        descriptor = _writer_lock_file(using)
        if descriptor is None:
            yield
            return
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # blocks without the GIL; freed if the process dies
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)


def _writer_lock_file(using: str) -> int | None:
    """The descriptor of `<database>.writer-lock`, or None for a database in memory (one process)."""
    name = str(connections[using].settings_dict["NAME"] or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    key = (os.getpid(), using)
    with _guard:
        descriptor = _lock_files.get(key)
        if descriptor is None:
            descriptor = _lock_files[key] = os.open(f"{name}.writer-lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    return descriptor


@contextmanager
def write_transaction(using: str) -> Iterator[None]:
    """`transaction.atomic(using)` taken in turn with the process's other writers of that database."""
    with serialized_writes(using), transaction.atomic(using=using):
        yield
