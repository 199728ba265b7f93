"""Fixtures of the fault suite: an API key, private engines a scenario may stop, the summary lines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from engines import kafka as kafka_engine
from engines import manager
from engines.layout import Layout, load_layout
from messaging.clients import build_admin
from messaging.topic_admin import ensure_topics
from messaging.topics import all_topics
from tests.faults.verdict import SUMMARY_FILE, SUMMARY_LINES
from tests.router.factories import ApiKeyFactory


@pytest.fixture
def api_key() -> str:
    return ApiKeyFactory().raw_key


@pytest.fixture(scope="package")
def private_kafka_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    """One Kafka of the fault suite's own on free ports, shared by the scenarios that stop it
    (a broker's start costs 15-60 s on a busy machine)."""
    base = load_layout()
    home = tmp_path_factory.mktemp("private-kafka")
    layout = manager.start_private(kafka_engine, lambda: base.with_own_kafka(home / "engines", heap="256m"))
    try:
        yield layout
    finally:
        kafka_engine.stop(layout)


@pytest.fixture
def private_kafka(private_kafka_node: Layout) -> Iterator[Layout]:
    """The suite's private Kafka, running (started again if a scenario before left it stopped), with
    this run's topics: stopping it disturbs nobody. The test process talks to it too
    (override_settings), e.g. to read the logs topics. A scenario that stops it starts it again."""
    if not kafka_engine.is_ours_running(private_kafka_node):
        kafka_engine.start(private_kafka_node)
    with override_settings(KAFKA_BOOTSTRAP_SERVERS=private_kafka_node.kafka_bootstrap):
        ensure_topics(build_admin(), all_topics())
        yield private_kafka_node


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The per-scenario lines, whatever the capture mode (also appended to SUMMARY_FILE)."""
    if SUMMARY_LINES:
        terminalreporter.section("fault-injection summary")
        for line in SUMMARY_LINES:
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"(also appended to {SUMMARY_FILE})")
