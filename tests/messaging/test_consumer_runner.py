"""The one consume loop on the real Kafka: offsets move only past processed records, only once
`before_commit` allows it; a retry partition not yet due holds back nobody else; a due time beyond
any retry delay is clamped; poison is dead-lettered and the partition goes on."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import TopicPartition

from messaging.clients import build_admin, build_consumer, build_producer
from messaging.consumption.due_gate import DueGate
from messaging.consumption.failures import FailureClassifier
from messaging.consumption.guard import GuardPolicy, StepGuard
from messaging.consumption.items import Item
from messaging.consumption.runner import BatchLimits, ConsumerRunner
from messaging.consumption.steps import Step
from messaging.due_time import due_at_headers
from messaging.headers import build_headers
from messaging.publisher import OutgoingRecord, publish_all
from messaging.shutdown import GracefulShutdown
from messaging.topic_admin import ensure_topics
from messaging.topics import topic
from messaging.tracing import TraceContext
from tests.messaging.test_step_guard import ListSink
from tests.processes import wait_for


def new_topic(name: str) -> str:
    full = topic(f"test.runner.{name}.{uuid.uuid4().hex[:8]}")
    ensure_topics(build_admin(), [full], partitions=1)
    return full


def produce(name: str, keys: list[str], due_at: float | None = None) -> None:
    extra = due_at_headers(due_at) if due_at is not None else None
    headers = build_headers(TraceContext.new(), extra)
    assert not any(publish_all(build_producer(), [OutgoingRecord(name, k.encode(), b"v", headers) for k in keys]))


class Seen(Step):
    name = "seen"

    def __init__(self, poison: bytes | None = None) -> None:
        self.keys: list[bytes] = []
        self.at: dict[bytes, float] = {}
        self.poison = poison

    def run(self, items: list[Item]) -> None:
        if self.poison in {item.record.key() for item in items}:
            raise ValueError("this record breaks the step")
        for item in items:
            key = item.record.key() or b""
            self.keys.append(key)
            self.at[key] = time.time()


@contextmanager
def running(runner_args: dict, group: str) -> Iterator[ConsumerRunner]:
    shutdown = GracefulShutdown()
    consumer = build_consumer(group)
    due_gate = runner_args.pop("due_gate", None)
    runner_args.update(runner_args.pop("lane_gate_for", lambda consumer: {})(consumer))
    runner = ConsumerRunner(
        name="test-runner",
        consumer=consumer,
        guard=StepGuard(
            policy=GuardPolicy(first_backoff_seconds=0.01, max_tries=2),
            classifier=FailureClassifier(infrastructure=(ConnectionError,)),
            sink=runner_args.pop("sink", ListSink()),
            shutdown=shutdown,
        ),
        batch=BatchLimits(max_records=50, max_wait_seconds=0.05),
        due_gate=DueGate(consumer, max_delay_seconds=due_gate) if due_gate else None,
        commit_interval_seconds=0.05,
        **runner_args,
    )
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        yield runner
    finally:
        shutdown.request()
        thread.join(timeout=30)
        assert not thread.is_alive()


def committed(group: str, name: str) -> int:
    checker = build_consumer(group)
    try:
        (position,) = checker.committed([TopicPartition(name, 0)], timeout=10)
    finally:
        checker.close()
    return position.offset


def test_poison_is_dead_lettered_and_the_partition_goes_on_to_be_committed():
    name, group, sink = new_topic("poison"), f"test-{uuid.uuid4().hex}", ListSink()
    produce(name, ["k0", "k1", "k2", "k3"])
    step = Seen(poison=b"k2")
    with running({"topics": [name], "steps": [step], "sink": sink}, group):
        wait_for(lambda: len(step.keys) == 3 and sink.letters, what="healthy records seen, poison dead-lettered")
    assert step.keys == [b"k0", b"k1", b"k3"]
    assert [(offset, kind) for offset, kind, _ in sink.letters] == [(2, "ValueError")]
    assert committed(group, name) == 4


def test_offsets_stay_unstored_while_before_commit_says_no():
    """before_commit stands for "the log events of these records are acknowledged": while it says no
    (broker down), nothing may be committed, or a crash would lose those events."""
    name, group = new_topic("gate"), f"test-{uuid.uuid4().hex}"
    produce(name, ["a", "b", "c"])
    acknowledged = threading.Event()
    asked: list[bool] = []

    def before_commit(block: bool) -> bool:
        asked.append(block)
        return acknowledged.is_set()

    step = Seen()
    with running({"topics": [name], "steps": [step], "before_commit": before_commit}, group):
        wait_for(lambda: len(step.keys) == 3 and True in asked, what="processed, commit refused even blocking")
        # librdkafka auto-commits stored offsets every second: give it the chance to (wrongly) commit.
        time.sleep(1.5)
        assert committed(group, name) < 0
        acknowledged.set()
        wait_for(lambda: committed(group, name) == 3, what="committed once allowed")


def test_a_retry_partition_not_yet_due_holds_back_nothing_else_and_runs_when_due():
    later, now_topic = new_topic("later"), new_topic("now")
    group = f"test-{uuid.uuid4().hex}"
    due = time.time() + 3
    produce(later, ["r0", "r1"], due_at=due)
    produce(now_topic, ["n0", "n1"])
    step = Seen()
    with running({"topics": [later, now_topic], "steps": [step], "due_gate": 60.0}, group):
        wait_for(lambda: b"n1" in step.keys, what="the healthy topic served")
        assert b"r0" not in step.keys
        wait_for(lambda: b"r1" in step.keys, timeout=20, what="the delayed records once due")
    assert step.at[b"r0"] >= due
    assert step.keys.index(b"r0") < step.keys.index(b"r1")
    assert committed(group, later) == 2


def test_a_due_time_beyond_the_longest_delay_is_clamped():
    name, group = new_topic("clamp"), f"test-{uuid.uuid4().hex}"
    produce(name, ["far"], due_at=time.time() + 3600)
    step = Seen()
    started = time.time()
    with running({"topics": [name], "steps": [step], "due_gate": 2.0}, group):
        wait_for(lambda: step.keys == [b"far"], timeout=20, what="the far-future record processed")
    assert step.at[b"far"] - started < 15


class TakesTwoAtATime(Step):
    """Processes the first two live records of a batch and defers the rest (a step out of time)."""

    name = "two at a time"

    def __init__(self) -> None:
        self.keys: list[bytes] = []
        self.batches: list[int] = []

    def run(self, items: list[Item]) -> None:
        self.batches.append(len(items))
        for index, item in enumerate(items):
            if index < 2:
                self.keys.append(item.record.key() or b"")
            else:
                item.defer()


def test_deferred_records_are_fetched_again_and_committed_only_once_processed():
    name, group = new_topic("defer"), f"test-{uuid.uuid4().hex}"
    keys = [f"d{n}" for n in range(7)]
    produce(name, keys)
    step = TakesTwoAtATime()
    with running({"topics": [name], "steps": [step]}, group):
        wait_for(lambda: len(step.keys) == 7, what="every record processed, two per batch")
        wait_for(lambda: committed(group, name) == 7, what="all committed")
    assert step.keys == [key.encode() for key in keys]  # each once, in order: none skipped, none repeated
    assert max(step.batches) > 2  # the batches held more than the step took
