"""Where a consumed Kafka record sits. confluent-kafka types a record's topic, partition and offset as
optional (a record being produced has none yet); a consumed record always has all three."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import Message

PartitionKey = tuple[str, int]


@dataclass(frozen=True)
class RecordPosition:
    topic: str
    partition: int
    offset: int

    @classmethod
    def of(cls, record: Message) -> RecordPosition:
        topic, partition, offset = record.topic(), record.partition(), record.offset()
        if topic is None or partition is None or offset is None:
            raise ValueError("a record without a position was never consumed")
        return cls(topic, partition, offset)

    @property
    def partition_key(self) -> PartitionKey:
        return (self.topic, self.partition)
