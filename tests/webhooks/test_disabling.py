"""An endpoint that has failed every post for WEBHOOKS_DISABLE_AFTER is disabled — nothing is posted to
it — until its client enables it (POST /api/v1/webhooks/{id}/enable); a success stops the clock. The
clock's rules on the database, then the whole story on a real worker and a real receiver process."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from django.core.management import call_command

from engines.process import free_ports
from tests.delivery.support import CHANNEL_DBS, own_run_topics
from tests.peers.webhooks import WebhookReceiver
from tests.processes import manage_py, wait_for
from tests.webhooks.support import api_client, dead_letters, endpoint_at, publish_job, worker_log_events
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoints_record_posts

T0 = datetime(2026, 12, 1, tzinfo=UTC)
DAYS_5 = timedelta(days=5)


def _endpoint(client: str = "key:health") -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        client=client, url="https://example.com/hooks", events=["message.sent"], secret="whsec_x"
    )


def _failed(endpoint: WebhookEndpoint, at: datetime, *, delivered: bool = False) -> list:
    return webhook_endpoints_record_posts(
        delivered=[endpoint.pk] if delivered else [], failed={endpoint.pk: "HTTP 500"}, at=at, disable_after=DAYS_5
    )


@pytest.mark.django_db(databases=["default"])
def test_every_post_failing_for_the_whole_time_disables_it_once():
    endpoint = _endpoint()
    assert _failed(endpoint, T0) == []
    assert _failed(endpoint, T0 + timedelta(days=4, hours=23)) == []
    (disabled,) = _failed(endpoint, T0 + DAYS_5)
    assert disabled.id == endpoint.pk and "every post failed since 2026-12-01T00:00:00Z" in disabled.reason
    assert _failed(endpoint, T0 + DAYS_5 + timedelta(hours=1)) == [], "reported by the call that disabled it"
    endpoint.refresh_from_db()
    assert endpoint.disabled and endpoint.disabled_at == T0 + DAYS_5
    assert endpoint.disabled_reason.endswith("the last: HTTP 500")


@pytest.mark.django_db(databases=["default"])
def test_a_success_stops_the_clock():
    endpoint = _endpoint()
    _failed(endpoint, T0)
    webhook_endpoints_record_posts(delivered=[endpoint.pk], failed={}, at=T0 + timedelta(days=3), disable_after=DAYS_5)
    assert _failed(endpoint, T0 + timedelta(days=4)) == []
    assert _failed(endpoint, T0 + timedelta(days=6)) == [], "failing for 2 days, not 6"
    # One batch with a success and a failure for one endpoint: it succeeded, its clock stops.
    assert _failed(endpoint, T0 + timedelta(days=10), delivered=True) == []
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and not endpoint.disabled and endpoint.last_error == "HTTP 500"


@pytest.mark.django_db(databases=["default"])
def test_the_api_shows_a_disabled_endpoint_and_its_own_client_enables_it():
    api, other = api_client(), api_client()
    body = {"url": "http://127.0.0.1:9/hooks", "events": ["message.sent"]}
    created = api.post("/api/v1/webhooks", body, format="json")
    endpoint_id = created.json()["id"]
    assert created.json()["disabled"] is False and created.json()["disabledAt"] is None
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(
        failing_since=T0, disabled_at=T0 + DAYS_5, disabled_reason="every post failed since …"
    )
    (listed,) = api.get("/api/v1/webhooks").json()
    assert (listed["disabled"], listed["disabledAt"], listed["disabledReason"]) == (
        True,
        "2026-12-06T00:00:00Z",
        "every post failed since …",
    )
    assert other.post(f"/api/v1/webhooks/{endpoint_id}/enable").status_code == 404
    assert api.post(f"/api/v1/webhooks/{uuid.uuid4()}/enable").status_code == 404
    enabled = api.post(f"/api/v1/webhooks/{endpoint_id}/enable")
    assert enabled.status_code == 200, enabled.json()
    assert (enabled.json()["disabled"], enabled.json()["disabledReason"]) == (False, "")
    assert api.post(f"/api/v1/webhooks/{endpoint_id}/enable").status_code == 200, "enabling twice is no error"
    row = WebhookEndpoint.objects.get(pk=endpoint_id)
    assert (row.disabled_at, row.failing_since) == (None, None), "the clock starts afresh"


def test_the_schema_documents_the_flag_and_the_enable_operation(tmp_path):
    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    schema = yaml.safe_load(path.read_text())
    enable = schema["paths"]["/api/v1/webhooks/{endpoint_id}/enable"]["post"]
    assert enable["operationId"] == "webhooks_enable" and {"200", "404"} <= set(enable["responses"])
    fields = schema["components"]["schemas"]["WebhookEndpoint"]["properties"]
    assert {"disabled", "disabledAt", "disabledReason"} <= set(fields)
    assert all(fields[name].get("readOnly") for name in ("disabled", "disabledAt", "disabledReason"))


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_an_endpoint_always_failing_is_disabled_gets_nothing_then_posts_again_once_enabled(tmp_path, settings):
    env = own_run_topics(settings, "webhookoff")
    port = free_ports(1)[0]
    api = api_client()
    endpoint = endpoint_at(api, port)
    endpoint_id = endpoint["id"]
    # A job retried every 0.5 s for 3.5 s, at an endpoint disabled once it has failed for 2 s.
    quick = {"WEBHOOKS_RETRY_DELAYS": "0.5s", "WEBHOOKS_MAX_ATTEMPTS": "8", "WEBHOOKS_DISABLE_AFTER": "2s"}
    failing = WebhookReceiver(tmp_path, port, endpoint["secret"], fail_first=WebhookReceiver.ALWAYS)
    healthy = None
    try:
        with manage_py("webhooks", "consume", "webhooks", **quick, **env):
            publish_job(endpoint_id)

            def listed() -> dict:
                (only,) = api.get("/api/v1/webhooks").json()
                return only

            wait_for(lambda: listed()["disabled"], timeout=60, what="the endpoint disabled")
            (event,) = worker_log_events("webhook.endpoint_disabled", endpoint_id)
            assert event["event"]["outcome"] == "failure" and "every post failed since" in event["message"]
            posts_while_enabled = len(failing.requests())
            assert 2 <= posts_while_enabled < 8, posts_while_enabled

            # The job's later retries find it disabled: dead-lettered, not posted.
            def skipped() -> list:
                return [info for info, _ in dead_letters(endpoint_id) if info.error_type == "WebhookEndpointDisabled"]

            wait_for(skipped, timeout=30, what="a job for the disabled endpoint dead-lettered")
            assert len(failing.requests()) == posts_while_enabled, "nothing posted while disabled"
            assert "endpoint disabled (every post failed since" in skipped()[0].error_message

            failing.process.stop()
            healthy = WebhookReceiver(tmp_path, port, endpoint["secret"])
            assert api.post(f"/api/v1/webhooks/{endpoint_id}/enable").json()["disabled"] is False
            publish_job(endpoint_id)
            wait_for(lambda: healthy.requests()[posts_while_enabled:], timeout=60, what="a post after enabling")
            wait_for(lambda: listed()["disabled"] is False and _row(endpoint_id).last_delivered_at, timeout=30)
    finally:
        failing.process.stop()
        if healthy is not None:
            healthy.process.stop()
    assert [r["status"] for r in healthy.requests()[posts_while_enabled:]] == [204]
    assert _row(endpoint_id).failing_since is None, "a success stopped the clock"


def _row(endpoint_id: str) -> WebhookEndpoint:
    return WebhookEndpoint.objects.get(pk=endpoint_id)
