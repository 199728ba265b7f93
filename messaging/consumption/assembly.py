"""From a consumer's definition to a running consumer: `run_consumer(name)` is what
`manage.py consume <name>` (and `index_logs`) run; `consumer_build` is its first half, for a caller
that runs the runner itself (the indexer's benchmark).

    definition → consumer (its group, its settings) → log emitter → steps → dead-letter sink and
    guard (its classifier) → batch limits → gates → runner → prepare → run → flush, close

SIGTERM/SIGINT: the runner finishes the batch in hand and commits its offsets; then what the process
queued leaves (log events, records), the resources the steps entered close (provider pool, HTTP
session) and the process exits 0.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from messaging.clients import build_consumer
from messaging.consumption.definitions import ConsumerContext, ConsumerDefinition, S
from messaging.consumption.due_gate import DueGate
from messaging.consumption.guard import StepGuard
from messaging.consumption.lane_gate import LaneGate
from messaging.consumption.registry import consumer_definition
from messaging.consumption.runner import SHUTDOWN_SECONDS, ConsumerRunner
from messaging.consumption.steps import Aborted
from messaging.groups import consumer_group
from messaging.log_events import LogEmitter, log_flusher
from messaging.metrics import serve_metrics
from messaging.shutdown import GracefulShutdown

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class BuiltConsumer:
    context: ConsumerContext
    runner: ConsumerRunner

    def step(self, kind: type[S]) -> S:
        return self.context.step(kind)

    def prepare(self) -> bool:
        """The definition's `prepare`, through the guard: False when a shutdown came first. Raises
        what it raised when that is not an infrastructure failure."""
        prepare = self.context.definition.prepare
        if prepare is None:
            return True
        try:
            failure = self.runner.guard.call(lambda: prepare(self.context), what=f"{self.runner.name}: prepare")
        except Aborted:
            logger.info("%s stopped before it could start consuming", self.runner.name)
            return False
        if failure is not None:
            raise failure
        return True


def consumer_build(
    definition: ConsumerDefinition,
    *,
    shutdown: GracefulShutdown,
    resources: ExitStack,
    group_id: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> BuiltConsumer:
    """Everything `definition` describes, ready to run; `group_id` overrides its group (a benchmark's
    fresh group). Raises what a factory raised (a provider misconfigured), the consumer closed."""
    group = group_id or (definition.group() if definition.group is not None else consumer_group(definition.service))
    consumer = build_consumer(group, **definition.consumer_settings())
    try:
        log_emitter = None
        if definition.log_topic is not None:
            log_emitter = LogEmitter(service=definition.service, topic=definition.log_topic())
        context = ConsumerContext(
            definition=definition,
            consumer=consumer,
            shutdown=shutdown,
            resources=resources,
            options=options or {},
            log_emitter=log_emitter,
        )
        context.steps = definition.steps(context)
        guard = StepGuard(
            policy=definition.guard(),
            classifier=definition.classifier,
            sink=definition.dead_letters(context),
            shutdown=shutdown,
        )
        retry_delay = definition.longest_retry_delay
        report = definition.report
        runner = ConsumerRunner(
            name=definition.service,
            group=group,
            consumer=consumer,
            topics=definition.topics(),
            steps=context.steps,
            guard=guard,
            batch=definition.batch(context),
            due_gate=DueGate(consumer, max_delay_seconds=retry_delay() + 1.0) if retry_delay is not None else None,
            lane_gate=LaneGate(consumer, lane_of=definition.lane_of) if definition.lane_of is not None else None,
            before_commit=log_flusher(log_emitter) if log_emitter is not None else lambda block: True,
            every_few_seconds=(lambda: report(context)) if report is not None else lambda: None,
        )
    except BaseException:
        consumer.close()
        raise
    return BuiltConsumer(context=context, runner=runner)


def run_consumer(name: str, *, group_id: str | None = None, **options: Any) -> BuiltConsumer:
    """Run the registered consumer `name` until SIGTERM/SIGINT (module docstring); returns what it
    built, e.g. for the figures a step counted."""
    definition = consumer_definition(name)
    serve_metrics()
    with GracefulShutdown() as shutdown, ExitStack() as resources:
        built = consumer_build(definition, shutdown=shutdown, resources=resources, group_id=group_id, options=options)
        try:
            if built.prepare():
                built.runner.run()  # closes the consumer
            else:
                built.context.consumer.close()
        finally:
            ended = built.runner.stopped_at or time.monotonic()
            built.context.close(within=SHUTDOWN_SECONDS - (time.monotonic() - ended))
    logger.info("%s stopped cleanly", definition.service)
    return built
