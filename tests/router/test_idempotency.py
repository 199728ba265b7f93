"""Idempotency-Key: a repeat returns the first response and publishes nothing more, also under concurrency."""

import json
import socket
import sys
import threading
import urllib.error
import urllib.request
from datetime import timedelta

import orjson
import pytest
from django.utils import timezone

from messaging.channels import Channel
from messaging.topics import send_topic
from router.accept import idempotency
from router.accept.idempotency import IdempotencyClaim
from router.domain import Client
from router.models import IdempotencyRecord, Message
from tests.processes import ManagedProcess, process_env, wait_for
from tests.router.factories import ApiKeyFactory, SmsRequestFactory
from tests.router.kafka import read_records, wait_for_published

URL = "/api/v1/messages"


def post_json(api, payload, key):
    return api.post(URL, data=orjson.dumps(payload), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


# Transactional: the publisher's thread marks entries published on its own connection, after the commit.
@pytest.mark.django_db(databases=["default"], transaction=True)
def test_a_repeated_request_returns_the_first_response_and_publishes_once(api):
    payload = SmsRequestFactory()
    first = post_json(api, payload, "order-1042")
    # Same body with another key order: still the same request.
    second = post_json(api, dict(reversed(list(payload.items()))), "order-1042")

    assert first.status_code == second.status_code == 202
    assert second.json() == first.json()
    assert second["Location"] == first["Location"]
    assert second["Idempotent-Replayed"] == "true"
    wait_for_published([first.json()["id"]])
    assert len(read_records(send_topic(Channel.SMS), key=first.json()["id"].encode())) == 1
    assert Message.objects.count() == 1


@pytest.mark.django_db(databases=["default"])
def test_the_same_key_with_another_body_is_refused_with_422(api):
    assert post_json(api, SmsRequestFactory(body="one"), "k-1").status_code == 202
    response = post_json(api, SmsRequestFactory(body="two"), "k-1")
    assert response.status_code == 422
    assert "different request body" in response.json()["detail"]
    assert Message.objects.count() == 1


@pytest.mark.django_db(databases=["default"])
def test_keys_are_per_client(api):
    payload = SmsRequestFactory()
    first = post_json(api, payload, "shared-key").json()
    other = ApiKeyFactory()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {other.raw_key}")
    assert post_json(api, payload, "shared-key").json()["id"] != first["id"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_post(url: str, payload: dict, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=orjson.dumps(payload), headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.django_db(databases=["default"], transaction=True)
def test_concurrent_requests_with_one_key_publish_once():
    """Real gunicorn, several worker processes, requests released together by a barrier."""
    api_key = ApiKeyFactory()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "4"]
    server = ManagedProcess("gunicorn", argv, process_env())
    try:
        wait_for(lambda: healthy(base), timeout=30, what="gunicorn to answer /healthz")
        payload = SmsRequestFactory()
        headers = {"Authorization": f"Api-Key {api_key.raw_key}", "Idempotency-Key": "concurrent-1"}
        barrier = threading.Barrier(6)
        results: list[tuple[int, dict]] = []

        def send() -> None:
            barrier.wait()
            results.append(http_post(f"{base}{URL}", payload, headers))

        threads = [threading.Thread(target=send) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        wait_for_published()  # acknowledged before gunicorn stops, so the count below is Kafka's final word
    finally:
        assert server.stop() == 0, server.output()

    assert [status for status, _ in results] == [202] * 6, results
    ids = {body["id"] for _, body in results}
    assert len(ids) == 1
    assert Message.objects.count() == 1
    assert len(read_records(send_topic(Channel.SMS), key=ids.pop().encode())) == 1


BATCH_URL = "/api/v1/messages/batch"


def post_batch(api, items, key):
    body = orjson.dumps({"messages": items})
    return api.post(BATCH_URL, data=body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db(databases=["default"], transaction=True)
def test_a_key_covers_a_whole_batch_the_same_batch_again_gets_the_same_results_and_publishes_once(api):
    items = [SmsRequestFactory(), {"channel": "fax"}, SmsRequestFactory()]
    first = post_batch(api, items, "import-2026-11-28")
    again = post_batch(api, [dict(reversed(list(item.items()))) for item in items], "import-2026-11-28")

    assert first.status_code == again.status_code == 202, again.content
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    ids = [result["id"] for result in first.json()["results"] if result["status"] == "accepted"]
    assert len(ids) == 2 and Message.objects.count() == 2
    wait_for_published(ids)
    for message_id in ids:
        assert len(read_records(send_topic(Channel.SMS), key=message_id.encode())) == 1


@pytest.mark.django_db(databases=["default"])
def test_a_batch_key_with_another_batch_or_a_single_request_is_refused_with_422(api):
    assert post_batch(api, [SmsRequestFactory(body="one")], "batch-1").status_code == 202
    assert post_batch(api, [SmsRequestFactory(body="two")], "batch-1").status_code == 422
    assert post_json(api, SmsRequestFactory(body="one"), "batch-1").status_code == 422
    assert post_json(api, SmsRequestFactory(), "single-1").status_code == 202
    assert post_batch(api, [SmsRequestFactory()], "single-1").status_code == 422
    assert Message.objects.count() == 2


@pytest.mark.django_db(databases=["default"])
def test_a_twins_live_key_committed_after_the_read_is_not_deleted_as_expired(monkeypatch):
    """The interleaving behind a flaky double publish on PostgreSQL (READ COMMITTED): this request read
    no live record, the twin committed its record, then this request cleared the key's slot for
    expired records — it must clear only expired ones, so the unique key stops it instead."""
    client = Client(id="key:twin")
    now = timezone.now()
    IdempotencyRecord.objects.create(client=client.id, key="k", fingerprint="f", created_at=now)
    expired = IdempotencyRecord.objects.create(
        client=client.id, key="old", fingerprint="f", created_at=now - timedelta(days=30)
    )
    monkeypatch.setattr(idempotency, "idempotency_record_get", lambda **_: None)  # read before the twin's commit
    assert idempotency._record(client=client, claim=IdempotencyClaim(key="k", fingerprint="f")) is None
    assert IdempotencyRecord.objects.filter(client=client.id, key="k").exists()
    idempotency._record(client=client, claim=IdempotencyClaim(key="old", fingerprint="f"))
    assert not IdempotencyRecord.objects.filter(pk=expired.pk).exists()
