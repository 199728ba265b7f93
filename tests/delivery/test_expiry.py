"""Expiry and priority lanes on the real engines: a message its channel's worker reaches only after
its `expiresAt` ends `expired` with no provider call, logged as `delivery.expired` and shown so by GET
(its timeline from Elasticsearch) and the listing; a `high` message is read from its own lane."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from delivery.models import DeliveryStatus
from engines.process import free_port
from messaging.channels import Channel
from messaging.priorities import Priority
from messaging.topics import delivery_log_topic, send_topic
from tests.delivery.support import (
    CHANNEL_DBS,
    FAST_RETRIES,
    actions,
    log_events,
    make_envelope,
    own_run_topics,
    provider_calls,
    publish_envelopes,
    records,
    wait_for_status,
    worker,
)
from tests.peers.webhooks import WebhookReceiver
from tests.processes import manage_py, wait_for
from tests.router.factories import ApiKeyFactory, SmsRequestFactory
from tests.router.kafka import read_records

SMS = Channel.SMS
pytestmark = pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)


@pytest.fixture
def api() -> APIClient:
    cache.clear()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory().raw_key}")
    return client


def _accept(api: APIClient, **fields: Any) -> dict[str, Any]:
    response = api.post("/api/v1/messages", SmsRequestFactory(**fields), format="json")
    assert response.status_code == 202, response.json()
    return response.json()


def _detail_when(api: APIClient, message_id: str, status: str, action: str) -> dict[str, Any]:
    """GET once the status is `status` and the timeline (Elasticsearch) holds `action`."""

    def current() -> dict[str, Any] | None:
        response = api.get(f"/api/v1/messages/{message_id}")
        if response.status_code == 503:  # a new daily index is still being made: ask again
            return None
        body = response.json()
        found = body["status"] == status and action in [event["action"] for event in body["events"]]
        return body if found else None

    return wait_for(current, timeout=60, interval=0.5, what=f"{message_id} {status} with {action}")  # type: ignore[return-value]


def test_a_message_reached_after_its_expiry_ends_expired_unsent(api, settings):
    env = own_run_topics(settings, "expiry")
    settings.LOG_INDEX_PREFIX = f"t{env['COMMS_TEST_RUN_ID']}-comms-logs"  # where this run's indexer writes
    expires_at = datetime.now(UTC) + timedelta(seconds=3)  # room for a first POST (the API warming up)
    doomed = _accept(api, expiresAt=expires_at.isoformat().replace("+00:00", "Z"))
    kept = _accept(api)  # the default TTL (4 hours): sent
    urgent = _accept(api, priority="high")
    # No worker runs until the expiry has passed.
    wait_for(lambda: datetime.now(UTC) > expires_at, timeout=10, interval=0.05, what="the expiry to pass")
    ids = {name: uuid.UUID(message["id"]) for name, message in (("doomed", doomed), ("kept", kept), ("high", urgent))}
    with worker(SMS, **env), manage_py("indexer", "index_logs", INDEXER_BATCH_WAIT_MS="100", **env):
        wait_for_status(SMS, [ids["doomed"]], DeliveryStatus.EXPIRED)
        wait_for_status(SMS, [ids["kept"], ids["high"]], DeliveryStatus.SENT)
        detail = _detail_when(api, doomed["id"], "expired", "delivery.expired")
    assert provider_calls(SMS, [ids["doomed"]]) == []  # the provider's own call log: never called
    assert len(provider_calls(SMS, [ids["kept"]])) == len(provider_calls(SMS, [ids["high"]])) == 1
    assert detail["attempts"] == 0
    assert datetime.fromisoformat(detail["expiresAt"].replace("Z", "+00:00")) == expires_at
    assert "delivery.expired" in actions(log_events(delivery_log_topic(SMS), ids["doomed"]))
    # The high one travelled on its own lane, and only there.
    assert len(read_records(send_topic(SMS, Priority.HIGH), key=urgent["id"].encode())) == 1
    assert read_records(send_topic(SMS), key=urgent["id"].encode(), timeout=2) == []
    listed = api.get("/api/v1/messages?status=expired").json()["results"]
    assert [item["id"] for item in listed] == [doomed["id"]]
    assert [item["id"] for item in api.get("/api/v1/messages?priority=high").json()["results"]] == [urgent["id"]]


def test_a_message_waiting_for_its_retry_expires_instead_of_being_sent(settings):
    """Its first attempt fails; its retry is due after its expiry: no second call, `expired`."""
    env = own_run_topics(settings, "expiry-retry")
    with worker(SMS, SMS_RETRY_DELAYS="3s", **env):
        warm_up = make_envelope(SMS)
        publish_envelopes([warm_up])
        wait_for_status(SMS, [warm_up.id], DeliveryStatus.SENT)  # the worker is reading now
        expires_at = datetime.now(UTC) + timedelta(seconds=1.5)
        envelope = make_envelope(SMS, simulate={"failTimes": 1}, expires_at=expires_at)
        publish_envelopes([envelope])
        wait_for_status(SMS, [envelope.id], DeliveryStatus.EXPIRED, timeout=30)
    (call,) = provider_calls(SMS, [envelope.id])  # the first attempt only
    assert call.attempt == 1
    (record,) = records(SMS, [envelope.id])
    assert record.attempt_count == 1 and "Expired" in record.last_error
    events = actions(log_events(delivery_log_topic(SMS), envelope.id))
    assert events[-1] == "delivery.expired" and "delivery.retry_scheduled" in events


def test_the_worker_reads_every_lane(settings):
    env = own_run_topics(settings, "lanes")
    by_lane = {priority: make_envelope(SMS, priority=priority) for priority in Priority}
    with worker(SMS, SMS_RETRY_DELAYS=FAST_RETRIES, **env):
        for priority, envelope in by_lane.items():
            publish_envelopes([envelope], topic=send_topic(SMS, priority))
        wait_for_status(SMS, [envelope.id for envelope in by_lane.values()], DeliveryStatus.SENT)
    assert all(len(provider_calls(SMS, [envelope.id])) == 1 for envelope in by_lane.values())


def test_a_scheduled_message_relayed_after_its_expiry_ends_expired_unsent(api, settings):
    """The relay publishes what is due, late or not (Kafka was down, the relay stopped); the worker,
    which decides every send, expires it. A high one keeps its lane through the outbox."""
    env = own_run_topics(settings, "expiry-scheduled")
    send_at = datetime.now(UTC) + timedelta(seconds=5)  # room for a first POST (the API warming up)
    expires_at = send_at + timedelta(seconds=1)
    late = _accept(
        api, sendAt=send_at.isoformat().replace("+00:00", "Z"), expiresAt=expires_at.isoformat(), priority="high"
    )
    wait_for(lambda: datetime.now(UTC) > expires_at, timeout=10, interval=0.05, what="the expiry to pass")
    with (
        worker(SMS, **env),
        manage_py("relay", "relay_outbox", ROUTER_RELAY_INTERVAL_SECONDS="0.5", **env),
    ):
        wait_for_status(SMS, [uuid.UUID(late["id"])], DeliveryStatus.EXPIRED)
    assert provider_calls(SMS, [uuid.UUID(late["id"])]) == []
    assert len(read_records(send_topic(SMS, Priority.HIGH), key=late["id"].encode())) == 1


def test_an_expired_message_is_told_to_its_webhook(api, settings, tmp_path):
    env = own_run_topics(settings, "expiry-webhook")
    port = free_port()
    endpoint = {"url": f"http://127.0.0.1:{port}/hooks", "events": ["message.expired"]}
    created = api.post("/api/v1/webhooks", endpoint, format="json")
    assert created.status_code == 201, created.json()
    receiver = WebhookReceiver(tmp_path, port, created.json()["secret"])
    expires_at = datetime.now(UTC) + timedelta(seconds=3)
    doomed = _accept(api, expiresAt=expires_at.isoformat())
    wait_for(lambda: datetime.now(UTC) > expires_at, timeout=10, interval=0.05, what="the expiry to pass")
    try:
        with worker(SMS, **env), manage_py("webhooks", "consume", "webhooks", **env):
            wait_for(lambda: receiver.requests(), timeout=60, what="the expired message's webhook")
    finally:
        receiver.process.stop()
    (request,) = receiver.requests()
    assert request["verified"] and request["payload"]["type"] == "message.expired"
    assert (request["payload"]["data"]["id"], request["payload"]["data"]["status"]) == (doomed["id"], "expired")
