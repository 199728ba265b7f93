"""One consumed record on its way through a consumer's chain of steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka import Message

from messaging.record_position import RecordPosition


@dataclass(frozen=True)
class Rejection:
    """Why an item can never be processed; it goes to the dead-letter sink as it is."""

    error_type: str
    reason: str


@dataclass(slots=True, eq=False)
class Item:
    """A record plus what the steps made of it (`value`, set and read by the consumer's own steps).

    `done` items are finished early (skipped as duplicates, dead-lettered): later steps pass over them,
    and their offsets are committed with the rest of the batch.
    """

    record: Message
    position: RecordPosition
    value: Any = None
    done: bool = False
    rejection: Rejection | None = None
    # Not processed: the runner rewinds its partition to it, so it is fetched (and processed) again.
    deferred: bool = False

    @classmethod
    def of(cls, record: Message) -> Item:
        return cls(record=record, position=RecordPosition.of(record))

    def reject(self, error_type: str, reason: str) -> None:
        """Never processable (undecodable, wrong schema): dead-letter it; it is not retried."""
        self.rejection = Rejection(error_type=error_type, reason=reason)
        self.done = True

    def finish(self) -> None:
        self.done = True

    def defer(self) -> None:
        """Leave this record for a later batch (a step ran out of time for it): nothing of it was
        done, and it, and every later record of its partition in this batch, is fetched again."""
        self.deferred = True
        self.done = True


def live(items: list[Item]) -> list[Item]:
    """The items later steps still work on."""
    return [item for item in items if not item.done]
