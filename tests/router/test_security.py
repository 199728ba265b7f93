"""Security of the API surface: hashed and revocable keys, no write without a key, per-key throttling,
and admin, Swagger UI and the schema not writable without a login."""

import io
import re
import time
import uuid
from types import SimpleNamespace

import pytest
import yaml
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient
from rest_framework.views import APIView
from rest_framework_api_key.models import APIKey

from router import authentication
from router.throttles import ApiKeyRateThrottle
from tests.router.factories import ApiKeyFactory, SmsRequestFactory

pytestmark = pytest.mark.django_db(databases=["default"])
UNSAFE_METHODS = ["post", "put", "patch", "delete"]
ROUTE_PARAMETER = re.compile(r"<(?:(\w+):)?\w+>")
SAMPLE_ARGUMENTS = {"uuid": str(uuid.uuid4()), "int": "1", "str": "x", "slug": "x", "path": "x"}


# --- API keys ---------------------------------------------------------------------------------


def test_api_keys_are_stored_hashed_only():
    out = io.StringIO()
    call_command("create_api_key", "billing", stdout=out, stderr=io.StringIO())
    raw_key = out.getvalue().strip()
    prefix, _, secret = raw_key.partition(".")

    stored = [str(value) for row in APIKey.objects.values_list() for value in row]
    assert not any(raw_key in value or secret in value for value in stored)
    key = APIKey.objects.get(prefix=prefix)
    assert key.hashed_key != raw_key and key.is_valid(raw_key)  # the hash verifies the key it came from


def test_a_revoked_key_is_refused_and_cannot_be_revived(api, api_key):
    url = f"/api/v1/messages/{uuid.uuid4()}"
    assert api.get(url).status_code == 404  # authenticated: no such message
    api_key.revoked = True
    api_key.save()
    assert api.get(url).status_code == 401
    assert api.post("/api/v1/messages", SmsRequestFactory(), format="json").status_code == 401

    stored = APIKey.objects.get(pk=api_key.pk)
    stored.revoked = False
    with pytest.raises(ValidationError, match="cannot be undone"):
        stored.save()  # djangorestframework-api-key: revocation is final


def test_a_key_revoked_by_another_process_is_refused_once_the_key_cache_expires(api, api_key, settings, monkeypatch):
    """Verified keys are cached per process; a revocation this process did not see (another API
    worker's admin, a queryset update: no signal here) takes effect within the cache lifetime."""
    settings.ROUTER_API_KEY_CACHE_SECONDS = 5
    url = f"/api/v1/messages/{uuid.uuid4()}"
    assert api.get(url).status_code == 404  # verified and cached
    APIKey.objects.filter(pk=api_key.pk).update(revoked=True)
    now = time.monotonic()
    monkeypatch.setattr(authentication.time, "monotonic", lambda: now + 5.1)
    assert api.get(url).status_code == 401


def test_without_a_key_cache_every_request_checks_the_database(api, api_key, settings):
    settings.ROUTER_API_KEY_CACHE_SECONDS = 0
    url = f"/api/v1/messages/{uuid.uuid4()}"
    assert api.get(url).status_code == 404
    APIKey.objects.filter(pk=api_key.pk).update(revoked=True)
    assert api.get(url).status_code == 401


def test_the_key_cache_is_bounded():
    keys = authentication.VerifiedKeys(max_entries=2)
    for name in ("a", "b", "c"):
        keys.put(name, APIKey(name=name))
    assert keys.get("a", max_age=60) is None  # the oldest went first
    assert [keys.get(name, max_age=60).name for name in ("b", "c")] == ["b", "c"]


# --- Every write needs a key ------------------------------------------------------------------


def _api_views(patterns: list, prefix: str = "/") -> list[tuple[str, type[APIView]]]:
    """(example path, view class) of every DRF view in the URLconf, parameters filled with samples."""
    found: list[tuple[str, type[APIView]]] = []
    for pattern in patterns:
        route = ROUTE_PARAMETER.sub(lambda match: SAMPLE_ARGUMENTS[match[1] or "str"], str(pattern.pattern))
        if isinstance(pattern, URLResolver):
            found += _api_views(pattern.url_patterns, prefix + route)
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "view_class", None)
            if view_class is not None and issubclass(view_class, APIView):
                found.append((prefix + route, view_class))
    return found


def test_the_urlconf_walk_finds_the_write_endpoints():
    paths = {path for path, _ in _api_views(get_resolver().url_patterns)}
    assert {"/api/v1/messages", "/api/v1/messages/batch", "/api/schema/", "/api/docs/"} <= paths


