"""The rejoin watchdog: its decision on a clock the test turns, then the runner on the real Kafka
(a consumer kept out of its group is rebuilt and consumes; an idle member by design is left alone).
The broker faults themselves are in tests/faults/test_consumer_rejoin.py."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer
from prometheus_client import REGISTRY

from messaging.consumption.watchdog import Health, RejoinWatchdog, Verdict
from tests.messaging.test_consumer_runner import Seen, committed, new_topic, produce, running
from tests.processes import wait_for

IN_GROUP = Health(assigned=True, member=True)
NO_PARTITIONS = Health(assigned=False, member=True)
NOT_MEMBER = Health(assigned=True, member=False)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def watchdog(clock: Clock) -> RejoinWatchdog:
    return RejoinWatchdog(timeout=60, retry_seconds=10, clock=clock)


@pytest.mark.parametrize("health", [NO_PARTITIONS, NOT_MEMBER, Health(assigned=False, member=None)])
def test_out_of_the_group_past_the_timeout_is_due_and_not_before(clock, health):
    dog = watchdog(clock)
    assert dog.observe(health) is None
    clock.now += 60
    assert dog.observe(health) is None
    clock.now += 1
    assert dog.observe(health) == 61


def test_in_the_group_is_never_due_and_restarts_the_timer(clock):
    dog = watchdog(clock)
    dog.observe(NO_PARTITIONS)
    clock.now += 50
    assert dog.observe(IN_GROUP) is None
    clock.now += 50
    assert dog.observe(NO_PARTITIONS) is None
    clock.now += 59
    assert dog.observe(NO_PARTITIONS) is None
    clock.now += 2
    assert dog.observe(NO_PARTITIONS) == 61
    assert dog.observe(IN_GROUP) is None


def test_before_librdkafka_reported_the_assignment_alone_decides(clock):
    dog = watchdog(clock)
    dog.observe(Health(assigned=True, member=None))
    clock.now += 3600
    assert dog.observe(Health(assigned=True, member=None)) is None


def test_unsure_asks_again_after_the_retry_interval(clock):
    dog = watchdog(clock)
    dog.observe(NOT_MEMBER)
    clock.now += 61
    assert dog.observe(NOT_MEMBER) == 61
    dog.unsure()
    clock.now += 9
    assert dog.observe(NOT_MEMBER) is None
    clock.now += 1
    assert dog.observe(NOT_MEMBER) == 71


@pytest.mark.parametrize("reported", ["rebuilt", "not_stuck"])
def test_a_rebuilt_or_cleared_consumer_gets_the_whole_timeout_again(clock, reported):
    dog = watchdog(clock)
    dog.observe(NOT_MEMBER)
    clock.now += 61
    assert dog.observe(NOT_MEMBER) == 61
    getattr(dog, reported)()
    clock.now += 60
    assert dog.observe(NOT_MEMBER) is None
    clock.now += 1
    assert dog.observe(NOT_MEMBER) == 61


# --- the runner on the real Kafka ------------------------------------------------------------------
def rebuilds(group: str) -> float:
    return REGISTRY.get_sample_value("comms_consumer_rebuilds_total", {"group": group}) or 0.0


def test_a_consumer_kept_out_of_its_group_is_rebuilt_and_then_consumes(settings):
    """A member with another assignment protocol ("range") holds the group, so the runner's
    cooperative-sticky client is refused at every join: out of its group with partitions to take.
    The watchdog rebuilds it; once the blocker left, the (rebuilt) client joins and consumes."""
    settings.CONSUMER_REJOIN_TIMEOUT = 2.0
    name, group = new_topic("lockout"), f"test-{uuid.uuid4().hex}"
    blocker = Consumer(
        {
            "bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS,
            "group.id": group,
            "partition.assignment.strategy": "range",
            "enable.auto.commit": False,
        }
    )
    blocker.subscribe([name])
    wait_for(lambda: blocker.poll(0.2) is None and blocker.assignment(), what="the blocker holds the partition")
    produce(name, ["a", "b", "c"])
    step = Seen()
    with running({"topics": [name], "steps": [step], "group": group}, group):
        try:
            wait_for(lambda: rebuilds(group) >= 1, timeout=30, what="the locked-out consumer rebuilt")
            assert step.keys == []
        finally:
            blocker.close()
        wait_for(lambda: len(step.keys) == 3, timeout=60, what="the rebuilt consumer consuming")
    assert sorted(step.keys) == [b"a", b"b", b"c"]
    assert committed(group, name) == 3


def test_an_idle_member_by_design_is_not_rebuilt(settings, caplog):
    """Two members, one partition: the one with nothing assigned is a member the coordinator knows.
    (A timeout above the group's first join, which may take a few seconds on a new topic.)"""
    settings.CONSUMER_REJOIN_TIMEOUT = 6.0
    name, group = new_topic("idle"), f"test-{uuid.uuid4().hex}"
    first, second = Seen(), Seen()

    def logged(predicate: Callable[[str], bool]) -> bool:
        return any(predicate(record.getMessage()) for record in caplog.records)

    def judged_idle(line: str) -> bool:
        return line.startswith(f"group {group}: ") and line.endswith(Verdict.IDLE_MEMBER.value)

    with (
        caplog.at_level(logging.INFO),
        running({"topics": [name], "steps": [first], "group": group}, group),
        running({"topics": [name], "steps": [second], "group": group}, group),
    ):
        produce(name, ["x"])
        wait_for(lambda: first.keys or second.keys, timeout=60, what="the record consumed")
        # The group settled: one member was handed the partition, the other an empty assignment.
        wait_for(lambda: logged(lambda line: line.endswith(" assigned []")), timeout=60, what="the idle member")
        before = rebuilds(group)
        caplog.clear()
        # The watchdog looks every 5 s: once a look past the timeout has asked the cluster and found an
        # idle member, the decision not to rebuild is made (polled, not slept: it comes within the
        # timeout plus one look, or a retry while the cluster does not answer).
        wait_for(lambda: logged(judged_idle), timeout=60, what="the watchdog judging the idle member")
        assert rebuilds(group) == before
