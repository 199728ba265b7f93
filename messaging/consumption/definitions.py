"""A consumer declared as data, in the manner of Sentry's consumer table (`KAFKA_CONSUMERS`): what it
reads, in which group, how its steps are built, where its poison goes, how it sorts failures, its
batch limits and its gates. `consumer_build` (assembly.py) makes a runner of any definition, so no
consumer wires consumer, producer, guard, gates and runner by hand.

What depends on settings (topic names carry the prefix, limits are configurable) is a function read
when the consumer starts, not when its app registers it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, TypeVar

from confluent_kafka import Consumer, Producer
from django.db import connections

from messaging.clients import build_producer
from messaging.consumption.failures import DATABASE_OR_BROKER_DOWN, FailureClassifier
from messaging.consumption.guard import GuardPolicy
from messaging.consumption.lane_gate import LaneOf
from messaging.consumption.runner import BatchLimits
from messaging.consumption.settings import guard_policy
from messaging.consumption.steps import DeadLetterSink, Step
from messaging.log_events import LogEmitter
from messaging.shutdown import GracefulShutdown

S = TypeVar("S", bound=Step)


@dataclass(frozen=True)
class ConsumerDefinition:
    name: str  # `manage.py consume <name>`
    description: str
    # The runner's name, its log events' `service.name`, and its consumer group (messaging.groups)
    # unless `group` names another.
    service: str
    topics: Callable[[], list[str]]
    # Its chain, in order; called first, so a factory may keep what it builds on the context.
    steps: Callable[[ConsumerContext], list[Step]]
    # Where the guard sends what it gives up on (a DLQ topic, an errors index).
    dead_letters: Callable[[ConsumerContext], DeadLetterSink]
    # Called once the steps are built (a paced step may say how many records it can take).
    batch: Callable[[ConsumerContext], BatchLimits]
    classifier: FailureClassifier = DATABASE_OR_BROKER_DOWN
    guard: Callable[[], GuardPolicy] = guard_policy
    group: Callable[[], str] | None = None
    # librdkafka settings of its own, over messaging.clients' defaults.
    consumer_settings: Callable[[], dict[str, Any]] = dict
    # The topic of its log events; its offsets are stored only once they are acknowledged. None: it
    # emits none.
    log_topic: Callable[[], str] | None = None
    # The due gate, for a consumer of retry topics: their longest delay (a later `due-at` is clamped).
    longest_retry_delay: Callable[[], float] | None = None
    # The lane gate, for a consumer of priority lanes: the lane of a topic.
    lane_of: LaneOf | None = None
    # Once before the first consume, retried like a step while a dependency is down (the guard's
    # classifier); a shutdown meanwhile ends the run before it consumed anything.
    prepare: Callable[[ConsumerContext], None] | None = None
    # Every few seconds with the lag gauges (a DLQ's size); an error there is logged, never raised.
    report: Callable[[ConsumerContext], None] | None = None


@dataclass(eq=False)
class ConsumerContext:
    """What a definition's factories are given, made by `consumer_build` for one run. Whatever a
    factory enters on `resources` (a pool, an HTTP session) is closed after the runner stopped and
    what it queued left."""

    definition: ConsumerDefinition
    consumer: Consumer
    shutdown: GracefulShutdown
    resources: ExitStack
    # The command's options (`--max-in-flight`): each factory reads those it knows.
    options: Mapping[str, Any]
    log_emitter: LogEmitter | None = None
    steps: list[Step] = field(default_factory=list)
    _producer: Producer | None = None

    @property
    def producer(self) -> Producer:
        """The producer of its records (retries, dead letters, fan-out), made on first use: a
        consumer that produces nothing (the indexer) opens no producer."""
        if self._producer is None:
            self._producer = build_producer()
        return self._producer

    @property
    def emitter(self) -> LogEmitter:
        """Its log events' emitter; only for a definition with a `log_topic`."""
        if self.log_emitter is None:
            raise LookupError(f"consumer {self.definition.name!r} has no log_topic")
        return self.log_emitter

    def step(self, kind: type[S]) -> S:
        """Its step of type `kind` (e.g. for the figures it counts)."""
        return next(step for step in self.steps if isinstance(step, kind))

    def close(self, *, within: float = 20.0) -> None:
        """Whatever the process still queues leaves (log events, records) within `within` seconds;
        its database connections close. Called whether the run ended cleanly or not."""
        each = max(min(within / 2, 10.0), 0.5)  # an unreachable broker must not hold SIGTERM past 30 s
        if self.log_emitter is not None:
            self.log_emitter.flush(each)
        if self._producer is not None:
            self._producer.flush(each)
        connections.close_all()
