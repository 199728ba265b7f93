"""Every path under /api/ answers JSON in DRF's error format — unknown paths, malformed ids, wrong
methods, and an unexpected server error — in DEBUG too (Django's pages there are HTML)."""

import pytest

from router.lean import front as lean_front
from router.views import messages as message_views
from tests.router.wsgi import wsgi_post

pytestmark = pytest.mark.django_db(databases=["default"])


@pytest.fixture(params=[False, True], ids=["production", "debug"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/messages/not-a-uuid",
        "/api/v1/messages/%0A",  # an encoded line break
        "/api/v1/messages/abc%0Adef",
        "/api/v1/nothing/here",
        "/api/v2/messages",
        "/api/",
    ],
)
def test_unknown_paths_under_api_answer_a_json_404(api, debug, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/v1/messages"),
        # Not DRF's views: anymail's receipt webhooks (open: a secret is set) answer Django's empty 405,
        # the docs pages HTML.
        ("get", "/api/v1/providers/anymail/postmark/tracking/"),
        ("post", "/api/docs/"),
        ("post", "/api/redoc/"),
        ("put", "/api/schema/"),
    ],
)
def test_a_wrong_method_answers_a_json_405(api, debug, settings, method, path):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "postmark:secret"}
    response = getattr(api, method)(path)
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": f'Method "{method.upper()}" not allowed.'}
    assert method.upper() not in response["Allow"]


def test_the_browsable_api_keeps_its_html_errors_for_a_browser(client, debug):
    response = client.get("/api/v1/messages", HTTP_ACCEPT="text/html")
    assert response.status_code in (401, 403)
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("lean", [True, False], ids=["lean front", "view"])
def test_an_unexpected_error_answers_a_json_500(api_key, debug, monkeypatch, settings, lean):
    """Through config.wsgi.application: the lean front answers it, or (off) Django's view."""

    def broken(**kwargs):
        raise RuntimeError("a bug")

    settings.ROUTER_FAST_ACCEPT = lean
    monkeypatch.setattr(message_views, "message_accept", broken)
    monkeypatch.setattr(lean_front, "message_accept", broken)
    response = wsgi_post(
        "/api/v1/messages",
        {"channel": "sms", "to": "+14155552671", "body": "hi"},
        HTTP_AUTHORIZATION=f"Api-Key {api_key.raw_key}",
    )
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Internal server error."}
    assert "Allow" not in response and response["X-Frame-Options"] == "DENY"


def test_pages_outside_the_api_keep_django_s_own_404(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "application/json" not in response["Content-Type"]
