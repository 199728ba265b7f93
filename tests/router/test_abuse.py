"""Abuse at the door: an address that keeps sending bad API keys is slowed down (429 with Retry-After,
even for a good key, while others are not), and the admin login locks an address out after repeated
failures (django-axes, 429 with Retry-After)."""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.router.factories import ApiKeyFactory, SmsRequestFactory

pytestmark = pytest.mark.django_db(databases=["default"])


def post(key: str, address: str):
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client.post("/api/v1/messages", SmsRequestFactory(), format="json")


def test_an_address_guessing_keys_is_throttled_and_others_are_not(settings):
    settings.ROUTER_AUTH_FAILURE_RATE = "3/min"
    good = ApiKeyFactory().raw_key
    assert [post("abcdefgh.guess", "203.0.113.7").status_code for _ in range(3)] == [401, 401, 401]

    refused = post("abcdefgh.guess", "203.0.113.7")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert "failed API-key attempts" in refused.json()["detail"]
    # Blocked whatever it sends now: a good key too (otherwise the block would tell it which is good).
    assert post(good, "203.0.113.7").status_code == 429
    # Another address is not affected.
    assert post(good, "198.51.100.1").status_code == 202


def test_the_admin_login_locks_an_address_out(settings, client):
    settings.AXES_FAILURE_LIMIT = 3
    User.objects.create_superuser("ops", "ops@example.com", "right-password-123")
    for _ in range(3):
        response = client.post("/admin/login/", {"username": "ops", "password": "wrong"}, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    # Locked out: even the right password does not get in from there.
    locked = client.post(
        "/admin/login/", {"username": "ops", "password": "right-password-123"}, REMOTE_ADDR="203.0.113.9"
    )
    assert locked.status_code == 429
