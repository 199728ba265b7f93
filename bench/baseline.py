"""The ceiling our pipeline is measured against: confluent-kafka alone, on the same machine.

Produce the same envelopes the router produces, consume them back, and insert one SQLite row per
message in batched transactions — the least work any Kafka → SQLite delivery pipeline must do.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import KafkaError

from messaging.channels import Channel
from messaging.clients import build_admin, build_consumer, build_producer
from messaging.envelope import MessageEnvelope
from messaging.headers import build_headers
from messaging.publisher import produce_when_room
from messaging.topic_admin import ensure_topics
from messaging.topics import topic
from messaging.tracing import TraceContext

INSERT_BATCH = 1000


@dataclass(frozen=True)
class BaselineResult:
    messages: int
    produce_per_second: float
    consume_insert_per_second: float
    end_to_end_per_second: float


def sample_envelope(channel: Channel) -> MessageEnvelope:
    return MessageEnvelope(
        id=uuid.uuid4(),
        trace_id=TraceContext.new().trace_id,
        channel=channel,
        to="ada@example.com" if channel is Channel.EMAIL else "+14155550100",
        subject="Benchmark" if channel is Channel.EMAIL else None,
        body="Hello from the benchmark " + "x" * 120,
        created_at=datetime.now(UTC),
    )


def run_baseline(messages: int, partitions: int = 3) -> BaselineResult:
    name = topic(f"bench.baseline.{uuid.uuid4().hex[:8]}")
    admin = build_admin()
    ensure_topics(admin, [name], partitions=partitions)
    try:
        return _measure(name, messages)
    finally:
        admin.delete_topics([name], operation_timeout=30)


def _measure(name: str, messages: int) -> BaselineResult:
    producer = build_producer()
    channels = list(Channel)
    started = time.perf_counter()
    for n in range(messages):
        envelope = sample_envelope(channels[n % 3])
        headers = build_headers(TraceContext.continuing(envelope.trace_id))
        produce_when_room(producer, name, key=envelope.key, value=envelope.to_json(), headers=headers)
        producer.poll(0)
    if producer.flush(60) != 0:
        raise RuntimeError("baseline: Kafka did not acknowledge every record")
    produced = time.perf_counter()

    consumer = build_consumer(f"bench-baseline-{uuid.uuid4().hex}")
    consumer.subscribe([name])
    with tempfile.TemporaryDirectory() as folder:
        database = sqlite3.connect(Path(folder) / "baseline.sqlite3", isolation_level=None)
        database.execute("PRAGMA journal_mode=WAL")
        database.execute("PRAGMA synchronous=NORMAL")
        database.execute(
            "CREATE TABLE delivery (message_id TEXT PRIMARY KEY, recipient TEXT, payload BLOB, status TEXT)"
        )
        seen = 0
        while seen < messages:
            batch = consumer.consume(num_messages=INSERT_BATCH, timeout=1.0)
            rows = []
            for record in batch:
                error = record.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise RuntimeError(str(error))
                envelope = MessageEnvelope.from_json(record.value())
                rows.append((str(envelope.id), envelope.to, record.value(), "sent"))
            if rows:
                database.execute("BEGIN IMMEDIATE")
                database.executemany("INSERT INTO delivery VALUES (?, ?, ?, ?)", rows)
                database.execute("COMMIT")
                seen += len(rows)
        database.close()
    consumer.close()
    finished = time.perf_counter()
    return BaselineResult(
        messages=messages,
        produce_per_second=messages / (produced - started),
        consume_insert_per_second=messages / (finished - produced),
        end_to_end_per_second=messages / (finished - started),
    )
