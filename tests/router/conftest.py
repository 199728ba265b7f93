"""Router test fixtures: an API key and an API client that sends it."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

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
