"""`/metrics` on the API's port: open in development; with METRICS_TOKEN only to `Authorization: Bearer
<token>` (what Prometheus sends with `authorization` in its scrape_config); in production (which
requires a token) a 404 when none is configured."""

from __future__ import annotations

import pytest

TOKEN = "m3trics-" + "x" * 32


def _get(client, authorization: str | None = None):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    return client.get("/metrics", **extra)


def test_development_serves_metrics_to_anyone(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_TOKEN_REQUIRED = "", False
    response = _get(client)
    assert response.status_code == 200
    assert b"comms_api_requests_total" in response.content or b"python_info" in response.content


@pytest.mark.parametrize("required", [True, False], ids=["production", "development"])
def test_with_a_token_only_the_bearer_of_it_gets_metrics(client, settings, required):
    settings.METRICS_TOKEN, settings.METRICS_TOKEN_REQUIRED = TOKEN, required

    missing = _get(client)
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"] == "Bearer"
    assert missing.json() == {"detail": "Authentication credentials were not provided."}
    for wrong in (f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", TOKEN):
        refused = _get(client, wrong)
        assert refused.status_code == 403, wrong
        assert refused.json() == {"detail": "Invalid metrics token."}
        assert b"comms_" not in refused.content

    allowed = _get(client, f"Bearer {TOKEN}")
    assert allowed.status_code == 200
    assert allowed["Content-Type"].startswith("text/plain")


def test_production_without_a_token_serves_no_metrics(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_TOKEN_REQUIRED = "", True
    for authorization in (None, "Bearer ", "Bearer anything"):
        response = _get(client, authorization)
        assert response.status_code == 404
        assert b"python_info" not in response.content
