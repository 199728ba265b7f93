"""GET /api/v1/messages: the caller's messages newest first in cursor pages, filtered exactly."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from delivery.models import DeliveryStatus
from router.models import Message
from tests.delivery.support import CHANNEL_DBS
from tests.factories import SmsDeliveryFactory
from tests.router.factories import ApiKeyFactory, EmailRequestFactory, SmsRequestFactory

pytestmark = pytest.mark.django_db(databases=CHANNEL_DBS)


def _pages(api: APIClient, url: str) -> list[list[dict]]:
    pages = []
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.json()
        pages.append(response.json()["results"])
        next_url = response.json()["next"]
        url = _path(next_url) if next_url else ""
    return pages


def _path(url: str) -> str:
    """A link of the API's answer as the test client takes it (path and query)."""
    return urlsplit(url)._replace(scheme="", netloc="").geturl()


def _send(api: APIClient, factory, **fields) -> dict:
    response = api.post("/api/v1/messages", factory(**fields), format="json")
    assert response.status_code == 202, response.json()
    return response.json()


def test_pages_hold_every_message_once_newest_first(api):
    sent = [_send(api, SmsRequestFactory) for _ in range(4)] + [_send(api, EmailRequestFactory) for _ in range(3)]
    pages = _pages(api, "/api/v1/messages?pageSize=3")
    assert [len(page) for page in pages] == [3, 3, 1]
    listed = [item["id"] for page in pages for item in page]
    assert listed == [message["id"] for message in reversed(sent)]
    assert pages[0][0] | {"createdAt": None, "expiresAt": None} == {
        "id": sent[-1]["id"],
        "traceId": sent[-1]["traceId"],
        "status": "accepted",
        "channel": "email",
        "to": sent[-1]["to"],
        "priority": "normal",
        "createdAt": None,
        "sendAt": None,
        "expiresAt": None,
        "template": None,
        "templateVersion": None,
        "attempts": 0,
    }


def test_only_the_callers_messages_are_listed_but_staff_see_all(api, client):
    mine = _send(api, SmsRequestFactory)
    other = ApiKeyFactory()
    other_api = APIClient()
    other_api.credentials(HTTP_AUTHORIZATION=f"Api-Key {other.raw_key}")
    theirs = _send(other_api, SmsRequestFactory)
    assert [m["id"] for m in api.get("/api/v1/messages").json()["results"]] == [mine["id"]]
    assert [m["id"] for m in other_api.get("/api/v1/messages").json()["results"]] == [theirs["id"]]
    staff = APIClient()
    staff.force_login(User.objects.create_user("ops", is_staff=True))
    assert {m["id"] for m in staff.get("/api/v1/messages").json()["results"]} == {mine["id"], theirs["id"]}


def test_filters_match_exactly(api):
    ada = _send(api, EmailRequestFactory, to="ada@example.com")
    _send(api, EmailRequestFactory, to="ada@example.com.evil")
    sms = _send(api, SmsRequestFactory)

    def ids(query: str) -> list[str]:
        return [item["id"] for page in _pages(api, f"/api/v1/messages?{query}") for item in page]

    assert ids("to=ada@example.com") == [ada["id"]]
    assert ids("channel=sms") == [sms["id"]]
    Message.objects.filter(pk=ada["id"]).update(created_at=timezone.now() - timedelta(days=2))
    yesterday = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ada["id"] not in ids(f"since={yesterday}")
    assert ids(f"until={yesterday}") == [ada["id"]]
    Message.objects.filter(pk=sms["id"]).update(template="login-code", template_version=3)
    assert ids("template=login-code") == [sms["id"]]


def test_the_status_filter_reads_the_delivery_records_across_pages(api):
    sent = [_send(api, SmsRequestFactory) for _ in range(5)]
    for message in sent[::2]:  # 0, 2, 4 sent; 1, 3 never reached their channel
        SmsDeliveryFactory(message_id=message["id"], status=DeliveryStatus.SENT, attempt_count=1)
    matching = [item for page in _pages(api, "/api/v1/messages?status=sent&pageSize=2") for item in page]
    assert [item["id"] for item in matching] == [sent[4]["id"], sent[2]["id"], sent[0]["id"]]
    assert {(item["status"], item["attempts"]) for item in matching} == {("sent", 1)}
    accepted = [item for page in _pages(api, "/api/v1/messages?status=accepted&pageSize=2") for item in page]
    assert [item["id"] for item in accepted] == [sent[3]["id"], sent[1]["id"]]


def test_a_status_filtered_page_is_filled_from_the_rows_that_follow(api, monkeypatch):
    """Sparse matches: each page but the last is full, and every match comes once, in order; past the
    bound on reads a page comes back short, and `next` leads on to the rest."""
    sent = [_send(api, SmsRequestFactory) for _ in range(9)]
    for message in sent[::4]:  # 0, 4, 8 sent; the others never reached their channel
        SmsDeliveryFactory(message_id=message["id"], status=DeliveryStatus.SENT, attempt_count=1)
    pages = _pages(api, "/api/v1/messages?status=sent&pageSize=2")
    assert [[item["id"] for item in page] for page in pages] == [[sent[8]["id"], sent[4]["id"]], [sent[0]["id"]]]
    # Back through `previous` (read as it comes, not filled): still only matches.
    second = api.get(_path(api.get("/api/v1/messages?status=sent&pageSize=2").json()["next"])).json()
    back = api.get(_path(second["previous"]))
    assert back.status_code == 200 and {item["status"] for item in back.json()["results"]} <= {"sent"}

    monkeypatch.setattr("router.views.listing.STATUS_SCAN_READS", 2)
    pages = _pages(api, "/api/v1/messages?status=sent&pageSize=2")
    assert [item["id"] for page in pages for item in page] == [sent[8]["id"], sent[4]["id"], sent[0]["id"]]
    assert any(len(page) < 2 for page in pages[:-1]), "bounded: some page before the last is short"


@pytest.mark.parametrize(
    ("query", "field"),
    [("channel=fax", "channel"), ("status=lost", "status"), ("since=yesterday", "since"), ("chanel=sms", "chanel")],
)
def test_a_bad_filter_is_a_400_naming_it(api, query, field):
    response = api.get(f"/api/v1/messages?{query}")
    assert response.status_code == 400
    assert field in response.json()
