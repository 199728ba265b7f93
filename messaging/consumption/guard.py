"""Runs a chain of steps over a batch so that one bad record can never stall a partition.

- A step that raises an infrastructure error (database or broker down: the consumer's classifier,
  failures.py, says which) is retried with backoff for as long as it takes; nothing is skipped. A
  shutdown meanwhile aborts the batch (left uncommitted).
- A step that raises anything else is retried `max_tries` times; if it still fails, the batch is split
  in halves, each run on through the rest of the chain, until the one item that fails alone
  `max_tries` times is found. That item is dead-lettered with the error, and the stream goes on.
  Work a step completed before raising stays on the items (Step contract), so a retry or a split
  never repeats a provider call.
- Items rejected by a step (undecodable, …) are dead-lettered without a retry.
- arroyo's DlqLimit: more than `max_consecutive_dead_letters` in a row (in offset order, across
  batches) and the consumer stops loudly rather than emptying a topic into its DLQ.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db import close_old_connections

from messaging.consumption.failures import FailureClassifier
from messaging.consumption.items import Item, live
from messaging.consumption.steps import Aborted, DeadLetterLimitExceeded, DeadLetterSink, Step
from messaging.shutdown import GracefulShutdown

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuardPolicy:
    max_tries: int = 3
    first_backoff_seconds: float = 0.25
    max_backoff_seconds: float = 30.0
    # None: no limit.
    max_consecutive_dead_letters: int | None = 100


@dataclass(frozen=True)
class _DeadLetter:
    item: Item
    error_type: str
    reason: str


class StepGuard:
    def __init__(
        self,
        *,
        policy: GuardPolicy,
        classifier: FailureClassifier,
        sink: DeadLetterSink,
        shutdown: GracefulShutdown,
    ) -> None:
        self.policy = policy
        self.classifier = classifier
        self.sink = sink
        self.shutdown = shutdown
        self._consecutive_dead_letters = 0
        self._dead: list[_DeadLetter] = []

    def run(self, steps: Sequence[Step], items: list[Item]) -> None:
        """Every step over `items`; returns once each item went through the chain or was
        dead-lettered (durably). Raises Aborted (shutdown) or DeadLetterLimitExceeded."""
        self._dead = []
        self._run_from(steps, items, self.policy.max_tries)
        self._flush_dead_letters(items)

    # --- the chain ----------------------------------------------------------------------------
    def _run_from(self, steps: Sequence[Step], items: list[Item], tries: int) -> None:
        for index, step in enumerate(steps):
            current = live(items)
            if not current:
                break
            error = self._attempt(step, current, tries)
            self._collect_rejections(current)
            if error is None:
                continue
            current = live(current)
            if not current:
                continue
            if len(current) == 1:
                self._give_up(current[0], step, error)
                continue
            half = len(current) // 2
            logger.warning("%s failed on %d records: splitting to find the one that fails", step.name, len(current))
            for part in (current[:half], current[half:]):
                self._run_from(steps[index:], part, self.policy.max_tries if len(part) == 1 else 1)
            return

    def _attempt(self, step: Step, items: list[Item], tries: int) -> Exception | None:
        """Run `step`, retrying it up to `tries` times on a non-infrastructure error; the last such
        error, or None once it succeeded."""
        error: Exception | None = None
        for attempt in range(1, tries + 1):
            current = live(items)
            if not current:
                return None
            error = self.call(lambda: step.run(current), what=step.name)  # noqa: B023 - called at once
            if error is None:
                return None
            logger.error(
                "%s failed on %d record(s) (try %d of %d)", step.name, len(current), attempt, tries, exc_info=error
            )
            close_old_connections()  # a broken connection is replaced before the next try
            if attempt < tries:
                self._sleep(self.policy.first_backoff_seconds * 2 ** (attempt - 1))
        return error

    def call(self, work: Callable[[], None], *, what: str) -> Exception | None:
        """Run `work` until it succeeds (None) or raises a non-infrastructure error (returned).
        Infrastructure errors are retried with backoff; a shutdown meanwhile raises Aborted."""
        backoff = self.policy.first_backoff_seconds
        while True:
            try:
                work()
                return None
            except Exception as error:
                if not self.classifier.is_infrastructure(error):
                    return error
                logger.warning("%s: %s: %s; retrying in %.1fs", what, type(error).__name__, error, backoff)
                close_old_connections()
                self._sleep(backoff)
                backoff = min(backoff * 2, self.policy.max_backoff_seconds)

    def _sleep(self, seconds: float) -> None:
        if self.shutdown.wait(seconds):
            raise Aborted(f"shutdown requested while retrying ({seconds:.1f}s backoff)")

    # --- dead letters -----------------------------------------------------------------------------
    def _collect_rejections(self, items: list[Item]) -> None:
        for item in items:
            # A rejected item is done, so no later step (or retry) passes it here a second time.
            if item.rejection is not None:
                self._dead.append(_DeadLetter(item, item.rejection.error_type, item.rejection.reason))

    def _give_up(self, item: Item, step: Step, error: Exception) -> None:
        reason = f"{step.name} failed {self.policy.max_tries} times: {error}"
        logger.error("dead-lettering %s: %s", item.position, reason)
        item.finish()
        self._dead.append(_DeadLetter(item, type(error).__name__, reason))

    def _flush_dead_letters(self, items: list[Item]) -> None:
        dead_items = {id(dead.item) for dead in self._dead}
        limit = self.policy.max_consecutive_dead_letters
        for item in sorted(items, key=lambda item: (item.position.partition_key, item.position.offset)):
            if id(item) in dead_items:
                self._consecutive_dead_letters += 1
                if limit is not None and self._consecutive_dead_letters > limit:
                    raise DeadLetterLimitExceeded(
                        f"more than {limit} records in a row could not be processed (last: {item.position}); "
                        "stopping instead of emptying the topic into the dead-letter sink"
                    )
            else:
                self._consecutive_dead_letters = 0
        if not self._dead:
            return
        letters = [(dead.item, dead.error_type, dead.reason) for dead in self._dead]
        failure = self.call(lambda: self.sink.dead_letter(letters), what="dead-letter sink")
        if failure is not None:
            raise failure
        self._dead = []
