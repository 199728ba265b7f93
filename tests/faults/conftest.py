"""Fixtures of the fault suite: an API key, private engines a scenario may stop, the summary lines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture
def private_kafka(tmp_path: Path) -> Iterator[Layout]:
    """A Kafka of the scenario's own on free ports, with this run's topics: stopping it disturbs
    nobody. The test process talks to it too (override_settings), e.g. to read the logs topics."""
    base = load_layout()
    layout = manager.start_private(kafka_engine, lambda: base.with_own_kafka(tmp_path / "engines", heap="256m"))
    try:
        with override_settings(KAFKA_BOOTSTRAP_SERVERS=layout.kafka_bootstrap):
            ensure_topics(build_admin(), all_topics())
            yield layout
    finally:
        kafka_engine.stop(layout)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The per-scenario lines, whatever the capture mode (also appended to SUMMARY_FILE)."""
    if SUMMARY_LINES:
        terminalreporter.section("fault-injection summary")
        for line in SUMMARY_LINES:
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"(also appended to {SUMMARY_FILE})")
