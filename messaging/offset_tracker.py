"""In-order offset storing for a consumer that finishes records out of order (a thread pool).

Kafka has one committed position per partition, so a record may only be covered once every record
before it in its partition is finished: the storable position is the lowest unfinished offset, or
one past the highest finished offset when nothing is outstanding.
"""

from __future__ import annotations

from collections.abc import Iterable

from messaging.record_position import PartitionKey


class OffsetTracker:
    def __init__(self) -> None:
        self._pending: dict[PartitionKey, set[int]] = {}
        self._next: dict[PartitionKey, int] = {}
        self._stored: dict[PartitionKey, int] = {}

    def started(self, partition: PartitionKey, offset: int) -> None:
        self._pending.setdefault(partition, set()).add(offset)

    def finished(self, partition: PartitionKey, offset: int) -> None:
        self._pending[partition].discard(offset)
        self._next[partition] = max(self._next.get(partition, 0), offset + 1)

    def outstanding(self, partitions: Iterable[PartitionKey] | None = None) -> int:
        keys = self._pending.keys() if partitions is None else partitions
        return sum(len(self._pending.get(key, ())) for key in keys)

    def position(self, partition: PartitionKey) -> int | None:
        """The offset to store for `partition` (the next record to read after a restart)."""
        pending = self._pending.get(partition)
        if pending:
            return min(pending)
        return self._next.get(partition)

    def to_store(self, partitions: Iterable[PartitionKey] | None = None) -> dict[PartitionKey, int]:
        """Positions that moved since the last `mark_stored`."""
        keys = set(self._pending) | set(self._next) if partitions is None else set(partitions)
        moved: dict[PartitionKey, int] = {}
        for key in keys:
            position = self.position(key)
            if position is not None and position > self._stored.get(key, -1):
                moved[key] = position
        return moved

    def mark_stored(self, positions: dict[PartitionKey, int]) -> None:
        self._stored.update(positions)

    def forget(self, partitions: Iterable[PartitionKey]) -> None:
        """The partitions left this consumer (rebalance): their state belongs to the next owner."""
        for key in partitions:
            self._pending.pop(key, None)
            self._next.pop(key, None)
            self._stored.pop(key, None)
