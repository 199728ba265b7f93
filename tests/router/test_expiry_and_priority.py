"""`expiresAt`, `priority` and `segments` at the API: what is refused (a 400 naming the field), the
default expiry from the channel's TTL, what GET and the listing show, and the lane a message's record
travels on. The worker's side (a message past its expiry ends `expired` unsent) is in
tests/delivery/test_expiry.py."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from messaging.priorities import Priority
from messaging.topics import send_topic
from router.models import Message
from tests.delivery.support import CHANNEL_DBS
from tests.router.factories import EmailRequestFactory, SmsRequestFactory, WhatsAppRequestFactory
from tests.router.kafka import read_records

ROOT = Path(__file__).resolve().parents[2]


def _at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat().replace("+00:00", "Z")


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _accept(api, request: dict) -> dict:
    response = api.post("/api/v1/messages", request, format="json")
    assert response.status_code == 202, response.json()
    return response.json()


@pytest.mark.django_db(databases=["default"])
@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"expiresAt": "tomorrow"}, "format"),
        ({"expiresAt": 1767225600}, "format"),
        ({"expiresAt": (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()}, "UTC offset"),
        ({"expiresAt": _at(-timedelta(seconds=5))}, "future"),
        ({"sendAt": _at(timedelta(hours=2)), "expiresAt": _at(timedelta(hours=1))}, "after `sendAt`"),
        ({"sendAt": (two := _at(timedelta(hours=2))), "expiresAt": two.replace("Z", "+00:00")}, "after `sendAt`"),
    ],
    ids=["words", "number", "no-offset", "past", "before-send-at", "at-send-at"],
)
def test_a_bad_expires_at_is_a_400_naming_it(api, fields, words):
    response = api.post("/api/v1/messages", SmsRequestFactory(**fields), format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"expiresAt"}, response.json()
    assert words in " ".join(response.json()["expiresAt"]), response.json()


@pytest.mark.django_db(databases=["default"])
@pytest.mark.parametrize("priority", ["urgent", "HIGH", "", 1, True, None, ["high"]])
def test_a_priority_not_one_of_the_three_is_a_400_naming_it(api, priority):
    response = api.post("/api/v1/messages", SmsRequestFactory(priority=priority), format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"priority"}, response.json()


@pytest.mark.django_db(databases=["default"])
def test_a_batch_item_with_a_bad_priority_or_expiry_is_rejected_alone(api):
    items = [
        SmsRequestFactory(priority="high", expiresAt=_at(timedelta(minutes=5))),
        SmsRequestFactory(priority="asap"),
        EmailRequestFactory(expiresAt=_at(-timedelta(minutes=5))),
    ]
    body = api.post("/api/v1/messages/batch", {"messages": items}, format="json").json()
    assert (body["accepted"], body["rejected"]) == (1, 2)
    assert set(body["results"][1]["errors"]) == {"priority"}
    assert set(body["results"][2]["errors"]) == {"expiresAt"}
    message = Message.objects.get(pk=body["results"][0]["id"])
    assert message.priority == "high"


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_get_shows_priority_expiry_and_segments(api):
    expires = _at(timedelta(minutes=30))
    accepted = _accept(api, SmsRequestFactory(priority="low", expiresAt=expires, body="x" * 161))
    body = api.get(f"/api/v1/messages/{accepted['id']}").json()
    assert (body["priority"], body["segments"]) == ("low", 2)
    assert _moment(body["expiresAt"]) == _moment(expires)


@pytest.mark.django_db(databases=CHANNEL_DBS)
@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("x", 1),
        ("x" * 160, 1),
        ("x" * 161, 2),
        ("x" * 306, 2),
        ("x" * 307, 3),
        ("{" * 80, 1),  # an extension character takes two septets
        ("{" * 81, 2),
        ("ł" * 70, 1),  # not GSM-7: UCS-2, 70 in one, 67 per part
        ("ł" * 71, 2),
        ("x" * 200 + "ł", 3),  # one such character makes the whole text UCS-2
    ],
)
def test_segments_count_gsm7_and_ucs2_as_carriers_do(api, body, segments):
    accepted = _accept(api, WhatsAppRequestFactory(body=body))
    assert api.get(f"/api/v1/messages/{accepted['id']}").json()["segments"] == segments


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_an_email_has_no_segments(api):
    accepted = _accept(api, EmailRequestFactory())
    assert api.get(f"/api/v1/messages/{accepted['id']}").json()["segments"] is None


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_without_expires_at_the_channels_default_ttl_counts_from_send_at_or_acceptance(api, settings):
    settings.DELIVERY_DEFAULT_TTL_SECONDS = {**settings.DELIVERY_DEFAULT_TTL_SECONDS, "sms": 600.0}
    now = _accept(api, SmsRequestFactory())
    detail = api.get(f"/api/v1/messages/{now['id']}").json()
    assert _moment(detail["expiresAt"]) - _moment(detail["createdAt"]) == timedelta(seconds=600)
    assert detail["priority"] == "normal"

    send_at = _at(timedelta(hours=1))
    scheduled = _accept(api, SmsRequestFactory(sendAt=send_at))
    detail = api.get(f"/api/v1/messages/{scheduled['id']}").json()
    assert _moment(detail["expiresAt"]) - _moment(detail["sendAt"]) == timedelta(seconds=600)

    email = _accept(api, EmailRequestFactory())  # email's own default: 24 hours
    detail = api.get(f"/api/v1/messages/{email['id']}").json()
    assert _moment(detail["expiresAt"]) - _moment(detail["createdAt"]) == timedelta(hours=24)


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_the_record_travels_on_its_priority_lane_with_its_expiry(api):
    """`high` on send.<channel>.high, `low` on .low, `normal` on the channel's own send topic; each
    envelope carries its priority and its expiry."""
    for priority in Priority:
        accepted = _accept(api, SmsRequestFactory(priority=priority.value))
        key = accepted["id"].encode()
        (record,) = read_records(send_topic("sms", priority), key=key)
        envelope = orjson.loads(record.value())
        assert envelope["priority"] == priority.value
        assert _moment(envelope["expiresAt"]) == Message.objects.get(pk=accepted["id"]).expires_at
        for other in set(Priority) - {priority}:
            assert read_records(send_topic("sms", other), key=key, timeout=2) == []


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_a_batch_item_travels_on_its_own_lane(api):
    items = [SmsRequestFactory(priority="high"), SmsRequestFactory()]
    results = api.post("/api/v1/messages/batch", {"messages": items}, format="json").json()["results"]
    assert len(read_records(send_topic("sms", Priority.HIGH), key=results[0]["id"].encode())) == 1
    assert len(read_records(send_topic("sms"), key=results[1]["id"].encode())) == 1


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_the_listing_filters_by_priority_and_shows_it(api):
    high = _accept(api, SmsRequestFactory(priority="high"))
    normal = _accept(api, SmsRequestFactory())
    listed = api.get("/api/v1/messages?priority=high").json()["results"]
    assert [item["id"] for item in listed] == [high["id"]]
    assert listed[0]["priority"] == "high" and listed[0]["expiresAt"]
    assert normal["id"] in [item["id"] for item in api.get("/api/v1/messages?priority=normal").json()["results"]]
    response = api.get("/api/v1/messages?priority=urgent")
    assert response.status_code == 400 and set(response.json()) == {"priority"}


@pytest.mark.django_db(databases=["default"])
def test_the_same_idempotency_key_with_another_priority_or_expiry_is_a_conflict(api):
    request = SmsRequestFactory()
    assert api.post("/api/v1/messages", request, format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 202
    again = {**request, "priority": "high"}
    assert api.post("/api/v1/messages", again, format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 422
    later = {**request, "expiresAt": _at(timedelta(hours=1))}
    assert api.post("/api/v1/messages", later, format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 422


@pytest.mark.parametrize("value", ["four hours", "0s", "-1h"])
def test_a_default_ttl_that_does_not_parse_stops_the_process_naming_the_setting(value):
    environment = {**os.environ, "SMS_DEFAULT_TTL": value}
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings.base"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: SMS_DEFAULT_TTL" in result.stderr, result.stderr


@pytest.mark.django_db(databases=["default"])
def test_the_admin_lists_and_filters_messages_by_priority(api, admin_client):
    high = _accept(api, SmsRequestFactory(priority="high"))
    low = _accept(api, SmsRequestFactory(priority="low"))
    page = admin_client.get("/admin/router/message/", {"priority__exact": "high"}).content.decode()
    assert high["id"] in page and low["id"] not in page
    assert "column-priority" in page and "column-expires_at" in page  # shown, with the expiry
    assert "By priority" in page  # and offered as a filter
