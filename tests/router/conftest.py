"""Router test fixtures: an API key, an API client that sends it, and topics of their own for fuzzing."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from messaging.clients import build_admin
from messaging.topic_admin import ensure_topics
from messaging.topics import all_topics
from tests.router.factories import ApiKeyFactory


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()


@pytest.fixture
def api_key(db):
    return ApiKeyFactory()


@pytest.fixture
def api(api_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key.raw_key}")
    return client


@pytest.fixture(scope="session")
def fuzz_topic_prefix(run_topics) -> str:
    """A topic prefix of the fuzz tests' own, inside this run's (so it is deleted with it).

    Fuzzing accepts and rejects thousands of messages: on the run's own topics they would reach the
    workers and indexers other tests start and count on (a DLQ replay, an indexer catching up)."""
    prefix = f"{settings.KAFKA_TOPIC_PREFIX}fuzz."
    with override_settings(KAFKA_TOPIC_PREFIX=prefix):
        ensure_topics(build_admin(), all_topics())
    return prefix


@pytest.fixture
def own_topics(fuzz_topic_prefix, settings):
    settings.KAFKA_TOPIC_PREFIX = fuzz_topic_prefix
