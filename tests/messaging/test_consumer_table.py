"""The consumer table: every consumer `consume` runs is a definition registered by its app, built by
one function on the real Kafka (no consumer wires itself); failures sorted by one classifier; and the
modules that make the consumers import neither in a circle nor upwards (messaging.metrics, not an app
above them)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import IntegrityError, OperationalError

from delivery.dead_letters import ChannelDeadLetters
from delivery.pipeline import DecodeEnvelopes, ProduceOutcomes
from delivery.retry_policy import RetryPolicy
from delivery.waves import DeliverInWaves
from logging_service.indexer import ElasticsearchUnavailable, ErrorDocuments, IndexEvents
from messaging.channels import Channel
from messaging.consumption.assembly import BuiltConsumer, consumer_build
from messaging.consumption.failures import DATABASE_OR_BROKER_DOWN
from messaging.consumption.registry import consumer_definition, consumer_names
from messaging.dead_letters import TopicDeadLetters
from messaging.errors import PublishError
from messaging.groups import consumer_group
from messaging.shutdown import GracefulShutdown
from messaging.topics import lane_topics, retry_topic, webhooks_dlq_topic
from webhooks.pipeline import DecodeRecords, DeliverJobs, FanOutEvents, ProduceWebhookOutcomes

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("config", "messaging", "delivery", "email_service", "sms_service", "whatsapp_service")
PACKAGES += ("logging_service", "webhooks", "router", "operations")
BELOW_OPERATIONS = ("messaging", "delivery", "logging_service", "webhooks")


@contextmanager
def built(name: str, **options: object) -> Iterator[BuiltConsumer]:
    with GracefulShutdown() as shutdown, ExitStack() as resources:
        consumer = consumer_build(consumer_definition(name), shutdown=shutdown, resources=resources, options=options)
        try:
            yield consumer
        finally:
            consumer.context.consumer.close()
            consumer.context.close()


def kinds(consumer: BuiltConsumer) -> list[type]:
    return [type(step) for step in consumer.context.steps]


def test_every_consumer_is_in_the_table():
    assert consumer_names() == ["email", "logs", "sms", "webhooks", "whatsapp"]


def test_a_channel_worker_is_built_from_its_definition():
    with built("sms", max_in_flight=3) as worker:
        runner = worker.runner
        assert kinds(worker) == [DecodeEnvelopes, DeliverInWaves, ProduceOutcomes]
        assert worker.step(DeliverInWaves).pool.size == 3  # the command's option reached the step
        assert isinstance(runner.guard.sink, ChannelDeadLetters)
        assert runner.guard.classifier is DATABASE_OR_BROKER_DOWN
        assert runner._group == consumer_group("sms_service")
        levels = range(1, RetryPolicy.for_channel(Channel.SMS).max_attempts)
        assert runner._topics == [*lane_topics(Channel.SMS), *(retry_topic(Channel.SMS, n) for n in levels)]
        assert runner._due_gate is not None and runner._lane_gate is not None
        assert worker.context.log_emitter is not None  # offsets wait for its log events


def test_the_webhooks_worker_is_built_from_its_definition():
    with built("webhooks") as worker:
        assert kinds(worker) == [DecodeRecords, FanOutEvents, DeliverJobs, ProduceWebhookOutcomes]
        sink = worker.runner.guard.sink
        assert isinstance(sink, TopicDeadLetters) and sink.topic == webhooks_dlq_topic()
        assert worker.runner.guard.classifier is DATABASE_OR_BROKER_DOWN
        assert worker.runner._due_gate is not None and worker.runner._lane_gate is None


def test_the_indexer_is_built_from_its_definition_and_opens_no_producer():
    with built("logs") as indexer:
        assert kinds(indexer) == [IndexEvents]
        assert isinstance(indexer.runner.guard.sink, ErrorDocuments)
        assert indexer.runner.guard.classifier.is_infrastructure(ElasticsearchUnavailable())
        assert indexer.runner._group == settings.INDEXER_GROUP_ID
        assert indexer.runner._due_gate is None and indexer.runner._lane_gate is None
        assert indexer.context._producer is None and indexer.context.log_emitter is None


@pytest.mark.parametrize(
    ("error", "infrastructure"),
    [(OperationalError("database is locked"), True), (PublishError("no ack"), True), (IntegrityError("dup"), False)],
)
def test_database_and_broker_failures_are_waited_out_a_records_own_is_not(error, infrastructure):
    assert DATABASE_OR_BROKER_DOWN.is_infrastructure(error) is infrastructure


# --- the import graph ---------------------------------------------------------------------------
def _module_of(path: Path) -> str:
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return module.removesuffix(".__init__")


def _imports() -> dict[str, set[str]]:
    """Module → the project modules it imports, at the top or inside a function."""
    files = {
        _module_of(path): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[module] = {name for name in names if name in files and name != module}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, if there is any (depth-first search, grey nodes on the path)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == 1:
                return [*path[path.index(imported) :], imported]
            if imported not in state and (found := visit(imported)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_module_of_the_project_imports_itself_in_a_circle():
    cycle = _cycle(_imports())
    assert cycle is None, " → ".join(cycle or [])


def test_the_layers_below_operations_import_nothing_of_it():
    upward = {
        f"{module} → {imported}"
        for module, imported_modules in _imports().items()
        if module.startswith(BELOW_OPERATIONS)
        for imported in imported_modules
        if imported.startswith("operations")
    }
    assert not upward, sorted(upward)
