"""Priority lanes on the real Kafka: a high record produced during a long run of low ones is worked on
next, not after every low record the consumer had already prefetched."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer

from messaging.clients import build_admin
from messaging.consumption.items import Item
from messaging.consumption.lane_gate import LaneGate
from messaging.consumption.steps import Step
from messaging.topic_admin import ensure_topics
from messaging.topics import topic
from tests.messaging.test_consumer_runner import produce, running
from tests.processes import wait_for

LOW_RECORDS = 1500


def lane_of(name: str) -> int | None:
    return {"high": 0, "normal": 1, "low": 2}.get(name.rsplit(".", 1)[-1])


class Slow(Step):
    """About a millisecond a record: the low lane takes seconds to drain."""

    name = "slow"

    def __init__(self) -> None:
        self.keys: list[bytes] = []

    def run(self, items: list[Item]) -> None:
        for item in items:
            time.sleep(0.001)
            self.keys.append(item.record.key() or b"")


def lanes() -> tuple[str, str]:
    base = topic(f"test.lanes.{uuid.uuid4().hex[:8]}")
    high, low = f"{base}.high", f"{base}.low"
    ensure_topics(build_admin(), [high, low], partitions=1)
    return high, low


def run_with(gate: bool) -> int:
    """How many low records were worked on before the high one."""
    high, low = lanes()
    produce(low, [f"low{n}" for n in range(LOW_RECORDS)])
    step = Slow()
    group = f"test-{uuid.uuid4().hex}"

    def with_gate(consumer: Consumer) -> dict:
        return {"lane_gate": LaneGate(consumer, lane_of=lane_of)} if gate else {}

    with running({"topics": [high, low], "steps": [step], "lane_gate_for": with_gate}, group):
        wait_for(lambda: len(step.keys) >= 100, what="the low lane under way")
        produce(high, ["high"])
        wait_for(lambda: b"high" in step.keys, timeout=60, what="the high record worked on")
    return step.keys.index(b"high")


def test_a_high_record_does_not_wait_behind_prefetched_low_ones():
    before_high = run_with(gate=True)
    assert before_high < LOW_RECORDS // 2, f"{before_high} low records went first"


def test_without_the_gate_it_does():
    """The gate's reason to exist, shown: librdkafka's prefetched low records go first."""
    assert run_with(gate=False) > LOW_RECORDS * 0.9
