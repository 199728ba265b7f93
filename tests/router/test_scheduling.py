"""Scheduled send (`sendAt`) and cancel at the API: what is refused, what a scheduled message is until
it is due, the relay publishing it then and never before, and cancel answering by the channel's record."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from delivery.models import DeliveryStatus
from messaging.topics import send_topic
from router.models import Message, OutboxEntry
from sms_service.models import SmsDelivery
from tests.delivery.support import CHANNEL_DBS
from tests.factories import SmsDeliveryFactory
from tests.processes import manage_py, wait_for
from tests.router.factories import ApiKeyFactory, SmsRequestFactory
from tests.router.kafka import read_records


def _at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat().replace("+00:00", "Z")


def _schedule(api, delta: timedelta) -> dict:
    response = api.post("/api/v1/messages", SmsRequestFactory(sendAt=_at(delta)), format="json")
    assert response.status_code == 202, response.json()
    return response.json()


@pytest.mark.django_db(databases=["default"])
@pytest.mark.parametrize(
    ("send_at", "words"),
    [
        (_at(-timedelta(minutes=1)), "past"),
        (_at(timedelta(days=36)), "35 days"),
        ((datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat(), "UTC offset"),
        ("tomorrow", "format"),
        (1767225600, "format"),
    ],
)
def test_a_send_at_in_the_past_too_far_or_without_offset_is_a_400(api, send_at, words):
    response = api.post("/api/v1/messages", SmsRequestFactory(sendAt=send_at), format="json")
    assert response.status_code == 400
    assert words in " ".join(response.json()["sendAt"]), response.json()


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_a_scheduled_message_waits_in_the_outbox_as_scheduled(api):
    accepted = _schedule(api, timedelta(hours=2))
    assert accepted["status"] == "scheduled"
    entry = OutboxEntry.objects.get(message_id=accepted["id"])
    assert entry.published_at is None
    assert entry.due_at == Message.objects.get(pk=accepted["id"]).send_at
    assert read_records(send_topic("sms"), key=accepted["id"].encode(), timeout=2) == []
    detail = api.get(f"/api/v1/messages/{accepted['id']}").json()
    assert (detail["status"], detail["sendAt"]) == ("scheduled", accepted["sendAt"])


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_the_relay_publishes_a_scheduled_message_when_due_and_not_before(client):
    api_key = ApiKeyFactory()
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {api_key.raw_key}"}
    ids, due = [], []
    for seconds in (2, 3):
        body = SmsRequestFactory(sendAt=_at(timedelta(seconds=seconds)))
        response = client.post("/api/v1/messages", body, content_type="application/json", **headers)
        assert response.status_code == 202, response.json()
        ids.append(response.json()["id"])
        due.append(datetime.fromisoformat(response.json()["sendAt"]))
    canceled = client.post(
        "/api/v1/messages",
        SmsRequestFactory(sendAt=_at(timedelta(seconds=2))),
        content_type="application/json",
        **headers,
    ).json()
    assert client.post(f"/api/v1/messages/{canceled['id']}/cancel", **headers).status_code == 200

    with manage_py("relay", "relay_outbox", ROUTER_RELAY_INTERVAL_SECONDS="0.5") as relay:
        wait_for(
            lambda: not OutboxEntry.objects.filter(message_id__in=ids, published_at__isnull=True).exists(),
            timeout=30,
            what="the relay to publish both scheduled messages",
        )
        assert relay.stop() == 0, relay.output()
    for message_id, due_at in zip(ids, due, strict=True):
        (record,) = read_records(send_topic("sms"), key=message_id.encode())
        _, produced_ms = record.timestamp()
        assert produced_ms >= due_at.timestamp() * 1000, "published before its sendAt"
    assert read_records(send_topic("sms"), key=canceled["id"].encode(), timeout=2) == []


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_cancel_a_scheduled_message(api):
    accepted = _schedule(api, timedelta(hours=1))
    response = api.post(f"/api/v1/messages/{accepted['id']}/cancel")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "canceled"
    assert not OutboxEntry.objects.filter(message_id=accepted["id"]).exists()  # never published
    assert SmsDelivery.objects.using("sms").get(message_id=accepted["id"]).status == DeliveryStatus.CANCELED
    assert api.get(f"/api/v1/messages/{accepted['id']}").json()["status"] == "canceled"
    assert api.post(f"/api/v1/messages/{accepted['id']}/cancel").status_code == 200  # again: same answer
    listed = api.get("/api/v1/messages?status=canceled").json()["results"]
    assert [item["id"] for item in listed] == [accepted["id"]]


@pytest.mark.django_db(databases=CHANNEL_DBS)
@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"status": DeliveryStatus.PENDING, "current_attempt": 1, "attempt_count": 1}, 200),  # retrying
        ({"status": DeliveryStatus.PENDING, "current_attempt": 0}, 200),  # reopened, not yet tried
        ({"status": DeliveryStatus.SENDING, "current_attempt": 1}, 409),  # in flight
        ({"status": DeliveryStatus.SENT, "current_attempt": 1}, 409),
        ({"status": DeliveryStatus.FAILED, "current_attempt": 3}, 409),
        ({"status": DeliveryStatus.UNKNOWN, "current_attempt": 1}, 409),
    ],
)
def test_cancel_answers_by_the_channels_record(api, record, expected):
    accepted = api.post("/api/v1/messages", SmsRequestFactory(), format="json").json()
    SmsDeliveryFactory(message_id=accepted["id"], trace_id=accepted["traceId"], **record)
    response = api.post(f"/api/v1/messages/{accepted['id']}/cancel")
    assert response.status_code == expected, response.json()
    stored = SmsDelivery.objects.using("sms").get(message_id=accepted["id"]).status
    if expected == 200:
        assert stored == DeliveryStatus.CANCELED
    else:
        assert stored == record["status"]
        shown = {"sending": "pending"}.get(record["status"], record["status"])
        assert response.json()["status"] == shown


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_cancel_of_a_message_of_another_key_or_none_is_a_404(api, client):
    accepted = api.post("/api/v1/messages", SmsRequestFactory(), format="json").json()
    other = ApiKeyFactory()
    response = client.post(f"/api/v1/messages/{accepted['id']}/cancel", HTTP_AUTHORIZATION=f"Api-Key {other.raw_key}")
    assert response.status_code == 404
    assert api.post(f"/api/v1/messages/{uuid.uuid4()}/cancel").status_code == 404
    assert Message.objects.get(pk=accepted["id"]).canceled_at is None
    assert not SmsDelivery.objects.using("sms").filter(message_id=accepted["id"]).exists()
