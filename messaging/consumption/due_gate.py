"""Delayed records (the retry topics, docs/architecture.md): a record carrying a future `due-at` is held back by
pausing its partition and rewinding to it, so the consumer serves every other partition meanwhile
instead of sleeping. The partition resumes when the record is due and the record is fetched again."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from confluent_kafka import Consumer, Message, TopicPartition

from messaging.due_time import record_due_at
from messaging.record_position import PartitionKey, RecordPosition

logger = logging.getLogger(__name__)


class DueGate:
    def __init__(self, consumer: Consumer, *, max_delay_seconds: float) -> None:
        self._consumer = consumer
        # No record of ours is ever due later than this from now: a larger `due-at` (a bad header, a
        # clock far ahead on the producer) is clamped, so it cannot pause a partition for good.
        self._max_delay = max_delay_seconds
        self._paused: dict[PartitionKey, float] = {}
        # The record each paused partition waits for, and when it was first held back: a clamped
        # record is not clamped afresh (and held again) every time it is fetched.
        self._held: dict[PartitionKey, tuple[int, float]] = {}

    def admit(self, record: Message, position: RecordPosition) -> bool:
        """True when `record` may be processed now. False when its partition is (now) paused: the
        record and everything after it in that partition are fetched again on resume."""
        partition = position.partition_key
        if partition in self._paused:
            return False  # fetched before the pause took effect
        due = record_due_at(record)
        if due is None:
            return True
        now = time.time()
        held = self._held.get(partition)
        first_held = held[1] if held is not None and held[0] == position.offset else now
        latest = first_held + self._max_delay
        if due > latest:
            if first_held == now:
                logger.warning("%s due in %.0fs, beyond the longest retry delay: clamped", position, due - now)
            due = latest
        if due <= now:
            self._held.pop(partition, None)
            return True
        self._held[partition] = (position.offset, first_held)
        self._consumer.pause([TopicPartition(*partition)])
        self._consumer.seek(TopicPartition(position.topic, position.partition, position.offset))
        self._paused[partition] = due
        return False

    def resume_due(self) -> None:
        now = time.time()
        due = [partition for partition, at in self._paused.items() if at <= now]
        if due:
            self._consumer.resume([TopicPartition(*partition) for partition in due])
            for partition in due:
                del self._paused[partition]

    def forget(self, partitions: Iterable[PartitionKey]) -> None:
        """Partitions that left this consumer: their next owner pauses them itself."""
        for partition in partitions:
            self._paused.pop(partition, None)
            self._held.pop(partition, None)
