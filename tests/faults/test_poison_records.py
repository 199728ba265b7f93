"""Scenario 4: poison records written straight onto `send.*` and `logs.*` — bad JSON, an unknown
schema, huge values. Each ends in the channel's DLQ or the errors index, and the good records
published around them still go through: nothing is stuck behind a record that can never work."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import orjson
import pytest
from confluent_kafka import KafkaError, Message
from elasticsearch import Elasticsearch

from delivery.models import DeliveryStatus
from logging_service.connection import client_options
from logging_service.documents import errors_index
from messaging.channels import Channel
from messaging.clients import build_producer
from messaging.envelope import MessageEnvelope
from messaging.headers import build_headers
from messaging.log_events import LogEvent
from messaging.topics import dlq_topic, router_log_topic, send_topic
from messaging.tracing import TraceContext
from tests.delivery.support import CHANNEL_DBS, make_envelope, publish_envelopes, topic_records
from tests.faults.system import fault_system
from tests.faults.traffic import Accepted
from tests.faults.verdict import Verdict, judge, publish_verdict, wait_logs_indexed, wait_settled
from tests.processes import wait_for

pytestmark = [pytest.mark.faults, pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)]

HUGE = 400_000  # bytes: well past any field limit, still under Kafka's 1 MB record limit
GOOD_PER_CHANNEL = 10


@dataclass(frozen=True)
class Placed:
    topic: str
    partition: int
    offset: int
    key: bytes


def produce_raw(topic: str, key: bytes, value: bytes) -> Placed:
    """Produce one record as is and learn where it landed (the errors index keys on the position)."""
    producer = build_producer()
    landed: list[Message] = []

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        assert error is None, error
        landed.append(message)

    producer.produce(topic, key=key, value=value, headers=build_headers(TraceContext.new()), on_delivery=on_delivery)
    assert producer.flush(30) == 0
    (message,) = landed
    return Placed(topic, message.partition(), message.offset(), key)


def send_poisons(channel: Channel) -> dict[bytes, bytes]:
    """key → value of each poison record on send.<channel>."""
    good = make_envelope(channel).to_dict()
    poisons = {
        b"bad-json": b'{"schema": "message/v1", "id": ',
        b"not-utf8": b"\xff\xfe" * 1000,
        b"empty": b"",
        b"unknown-schema": orjson.dumps({**good, "schema": "message/v999"}),
        b"not-an-object": orjson.dumps([good]),
        b"huge-body": orjson.dumps({**good, "body": "x" * HUGE, "to": "y" * HUGE}),
        # Past 64 bits: orjson cannot even write it, so it is spliced in as text.
        b"huge-attempt": orjson.dumps(good).replace(b'"attempt":1', b'"attempt":' + b"9" * 40),
    }
    return {f"poison-{name.decode()}-{uuid.uuid4().hex[:8]}".encode(): value for name, value in poisons.items()}


def log_poisons() -> list[bytes]:
    event = LogEvent(action="message.accepted", service="faults", trace_id=TraceContext.new().trace_id, message="ok")
    document = event.to_ecs()
    return [
        b"{not json",
        orjson.dumps({"hello": "no event here"}),  # unknown schema: no event.action / trace.id
        orjson.dumps({**document, "event": {**document["event"], "id": "not-a-uuid"}}),
        orjson.dumps({**document, "labels": {"attempt": "many"}}),  # mapping conflict: ES answers 400
    ]


def test_poison_records_are_dead_lettered_and_good_records_around_them_go_through():
    es = Elasticsearch(**client_options())
    with fault_system("poison") as system:
        system.start_indexer()
        system.start_workers()
        for channel in Channel:
            system.wait_assigned(system.workers[channel][-1])

        good: list[MessageEnvelope] = []
        poisons: dict[Channel, dict[bytes, bytes]] = {}
        for channel in Channel:
            before = [make_envelope(channel) for _ in range(GOOD_PER_CHANNEL // 2)]
            after = [make_envelope(channel) for _ in range(GOOD_PER_CHANNEL // 2)]
            publish_envelopes(before)
            poisons[channel] = send_poisons(channel)
            for key, value in poisons[channel].items():
                produce_raw(send_topic(channel), key, value)
            publish_envelopes(after)
            good += before + after

        log_positions = [produce_raw(router_log_topic(), b"poison-log", value) for value in log_poisons()]
        huge_event = LogEvent(
            action="message.accepted", service="faults", trace_id=TraceContext.new().trace_id, message="m" * HUGE
        )
        produce_raw(router_log_topic(), b"huge-log", huge_event.to_json())
        published = time.time()

        accepted = [Accepted(str(e.id), e.trace_id, e.channel, time.time()) for e in good]
        final, settled_at = wait_settled(accepted, timeout=60)
        verdict: Verdict = judge("poison-records", accepted, final)
        verdict.recover_seconds = None if settled_at is None else max(0.0, settled_at - published)

        dead = {}
        for channel in Channel:
            wanted = set(poisons[channel])

            def all_dead_lettered(channel: Channel = channel, wanted: set[bytes] = wanted) -> bool:
                dead[channel] = {r.key() for r in topic_records(dlq_topic(channel)) if r.key() in wanted}
                return dead[channel] == wanted

            wait_for(all_dead_lettered, timeout=60, interval=1, what=f"{channel} poisons on the DLQ")
        poison_count = sum(len(p) for p in poisons.values())

        def in_errors_index() -> bool:
            es.indices.refresh(index=errors_index(), ignore_unavailable=True)
            ids = [f"{p.topic}:{p.partition}:{p.offset}" for p in log_positions]
            found = es.mget(index=errors_index(), ids=ids)["docs"]
            return all(doc.get("found") for doc in found)

        wait_for(in_errors_index, timeout=60, interval=1, what="poison log records in the errors index")
        logs = wait_logs_indexed(es, {e.trace_id for e in good} | {huge_event.trace_id}, timeout=60)
        verdict.lost += logs.missing
        verdict.messages += poison_count + len(log_positions) + 1
        verdict.notes.append(
            f"{len(good)} good, {poison_count} send poisons dead-lettered, "
            f"{len(log_positions)} log poisons in the errors index"
        )
    publish_verdict(verdict)

    assert all(status == DeliveryStatus.SENT for status in final.values()), final
    assert verdict.lost == 0, verdict.line()
    assert verdict.duplicated == 0, verdict.line()
