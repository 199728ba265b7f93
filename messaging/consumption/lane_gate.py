"""Priority lanes in Kafka (`send.<channel>.high`, `send.<channel>`, `send.<channel>.low`): a record
of a higher lane never waits behind records of lower lanes that the consumer already fetched.

librdkafka fetches every assigned partition into one local queue, in the order the fetches came
back, so a high record produced during a bulk send lands behind thousands of prefetched low ones.
Before each consume the gate looks at what it already knows (positions and the high watermarks of
the last fetches: no broker round trip): while a higher lane has records not yet consumed, every
lower lane's partition is paused and rewound to its position, which drops its prefetched records
(fetched again on resume); once the higher lanes are drained, the lower ones resume.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaException, TopicPartition

from messaging.record_position import PartitionKey

logger = logging.getLogger(__name__)

# The lane a topic belongs to (0 the highest), or None for a topic outside the lanes (retries).
LaneOf = Callable[[str], int | None]


class LaneGate:
    def __init__(self, consumer: Consumer, *, lane_of: LaneOf) -> None:
        self._consumer = consumer
        self._lane_of = lane_of
        self._held: set[PartitionKey] = set()  # paused by this gate (the due gate keeps its own)
        # Where each lane partition starts (its committed offset, else its first): the consumer's own
        # position is unknown until it returned a record of that partition.
        self._start: dict[PartitionKey, int] = {}

    def assigned(self, partitions: list[TopicPartition]) -> None:
        """Called from the rebalance callback (a broker round trip is fine there, not per loop)."""
        lanes = [tp for tp in partitions if self._lane_of(tp.topic) is not None]
        if not lanes:
            return
        try:
            for tp in self._consumer.committed(lanes, timeout=10):
                start = tp.offset
                if start < 0:
                    start, _ = self._consumer.get_watermark_offsets(tp, timeout=10)
                self._start[(tp.topic, tp.partition)] = start
        except KafkaException as error:
            logger.warning("lane gate: no start positions (%s); a lane is held back only once it was read", error)

    def hold_lower_lanes(self) -> None:
        try:
            assigned = [tp for tp in self._consumer.assignment() if self._lane_of(tp.topic) is not None]
            if not assigned:
                return
            waiting = self._highest_lane_waiting(assigned)
            hold = {
                (tp.topic, tp.partition)
                for tp in assigned
                if waiting is not None and (self._lane_of(tp.topic) or 0) > waiting
            }
            self._apply(hold, assigned)
        except KafkaException as error:  # an assignment moving under us: look again next loop
            logger.debug("lane gate: %s", error)

    def _highest_lane_waiting(self, assigned: list[TopicPartition]) -> int | None:
        """The highest lane (smallest number) with a record past the consumer's position."""
        waiting: int | None = None
        for tp in self._consumer.position(assigned):
            position = tp.offset
            if position == OFFSET_INVALID:  # nothing returned from it since assignment
                position = self._start.get((tp.topic, tp.partition), OFFSET_INVALID)
                if position == OFFSET_INVALID:
                    continue
            _, high = self._consumer.get_watermark_offsets(tp, cached=True)
            lane = self._lane_of(tp.topic)
            if lane is not None and high > position and (waiting is None or lane < waiting):
                waiting = lane
        return waiting

    def _apply(self, hold: set[PartitionKey], assigned: list[TopicPartition]) -> None:
        to_pause = hold - self._held
        to_resume = self._held - hold
        if to_pause:
            partitions = [TopicPartition(topic, partition) for topic, partition in sorted(to_pause)]
            self._consumer.pause(partitions)
            for tp in self._consumer.position(partitions):
                if tp.offset != OFFSET_INVALID:
                    self._consumer.seek(tp)  # drops what was prefetched after the position
            logger.debug("lane gate holds %s", sorted(to_pause))
        if to_resume:
            self._consumer.resume([TopicPartition(topic, partition) for topic, partition in sorted(to_resume)])
        self._held = hold & {(tp.topic, tp.partition) for tp in assigned}

    def forget(self, partitions: set[PartitionKey]) -> None:
        """Partitions that left this consumer (a rebalance)."""
        self._held -= partitions
        for key in partitions:
            self._start.pop(key, None)
