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

from django.conf import settings
from django.db import OperationalError, connections, transaction

# Keyed by process: a lock or descriptor inherited through fork would be shared with the parent.
_locks: dict[tuple[int, str], threading.Lock] = {}
_lock_files: dict[tuple[int, str], int] = {}
_guard = threading.Lock()


def _is_sqlite(using: str) -> bool:
    return connections[using].vendor == "sqlite"


def _in_transaction(using: str) -> bool:
    return transaction.get_connection(using).in_atomic_block


@contextmanager
def serialized_writes(using: str) -> Iterator[None]:
    """Hold the write turn on `using` among this process's threads and, for a SQLite file, among the
    processes writing it (no-op unless SQLite and outside a transaction). A thread that cannot get
    the process's turn within the database's busy timeout raises OperationalError, as SQLite's lock
    did; the one thread of a process that waits for another process's turn waits for as long as that
    process holds it (a commit's length; if it is stopped, until it goes on or dies, when the kernel
    frees its lock): an flock wait cannot be bounded without handing the turn through a thread of
    its own, which measured 13% fewer accepted POSTs (docs/performance.md)."""
    if not _is_sqlite(using) or _in_transaction(using):
        # Inside a transaction this thread already holds SQLite's write lock (BEGIN IMMEDIATE), or a
        # caller further out holds the turn: taking it again here could only deadlock.
        yield
        return
    database = connections[using].settings_dict
    timeout = float(database["OPTIONS"].get("timeout", settings.SQLITE_BUSY_TIMEOUT_SECONDS))
    lock, descriptor = _turn_of(using, str(database["NAME"] or ""))
    if not lock.acquire(timeout=timeout):
        raise OperationalError(f"database is locked: no write turn within {timeout:g}s")
    try:
        if descriptor is None:
            yield
            return
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # blocks without the GIL; the kernel hands it over at once
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        lock.release()


def _turn_of(using: str, name: str) -> tuple[threading.Lock, int | None]:
    """This process's lock for `using` and its descriptor of `<database>.writer-lock` (None for a
    database in memory, which only this process sees)."""
    pid = os.getpid()
    in_memory = not name or name == ":memory:" or name.startswith("file:")
    with _guard:
        lock = _locks.setdefault((pid, using), threading.Lock())
        if in_memory:
            return lock, None
        descriptor = _lock_files.get((pid, name))
        if descriptor is None:
            descriptor = _lock_files[(pid, name)] = os.open(
                f"{name}.writer-lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
            )
        return lock, descriptor


@contextmanager
def write_transaction(using: str) -> Iterator[None]:
    """`transaction.atomic(using)` taken in turn with the process's other writers of that database."""
    with serialized_writes(using), transaction.atomic(using=using):
        yield
