"""Taking turns on SQLite's single writer, within a process.

SQLite has one writer. When threads of one process (a worker's pool, gthread API workers) race for
it, the losers wait in SQLite's busy handler, which polls by sleeping in growing steps of up to
100 ms — time in which the lock is often free and nobody takes it (a profile of a channel worker
showed 93% of its threads' time there). Two remedies, both leaving other processes to meet on
SQLite's busy timeout as before, and both doing nothing special for Postgres:

- `serialized_writes`: queue the process's writers on a lock, so the database is handed over the
  moment a writer commits.
- `group_write`: hand the write to the database's committer thread, which runs the writes queued
  meanwhile one after another in ONE transaction and commits once (when one write fails, the batch
  is redone with a savepoint per write, so the failure stays that write's own).
  Each caller gets its result only after that commit: durability per caller is unchanged, the cost
  of BEGIN/COMMIT is shared.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import TypeVar

from django.db import connections, transaction

T = TypeVar("T")

# Writes one committer transaction takes at most: bounds how long the write lock is held.
GROUP_MAX_WRITES = 200

_locks: dict[str, threading.Lock] = {}
_committers: dict[str, _Committer] = {}
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


def group_write(using: str, write: Callable[[], T]) -> T:
    """Run `write` (ORM writes on `using`, nothing else) in a committed transaction; return its result.

    `write` runs on the committer's thread and connection, so it must not rely on this thread's
    state. Inside a transaction of the caller (tests, nested services) it runs here, in that
    transaction, as the caller expects.
    """
    if not _is_sqlite(using) or _in_transaction(using):
        with transaction.atomic(using=using):
            return write()
    with _guard:
        committer = _committers.get(using)
        if committer is None:
            committer = _committers[using] = _Committer(using)
    return committer.submit(write)


class _Committer:
    def __init__(self, using: str) -> None:
        self.using = using
        self._queue: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name=f"committer-{using}", daemon=True).start()

    def submit(self, write: Callable[[], T]) -> T:
        future: Future[object] = Future()
        self._queue.put((write, future))
        return future.result()  # type: ignore[return-value]

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < GROUP_MAX_WRITES:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[tuple[Callable[[], object], Future[object]]]) -> None:
        connections[self.using].close_if_unusable_or_obsolete()
        try:
            # Optimistic: the writes one after another, no savepoints (two statements per write saved).
            outcomes = self._run_writes(batch, savepoints=False)
        except Exception:
            # One write failed and the whole transaction rolled back: redo each in a savepoint of its
            # own, so the failure is that write's alone.
            try:
                outcomes = self._run_writes(batch, savepoints=True)
            except BaseException as error:  # BEGIN or COMMIT failed: nothing of the batch is durable
                for _, future in batch:
                    future.set_exception(error)
                return
        for future, result, failure in outcomes:  # only now, after the commit
            if failure is None:
                future.set_result(result)
            else:
                future.set_exception(failure)

    def _run_writes(
        self, batch: list[tuple[Callable[[], object], Future[object]]], *, savepoints: bool
    ) -> list[tuple[Future[object], object, BaseException | None]]:
        outcomes: list[tuple[Future[object], object, BaseException | None]] = []
        with transaction.atomic(using=self.using):
            for write, future in batch:
                if not savepoints:
                    outcomes.append((future, write(), None))  # an exception aborts the transaction
                    continue
                try:
                    with transaction.atomic(using=self.using):
                        outcomes.append((future, write(), None))
                except Exception as error:
                    outcomes.append((future, None, error))
        return outcomes