@pytest.mark.parametrize("method", UNSAFE_METHODS)
def test_every_unsafe_method_on_every_api_view_needs_a_key(method, settings):
    """Whatever the URLconf holds now or later: no credentials → 401 on /api/v1, or no write at all
    (405) on the public schema and docs views, never a 2xx. The providers' webhooks take the
    provider's signature instead of a key: unsigned, they refuse (403, or 405/415 before reading).
    Their secret is set here, so they are open (without it they are a 404: test_provider_webhooks)."""
    settings.TWILIO_AUTH_TOKEN = "a-token-no-request-here-signs-with"
    client = APIClient()
    for path, _ in _api_views(get_resolver().url_patterns):
        response = getattr(client, method)(path, SmsRequestFactory(), format="json")
        if path.startswith("/api/v1/providers/"):
            assert response.status_code in (403, 405, 415), (method, path, response.status_code)
        elif path.startswith("/api/v1/"):
            assert response.status_code == 401, (method, path, response.status_code)
            assert response["WWW-Authenticate"] == "Api-Key"
        else:
            assert response.status_code == 405, (method, path, response.status_code)


def test_every_write_operation_in_the_schema_needs_a_key(tmp_path):
    schema_file = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(schema_file))
    schema = yaml.safe_load(schema_file.read_text())
    client = APIClient()
    writes = [
        (path, method)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in UNSAFE_METHODS
    ]
    assert writes, "the schema documents no write operation"
    for path, method in writes:
        assert schema["paths"][path][method]["security"] == [{"ApiKeyAuth": []}, {"cookieAuth": []}]
        # Path parameters filled in: a uuid for ids (message_id, endpoint_id), a word for the rest.
        url = re.sub(r"\{(\w+)\}", lambda m: str(uuid.uuid4()) if m[1].endswith("id") else "sample", path)
        response = getattr(client, method)(url, SmsRequestFactory(), format="json")
        assert response.status_code == 401, (method, path, response.status_code)


def test_a_key_that_is_not_ours_is_refused_for_writes():
    client = APIClient()
    for header in ["Api-Key abcdefgh.notarealkey", "Bearer whatever", "Basic YWRtaW46YWRtaW4="]:
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.post("/api/v1/messages", SmsRequestFactory(), format="json").status_code in {401, 403}


# --- Throttling per key -----------------------------------------------------------------------


def test_throttling_is_per_key(settings):
    settings.ROUTER_THROTTLE_RATE = "3/min"
    busy, other = APIClient(), APIClient()
    busy.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory().raw_key}")
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory().raw_key}")
    url = f"/api/v1/messages/{uuid.uuid4()}"

    assert [busy.get(url).status_code for _ in range(3)] == [404, 404, 404]
    throttled = busy.post("/api/v1/messages", SmsRequestFactory(), format="json")
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert other.get(url).status_code == 404  # another key has its own budget


def test_a_throttled_key_gets_a_request_back_every_interval(settings, monkeypatch):
    settings.ROUTER_THROTTLE_RATE = "2/min"  # a burst of 2, then one every 30 s
    clock = [1000.0]
    monkeypatch.setattr(ApiKeyRateThrottle, "timer", lambda self: clock[0])
    request = SimpleNamespace(auth=APIKey(prefix="gcra", name="t"), user=None)

    def allowed() -> bool:
        return ApiKeyRateThrottle().allow_request(request, None)

    assert [allowed(), allowed()] == [True, True]
    refused = ApiKeyRateThrottle()
    assert not refused.allow_request(request, None)
    assert refused.wait() == pytest.approx(30)
    clock[0] += 29
    assert not allowed()
    clock[0] += 1
    assert [allowed(), allowed()] == [True, False]
    clock[0] += 120  # idle for long: the full burst is back, not more
    assert [allowed(), allowed(), allowed()] == [True, True, False]


# --- Admin, Swagger UI and the schema ---------------------------------------------------------


def _admin_urls() -> list[str]:
    urls = [reverse("admin:index"), reverse("admin:password_change")]
    for model in admin.site._registry:
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls += [reverse(f"{name}_changelist"), reverse(f"{name}_add")]
    return urls


def test_admin_pages_are_not_writable_without_a_login():
    urls = _admin_urls()
    assert len(urls) > 4  # the models registered in admin are covered
    browser = Client(enforce_csrf_checks=True)  # as a real browser: CSRF enforced
    scripted = Client()  # CSRF not enforced: the login requirement alone must stop it
    users = User.objects.count()
    for url in urls:
        assert browser.post(url, {"username": "x", "password": "x"}).status_code == 403, url
        response = scripted.post(url, {"username": "x", "password": "x"})
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url
    assert User.objects.count() == users


def test_swagger_ui_and_schema_are_read_only():
    client = APIClient()
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert docs["Content-Type"].startswith("text/html")
    assert docs["X-Frame-Options"] == "DENY"
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert set(schema["Allow"].replace(" ", "").split(",")) <= {"GET", "HEAD", "OPTIONS"}
    for path in ["/api/docs/", "/api/schema/"]:
        for method in UNSAFE_METHODS:
            assert getattr(client, method)(path, {"x": 1}, format="json").status_code == 405, (method, path)
