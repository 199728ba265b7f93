"""API keys (create_api_key, revocation), staff sessions, per-key throttling and readiness."""

import io
import uuid

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.test import APIClient

from router.models import ReadinessProbe
from tests.router.factories import SmsRequestFactory

pytestmark = pytest.mark.django_db(databases=["default"])


def test_create_api_key_prints_a_working_key_once():
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", "billing", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert "cannot be shown again" in err.getvalue()

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get(f"/api/v1/messages/{uuid.uuid4()}").status_code == 404  # authenticated, no such message


def test_a_revoked_key_gets_401(api, api_key):
    api_key.revoked = True
    api_key.save()
    response = api.get(f"/api/v1/messages/{uuid.uuid4()}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.django_db(databases=["default", "sms"])
def test_staff_session_works_for_the_browsable_api_and_other_users_do_not():
    client = APIClient()
    client.force_login(User.objects.create_user("ops", is_staff=True))
    response = client.post("/api/v1/messages", SmsRequestFactory(), format="json")
    assert response.status_code == 202
    page = client.get("/api/v1/messages", HTTP_ACCEPT="text/html")  # the browsable API lists it
    assert page.status_code == 200
    assert response.json()["id"] in page.content.decode()

    client.force_login(User.objects.create_user("someone"))
    assert client.post("/api/v1/messages", SmsRequestFactory(), format="json").status_code == 403


def test_throttled_per_key_with_retry_after(api, settings):
    settings.ROUTER_THROTTLE_RATE = "2/min"
    url = f"/api/v1/messages/{uuid.uuid4()}"
    assert [api.get(url).status_code for _ in range(2)] == [404, 404]
    response = api.get(url)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60


def test_readyz_checks_that_the_router_database_takes_writes(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {"database": True, "kafka": True}
    assert ReadinessProbe.objects.filter(pk=1).exists()


@pytest.mark.django_db(databases=["default", "email", "sms", "whatsapp"])
def test_the_browsable_api_renders_every_endpoint_for_staff():
    client = APIClient()
    client.force_login(User.objects.create_user("ops", is_staff=True))
    sent = client.post("/api/v1/messages", SmsRequestFactory(), format="json").json()
    template = {"name": "hello", "channel": "sms", "body": "Hi {{ name }}"}
    assert client.post("/api/v1/templates", template, format="json").status_code == 201
    pages = {
        "/api/v1/messages": 200,
        f"/api/v1/messages/{sent['id']}/cancel": 405,  # POST only: the page shows the form
        "/api/v1/messages/batch": 405,
        "/api/v1/templates": 200,
        "/api/v1/templates/hello": 200,
        "/api/v1/suppressions/sms/+14155552671": 404,
    }
    for path, status in pages.items():
        page = client.get(path, HTTP_ACCEPT="text/html")
        assert (page.status_code, page["Content-Type"]) == (status, "text/html; charset=utf-8"), path
        assert b"Django REST framework" in page.content, path
