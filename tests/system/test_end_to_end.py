"""The whole pipeline on the real engines: API → Kafka → channel worker → logs → Elasticsearch →
the message timeline API (issue 5's end-to-end checks)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from engines.process import free_ports
from logging_service.timeline import SEARCH_PATIENCE_SECONDS
from messaging.channels import Channel
from tests.browser import needs_chromium, rendered_dom
from tests.delivery.support import CHANNEL_DBS, worker
from tests.processes import manage_py, wait_for
from tests.router.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)


@pytest.fixture
def api() -> APIClient:
    cache.clear()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory().raw_key}")
    return client


@pytest.fixture
def pipeline() -> Iterator[None]:
    """An email worker and the log indexer, as real processes."""
    with (
        worker(Channel.EMAIL, EMAIL_MAX_ATTEMPTS="4"),
        manage_py("indexer", "index_logs", INDEXER_BATCH_WAIT_MS="100"),
    ):
        yield


def send_email(api: APIClient, simulate: dict[str, Any] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"channel": "email", "to": "ada@example.com", "subject": "Hi", "body": "Hello Ada"}
    if simulate:
        payload["metadata"] = {"simulate": simulate}
    response = api.post("/api/v1/messages", payload, format="json")
    assert response.status_code == 202, response.content
    return response.json()


# The event that ends each status's story: the status comes from the delivery record at once, the
# events reach the timeline a moment later (the indexer's batch, the index refresh).
LAST_EVENT = {"sent": "delivery.sent", "failed": "delivery.dead_lettered"}


def timeline_when(api: APIClient, message_id: str, status: str, timeout: float = 45.0) -> dict[str, Any]:
    def current() -> dict[str, Any] | None:
        response = api.get(f"/api/v1/messages/{message_id}")
        if response.status_code == 503:  # a new daily index is still being created: ask again
            return None
        assert response.status_code == 200, response.content
        body = response.json()
        return body if body["status"] == status and LAST_EVENT[status] in actions(body) else None

    return wait_for(current, timeout=timeout, interval=0.5, what=f"message {message_id} to be {status}")  # type: ignore[return-value]


def actions(body: dict[str, Any]) -> list[str]:
    return [event["action"] for event in body["events"]]


def test_a_message_is_sent_and_its_timeline_shows_every_step(api, pipeline):
    accepted = send_email(api)

    body = timeline_when(api, accepted["id"], "sent")

    assert body["traceId"] == accepted["traceId"]
    assert body["attempts"] == 1
    assert body["provider"] == "simulator"  # the provider that took it, from the delivery record
    (sent,) = [event for event in body["events"] if event["action"] == "delivery.sent"]
    assert sent["provider"] == "simulator"
    steps = actions(body)
    for step in ("message.accepted", "delivery.received", "delivery.sent"):
        assert step in steps, steps
    assert steps.index("message.accepted") < steps.index("delivery.received") < steps.index("delivery.sent")
    services = {event["service"] for event in body["events"]}
    assert services == {"router", "email_service"}
    timestamps = [event["timestamp"] for event in body["events"]]
    assert timestamps == sorted(timestamps)


def test_a_retried_message_shows_its_retries_and_ends_sent(api, pipeline):
    accepted = send_email(api, simulate={"failTimes": 2})

    body = timeline_when(api, accepted["id"], "sent")

    assert actions(body).count("delivery.retry_scheduled") == 2
    assert body["attempts"] == 3
    failures = [event for event in body["events"] if event["action"] == "delivery.failed"]
    assert failures and all(event["error"] for event in failures)


def test_a_dead_lettered_message_ends_failed(api, pipeline):
    accepted = send_email(api, simulate={"permanent": True})

    body = timeline_when(api, accepted["id"], "failed")

    assert "delivery.dead_lettered" in actions(body)
    assert "delivery.sent" not in actions(body)


@pytest.mark.parametrize("nodes", [1, 2])
def test_the_timeline_answers_503_when_elasticsearch_is_unreachable(api, settings, nodes):
    """No node of ELASTICSEARCH_URL listens: the client built from the setting tries each, then the API
    answers 503: at once with one node (nothing to wait for), within the search's patience with
    several (one of them may be back in a moment; logging_service.timeline)."""
    accepted = send_email(api)
    settings.ELASTICSEARCH_URL = ",".join(f"http://127.0.0.1:{port}" for port in free_ports(nodes))

    began = time.monotonic()
    response = api.get(f"/api/v1/messages/{accepted['id']}")
    assert time.monotonic() - began < (5 if nodes == 1 else SEARCH_PATIENCE_SECONDS + 5)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "Elasticsearch" in response.json()["detail"]


@needs_chromium
def test_the_trace_page_shows_the_story_in_a_real_browser(api, pipeline, live_server):
    """The signed link the API gives the sending key opens the trace page with no login: its status,
    both attempts (one failed, one sent) and every timeline row, rendered by a headless Chromium."""
    accepted = send_email(api, simulate={"failTimes": 1})
    body = timeline_when(api, accepted["id"], "sent")
    assert body["traceUrl"].startswith("http://testserver/messages/")
    link = live_server.url + body["traceUrl"].removeprefix("http://testserver")

    dom = rendered_dom(link, screenshot=settings.VAR_DIR / "test-artifacts" / "trace-page.png")

    assert 'id="status" class="status status-sent"' in dom
    assert dom.count('class="attempt"') == 2
    assert dom.count('class="event"') == len(body["events"])
    assert '<td id="provider"><code>simulator</code></td>' in dom
    for action in ("message.accepted", "delivery.failed", "delivery.retry_scheduled", "delivery.sent"):
        assert action in dom
    # Without the signature it is staff only; a forged one is refused.
    assert "login" in rendered_dom(live_server.url + f"/messages/{accepted['id']}").lower()
    assert "not valid" in rendered_dom(link[:-3] + "xyz")
