"""The contract of a step, and the signals a step or a sink may raise (errors as types)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from messaging.consumption.items import Item


class Step(ABC):
    """One stage of a consumer's chain (decode, claim, send, produce outcomes, index, …).

    Runs on the runner's thread, over one batch at a time, in the order the chain lists the steps.
    """

    name: str = "step"

    @abstractmethod
    def run(self, items: list[Item]) -> None:
        """Do this stage's work for every item given (none is `done`), in place on the items.

        May block (database, Kafka acknowledgements, provider calls). May mark items `done` (nothing
        left to do) or `reject` them (dead-lettered, never retried).
        After it raised, it may be called again with the same items or a subset of them: whatever it
        completed for an item before raising must be kept on the item and not repeated (a provider
        call above all). Raises an error the consumer's classifier calls infrastructure (failures.py)
        when a dependency is down (retried with backoff for as long as it takes); anything else is
        treated as possible poison (retried, then isolated and dead-lettered by the guard).
        """


class DeadLetterSink(ABC):
    """Where items the framework gives up on go: a DLQ topic, an errors index."""

    @abstractmethod
    def dead_letter(self, items: Sequence[tuple[Item, str, str]]) -> None:
        """Store each (item, error type, reason) durably; blocks until it is. Raises an
        infrastructure error when the sink is down (the guard retries)."""


class Aborted(Exception):
    """Shutdown was requested while a step waited for a dependency: the batch is left uncommitted,
    so its records are redelivered after the restart."""


class DeadLetterLimitExceeded(RuntimeError):
    """Too many records in a row went to the dead-letter sink: stop the consumer loudly instead of
    emptying the topic into the DLQ (a bad deploy, a broken schema)."""
