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
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import OperationalError, connections, transaction

# Keyed by process: a lock or descriptor inherited through fork would be shared with the parent.
_locks: dict[tuple[int, str], threading.Lock] = {}
_turns: dict[tuple[int, str], _WriterTurn] = {}
_guard = threading.Lock()
DEFAULT_WAIT_SECONDS = 5.0


def _is_sqlite(using: str) -> bool:
    return connections[using].vendor == "sqlite"


def _in_transaction(using: str) -> bool:
    return transaction.get_connection(using).in_atomic_block


class _Ask:
    """One thread's request for the turn, which the waiter grants unless the asker gave up first."""

    def __init__(self) -> None:
        self.granted = threading.Event()
        self._guard = threading.Lock()
        self._abandoned = False

    def grant(self) -> bool:
        with self._guard:
            if self._abandoned:
                return False
            self.granted.set()
            return True

    def give_up(self) -> bool:
        """True when given up before the turn came (if it came meanwhile, the asker has it after all)."""
        with self._guard:
            if self.granted.is_set():
                return False
            self._abandoned = True
            return True


class _WriterTurn:
    """This process's turn among the processes writing one SQLite file: an flock of
    `<database>.writer-lock`, taken at once when free. When it is not, a waiter thread blocks for it
    (without the GIL; the kernel hands it over the moment its holder lets go) while the asker waits
    with a timeout: a holder that stalls (stopped, a hung disk) costs the others an error after the
    busy timeout, as SQLite's own lock did, not a wait without end. Callers hold `lock` (the process's
    turn) around take and give_back, so one thread of the process asks at a time."""

    def __init__(self, path: str, lock: threading.Lock) -> None:
        self.lock = lock
        self._descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._asks: queue.SimpleQueue[_Ask] = queue.SimpleQueue()
        threading.Thread(target=self._grant_turns, name="sqlite-writer-turn", daemon=True).start()

    def take(self, timeout: float) -> bool:
        """True once the process holds the turn; False when it did not come within `timeout`."""
        try:
            fcntl.flock(self._descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        ask = _Ask()
        self._asks.put(ask)
        return ask.granted.wait(timeout) or not ask.give_up()

    def give_back(self) -> None:
        fcntl.flock(self._descriptor, fcntl.LOCK_UN)

    def _grant_turns(self) -> None:
        while True:
            ask = self._asks.get()
            fcntl.flock(self._descriptor, fcntl.LOCK_EX)  # the process holds it now
            if not ask.grant():
                # Its asker gave up. Hand it back once no thread of ours is in a turn: one that took
                # it meanwhile (LOCK_NB succeeds while the process holds it) gives it back itself.
                with self.lock:
                    fcntl.flock(self._descriptor, fcntl.LOCK_UN)


@contextmanager
def serialized_writes(using: str) -> Iterator[None]:
    """Hold the write turn on `using` among this process's threads and, for a SQLite file, among the
    processes writing it (no-op unless SQLite and outside a transaction). Raises OperationalError when
    the turn does not come within the database's busy timeout."""
    if not _is_sqlite(using) or _in_transaction(using):
        # Inside a transaction this thread already holds SQLite's write lock (BEGIN IMMEDIATE), or a
        # caller further out holds the turn: taking it again here could only deadlock.
        yield
        return
    connection = connections[using]
    timeout = float(connection.settings_dict.get("OPTIONS", {}).get("timeout", DEFAULT_WAIT_SECONDS))
    name = str(connection.settings_dict["NAME"] or "")
    in_memory = not name or name == ":memory:" or name.startswith("file:")  # one process's only
    key = (os.getpid(), using)
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
        turn = None if in_memory else _turns.get((key[0], name))
        if turn is None and not in_memory:
            turn = _turns[(key[0], name)] = _WriterTurn(f"{name}.writer-lock", lock)
    deadline = time.monotonic() + timeout
    if not lock.acquire(timeout=timeout):
        raise OperationalError(f"database is locked: no write turn within {timeout:g}s")
    try:
        if turn is None:
            yield
            return
        if not turn.take(max(0.0, deadline - time.monotonic())):
            raise OperationalError(f"database is locked: no write turn within {timeout:g}s")
        try:
            yield
        finally:
            turn.give_back()
    finally:
        lock.release()


@contextmanager
def write_transaction(using: str) -> Iterator[None]:
    """`transaction.atomic(using)` taken in turn with the process's other writers of that database."""
    with serialized_writes(using), transaction.atomic(using=using):
        yield
