"""The guard alone (no Kafka): retries, poison isolated by splitting, rejections, the dead-letter
limit, and work a step finished never redone."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from messaging.consumption.failures import FailureClassifier
from messaging.consumption.guard import GuardPolicy, StepGuard
from messaging.consumption.items import Item
from messaging.consumption.steps import Aborted, DeadLetterLimitExceeded, DeadLetterSink, Step
from messaging.record_position import RecordPosition
from messaging.shutdown import GracefulShutdown


class DatabaseDown(Exception):
    pass


DATABASE_DOWN = FailureClassifier(infrastructure=(DatabaseDown,))


class FakeRecord:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes:
        return self._key


def items(count: int) -> list[Item]:
    return [Item(record=FakeRecord(f"k{n}".encode()), position=RecordPosition("t", 0, n)) for n in range(count)]  # type: ignore[arg-type]


@dataclass
class ListSink(DeadLetterSink):
    letters: list[tuple[int, str, str]] = field(default_factory=list)

    def dead_letter(self, items):
        self.letters += [(item.position.offset, kind, reason) for item, kind, reason in items]


@dataclass
class Recording(Step):
    """Marks each item it saw in `value`; raises as told."""

    name: str = "recording"
    poison: set[int] = field(default_factory=set)  # offsets it always fails on
    down_for: int = 0  # calls that raise DatabaseDown first
    reject: set[int] = field(default_factory=set)
    calls: list[list[int]] = field(default_factory=list)

    def run(self, items: list[Item]) -> None:
        self.calls.append([item.position.offset for item in items])
        if self.down_for:
            self.down_for -= 1
            raise DatabaseDown("locked")
        for item in items:
            if item.position.offset in self.reject:
                item.reject("InvalidMessage", "undecodable")
        if self.poison & {item.position.offset for item in items if not item.done}:
            raise KeyError("a bug that only this record triggers")
        for item in items:
            item.value = (item.value or 0) + 1


def guard(sink: DeadLetterSink, **policy) -> StepGuard:
    return StepGuard(
        policy=GuardPolicy(first_backoff_seconds=0.001, **policy),
        classifier=DATABASE_DOWN,
        sink=sink,
        shutdown=GracefulShutdown(),
    )


def test_an_infrastructure_error_is_retried_until_it_passes_and_nothing_is_dead_lettered():
    sink, step, batch = ListSink(), Recording(down_for=5), items(4)
    guard(sink).run([step], batch)
    assert [item.value for item in batch] == [1, 1, 1, 1]
    assert len(step.calls) == 6 and sink.letters == []


def test_a_poison_record_is_isolated_and_dead_lettered_while_the_others_go_through_every_step():
    sink, first, second = ListSink(), Recording(poison={5}), Recording(name="second")
    batch = items(8)
    guard(sink, max_tries=2).run([first, second], batch)
    assert [(offset, kind) for offset, kind, _ in sink.letters] == [(5, "KeyError")]
    assert "recording failed 2 times" in sink.letters[0][2]
    assert [item.value for item in batch if item.position.offset != 5] == [2] * 7
    assert batch[5].done
    # The second step saw every healthy record exactly once.
    assert sorted(offset for call in second.calls for offset in call) == [0, 1, 2, 3, 4, 6, 7]


def test_rejected_items_are_dead_lettered_without_a_retry_and_skip_later_steps():
    sink, first, second = ListSink(), Recording(reject={1}), Recording(name="second")
    batch = items(3)
    guard(sink).run([first, second], batch)
    assert sink.letters == [(1, "InvalidMessage", "undecodable")]
    assert second.calls == [[0, 2]]
    assert len(first.calls) == 1


def test_too_many_dead_letters_in_a_row_stop_the_consumer_before_any_is_written():
    sink = ListSink()
    with pytest.raises(DeadLetterLimitExceeded):
        guard(sink, max_consecutive_dead_letters=3).run([Recording(reject={0, 1, 2, 3})], items(5))
    assert sink.letters == []


def test_the_dead_letter_count_is_consecutive_and_spans_batches():
    sink, limited = ListSink(), guard(ListSink(), max_consecutive_dead_letters=3)
    limited.sink = sink
    limited.run([Recording(reject={1, 2})], items(3))  # two in a row, ending the batch
    limited.run([Recording(reject={0})], items(1))  # a third: still within the limit
    with pytest.raises(DeadLetterLimitExceeded):
        limited.run([Recording(reject={0})], items(1))
    ok = guard(ListSink(), max_consecutive_dead_letters=3)
    for _ in range(5):  # a healthy record between them resets the count
        ok.run([Recording(reject={0})], items(2))


def test_a_shutdown_while_a_dependency_is_down_aborts_the_batch():
    shutdown = GracefulShutdown()
    shutdown.request()
    stuck = StepGuard(policy=GuardPolicy(), classifier=DATABASE_DOWN, sink=ListSink(), shutdown=shutdown)
    with pytest.raises(Aborted):
        stuck.run([Recording(down_for=1)], items(2))
