"""Session-wide fixtures: the real engines, and this run's own Kafka topics and ES indices."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from django.conf import settings

from engines import elasticsearch as es_engine
from engines import manager
from engines.layout import Layout, load_layout
from logging_service.connection import elasticsearch
from messaging.clients import build_admin
from messaging.topic_admin import ensure_topics
from messaging.topics import all_topics
from tests.debian import debian_command
from tests.private_engines import started_private_elasticsearch
from tests.processes import wait_for


def pytest_configure(config: pytest.Config) -> None:
    """The run's folder of test databases (config/settings/test.py), before pytest-django makes them."""
    settings.TEST_DATABASE_DIR.mkdir(parents=True, exist_ok=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's folder of test databases (config/settings/test.py), once pytest-django has dropped them."""
    folder = getattr(settings, "TEST_DATABASE_DIR", None)
    ours = folder is not None and folder.parent == settings.VAR_DIR / "test-db"  # not a folder named by hand
    if ours and not config.getoption("reuse_db", default=False):
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def real_engines() -> Iterator[None]:
    """Reuse running Kafka/Elasticsearch, or start them and stop them when the session ends."""
    layout = load_layout()
    started = manager.ensure_running(layout)
    yield
    # Drop the API's queued log events now: flushed at exit, with the engines gone, they only
    # produce connection errors on an already closed output stream.
    from router.kafka import clients_reset

    clients_reset()
    if started:
        manager.stop(layout, started)


@pytest.fixture(scope="session", autouse=True)
def run_topics(real_engines: None) -> Iterator[list[str]]:
    """Every topic of docs/architecture.md under this run's prefix; deleted with the run's indices at the end."""
    admin = build_admin()
    names = all_topics()
    ensure_topics(admin, names)
    yield names
    prefix = settings.KAFKA_TOPIC_PREFIX
    ours = [name for name in admin.list_topics(timeout=10).topics if name.startswith(prefix)]
    if ours:
        for future in admin.delete_topics(ours, operation_timeout=30).values():
            future.result()
    client = elasticsearch()
    client.indices.delete(index=f"{settings.LOG_INDEX_PREFIX}*", ignore_unavailable=True)
    client.options(ignore_status=404).indices.delete_index_template(name=settings.LOG_INDEX_PREFIX)


@pytest.fixture(scope="session")
def private_elasticsearch_node() -> Iterator[Layout]:
    """One Elasticsearch node of the session's own on free ports, for the tests that stop it:
    starting a node costs 30-120 s on a busy machine, so they share it instead of starting one each."""
    with started_private_elasticsearch() as layout:
        yield layout


@pytest.fixture
def private_elasticsearch(private_elasticsearch_node: Layout) -> Layout:
    """The session's private node, running (started again if a test before left it stopped):
    stopping it disturbs nobody else. A test that stops it starts it again before it ends."""
    if not es_engine.is_ours_running(private_elasticsearch_node):
        es_engine.start(private_elasticsearch_node)
    else:  # a restart whose launcher gave up waiting (120 s) leaves the node starting: wait for it
        wait_for(lambda: es_engine.is_ready(private_elasticsearch_node), timeout=180, what="the private Elasticsearch")
    return private_elasticsearch_node


@pytest.fixture
def chromium_binary() -> str:
    """Debian's chromium (tests/debian.py: skips, or fails where bin/test installs it)."""
    return debian_command("chromium", "chromium-browser", package="chromium")


@pytest.fixture
def prometheus_binary() -> str:
    """Debian's prometheus (tests/debian.py: skips, or fails where bin/test installs it)."""
    return debian_command("prometheus", package="prometheus")
