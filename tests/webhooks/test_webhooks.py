"""Signed status webhooks: endpoints per API key, and delivery on the real engines — a real receiver
process verifies every signature with the Standard Webhooks library; one that fails three times gets
its events on the retries; one that is down gets them dead-lettered once the attempts run out."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from delivery.models import DeliveryStatus
from engines.process import free_port, free_ports
from messaging.channels import Channel
from messaging.dead_letters import DeadLetterInfo
from messaging.headers import decode_headers
from messaging.topics import webhooks_dlq_topic, webhooks_topic
from messaging.tracing import TraceContext
from tests.delivery.support import (
    CHANNEL_DBS,
    own_run_topics,
    publish_raw,
    topic_records,
    wait_for_status,
    worker,
)
from tests.peers.webhooks import WebhookReceiver
from tests.processes import manage_py, wait_for
from tests.router.factories import SmsRequestFactory
from tests.webhooks.support import api_client
from webhooks.addresses import check_webhook_url, webhook_session
from webhooks.failures import FailureKind
from webhooks.models import WebhookEndpoint
from webhooks.pipeline import DeliverJobs, Job

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.mark.django_db(databases=["default"])
def test_endpoints_are_created_listed_and_deleted_per_key(settings):
    api, other = api_client(), api_client()
    body = {"url": "http://127.0.0.1:9/hooks", "events": ["message.sent", "message.failed"]}
    created = api.post("/api/v1/webhooks", body, format="json")
    assert created.status_code == 201, created.json()
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_") and endpoint["events"] == ["message.failed", "message.sent"]
    listed = api.get("/api/v1/webhooks").json()
    assert [item["id"] for item in listed] == [endpoint["id"]] and "secret" not in listed[0]
    assert other.get(f"/api/v1/webhooks/{endpoint['id']}").status_code == 404
    assert other.get("/api/v1/webhooks").json() == []
    assert api.delete(f"/api/v1/webhooks/{endpoint['id']}").status_code == 204
    assert api.get(f"/api/v1/webhooks/{endpoint['id']}").status_code == 404


@pytest.mark.django_db(databases=["default"])
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/hooks", "events": ["message.sent"]}, "url"),
        ({"url": "http://127.0.0.1:8080/hooks", "events": ["message.sent"]}, "url"),  # loopback
        ({"url": "http://10.1.2.3/hooks", "events": ["message.sent"]}, "url"),  # private
        ({"url": "http://169.254.169.254/latest/meta-data", "events": ["message.sent"]}, "url"),  # link-local
        ({"url": "https://example.com/hooks", "events": ["message.exploded"]}, "events"),
        ({"url": "https://example.com/hooks", "events": []}, "events"),
    ],
)
def test_a_bad_or_private_endpoint_is_refused(settings, body, field):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = api_client().post("/api/v1/webhooks", body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_webhooks_reach_a_flaky_receiver_signed_once_each_and_a_dead_one_ends_in_the_dlq(tmp_path, settings):
    env = own_run_topics(settings, "webhooks")
    api = api_client()
    events = ["message.sent", "message.failed"]
    port, dead_port = free_ports(2)  # nothing listens on the dead one
    flaky_body = {"url": f"http://127.0.0.1:{port}/hooks", "events": events}
    flaky = api.post("/api/v1/webhooks", flaky_body, format="json").json()
    receiver = WebhookReceiver(tmp_path, port, flaky["secret"], fail_first=3)
    dead_body = {"url": f"http://127.0.0.1:{dead_port}/hooks", "events": ["message.sent"]}
    dead = api.post("/api/v1/webhooks", dead_body, format="json").json()

    fast = {"WEBHOOKS_RETRY_DELAYS": "0.2s,0.4s,0.6s", "WEBHOOKS_MAX_ATTEMPTS": "4"}
    try:
        with worker(Channel.SMS, **env), manage_py("webhooks", "consume", "webhooks", **fast, **env):
            sent = [api.post("/api/v1/messages", SmsRequestFactory(), format="json").json()["id"] for _ in range(2)]
            failing = SmsRequestFactory(metadata={"simulate": {"permanent": True}})
            failed = api.post("/api/v1/messages", failing, format="json").json()["id"]
            wait_for_status(Channel.SMS, sent, DeliveryStatus.SENT)
            wait_for_status(Channel.SMS, [failed], DeliveryStatus.FAILED)

            def delivered() -> list[dict]:
                return [r for r in receiver.requests() if r["status"] == 204]

            wait_for(lambda: len(delivered()) >= 3, timeout=60, what="three webhooks at the flaky receiver")
            wait_for(lambda: len(topic_records(webhooks_dlq_topic())) >= 2, timeout=60, what="the dead one's DLQ")
    finally:
        receiver.process.stop()

    requests = receiver.requests()
    assert all(request["verified"] for request in requests), "every request carries a valid signature"
    assert [r["status"] for r in requests[:3]] == [500, 500, 500]
    by_id = {}
    for request in (r for r in requests if r["status"] == 204):
        by_id.setdefault(request["webhook_id"], []).append(request["payload"])
    got = sorted((payloads[0]["type"], payloads[0]["data"]["id"]) for payloads in by_id.values())
    assert got == sorted([("message.sent", sent[0]), ("message.sent", sent[1]), ("message.failed", failed)])
    assert {payloads[0]["data"]["status"] for payloads in by_id.values()} == {"sent", "failed"}

    dead_letters = topic_records(webhooks_dlq_topic())
    assert len(dead_letters) == 2
    for record in dead_letters:
        info = DeadLetterInfo.from_headers(decode_headers(record.headers()))
        assert info is not None and (info.error_type, info.attempts) == ("WebhookDeliveryFailed", 4)
        assert json.loads(record.value())["endpointId"] == dead["id"]

    # What the admin lists: each endpoint's last delivery and last error, written by the worker.
    flaky_row, dead_row = (WebhookEndpoint.objects.get(pk=e["id"]) for e in (flaky, dead))
    assert flaky_row.last_error == "HTTP 500" and flaky_row.last_error_at is not None
    assert flaky_row.last_delivered_at is not None and flaky_row.last_delivered_at >= flaky_row.last_error_at
    assert dead_row.last_delivered_at is None and dead_row.last_error.startswith("ConnectionError")


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_a_job_that_cannot_be_read_is_dead_lettered_verbatim_in_its_own_trace(settings):
    env = own_run_topics(settings, "webhookpoison")
    trace = TraceContext.new()
    publish_raw(webhooks_topic(), b"poison", b"{not json", trace)
    with manage_py("webhooks", "consume", "webhooks", **env) as process:
        wait_for(lambda: topic_records(webhooks_dlq_topic()), timeout=60, what="the poison job's dead letter")
        assert process.popen.poll() is None, "the worker must survive a poison job"
    (dead_letter,) = topic_records(webhooks_dlq_topic())
    headers = decode_headers(dead_letter.headers())
    info = DeadLetterInfo.from_headers(headers)
    assert info is not None and (info.error_type, info.original_topic) == ("InvalidWebhookJob", webhooks_topic())
    assert (dead_letter.key(), dead_letter.value()) == (b"poison", b"{not json")
    assert TraceContext.parse(headers.get("traceparent")).trace_id == trace.trace_id


@pytest.mark.django_db(databases=["default"])
@pytest.mark.parametrize(
    "pinned", [True, False], ids=["webhook_session refuses it", "a plain session reaches it (the attack is real)"]
)
def test_a_name_rebound_to_our_network_after_the_check_is_never_reached(tmp_path, monkeypatch, settings, pinned):
    """DNS rebinding: the endpoint's name answers a public address to the check at registration and
    loopback afterwards. The worker's session checks what it connects to, so the receiver on loopback
    never sees the post; a plain session would have reached it."""
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    port = free_port()
    endpoint = WebhookEndpoint.objects.create(
        client="key:rebind", url=f"http://hooks.example.com:{port}/hooks", events=["message.sent"], secret=SECRET
    )
    receiver = WebhookReceiver(tmp_path, port, SECRET)
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["93.184.215.14"])  # the first answer public, every later one loopback

    def rebinding(host, port, *args, **kwargs):
        if host != "hooks.example.com":
            return real_getaddrinfo(host, port, *args, **kwargs)
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    session = webhook_session(allow_private=False) if pinned else requests.Session()
    job = Job(
        endpoint_id=str(endpoint.id),
        webhook_id="msg_rebind",
        message_id="m-1",
        trace_id="0" * 31 + "1",
        payload=b'{"type":"message.sent"}',
        attempt=1,
    )
    check_webhook_url(endpoint.url, allow_private=False)  # what registering it checked: public
    try:
        with ThreadPoolExecutor(1) as pool:
            failure = DeliverJobs(pool=pool, session=session)._post(job, endpoint)
    finally:
        receiver.process.stop()

    if pinned:  # a refused address: no retry can change that, so the job is dead-lettered at once
        assert failure is not None and "127.0.0.1" in failure.reason, failure
        assert (failure.kind, failure.error_type) == (FailureKind.PERMANENT, "WebhookAddressRefused")
        assert receiver.requests() == []
    else:  # what the worker did before it posted through webhook_session
        assert failure is None and len(receiver.requests()) == 1
