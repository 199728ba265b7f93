"""POST /api/v1/messages/batch: per-item results; valid items are accepted even when others fail."""

import orjson
import pytest

from messaging.channels import Channel
from messaging.topics import send_topic
from router.models import Message, OutboxEntry
from tests.router.factories import EmailRequestFactory, SmsRequestFactory, WhatsAppRequestFactory
from tests.router.kafka import read_records, send_watermarks, wait_for_published

pytestmark = pytest.mark.django_db(databases=["default"])
URL = "/api/v1/messages/batch"


def post_batch(api, body):
    return api.post(URL, data=orjson.dumps(body), content_type="application/json")


# Transactional where publishing is checked: the publisher's thread marks entries on its own
# connection, after the commit.
@pytest.mark.django_db(databases=["default"], transaction=True)
def test_valid_items_are_accepted_and_published_beside_rejected_ones(api):
    items = [
        EmailRequestFactory(),
        SmsRequestFactory(to="12345"),
        SmsRequestFactory(),
        {"channel": "fax", "to": "x", "body": "y"},
        WhatsAppRequestFactory(),
    ]
    response = post_batch(api, {"messages": items})

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (3, 2)
    results = body["results"]
    assert [result["index"] for result in results] == [0, 1, 2, 3, 4]
    assert [result["status"] for result in results] == ["accepted", "rejected", "accepted", "rejected", "accepted"]
    assert "E.164" in results[1]["errors"]["to"][0]
    assert "allowed values" in results[3]["errors"]["channel"][0]
    assert len({results[i]["traceId"] for i in (0, 2, 4)}) == 3  # one trace per message
    wait_for_published()
    for index, channel in ((0, Channel.EMAIL), (2, Channel.SMS), (4, Channel.WHATSAPP)):
        assert len(read_records(send_topic(channel), key=results[index]["id"].encode())) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [SmsRequestFactory()] * 1001}, "messages"),
        ({"messages": "nope"}, "messages"),
        ({}, "messages"),
        ({"messages": [SmsRequestFactory()], "extra": 1}, "extra"),
    ],
    ids=["empty", "over-1000", "not-a-list", "missing", "unknown-field"],
)
def test_a_malformed_batch_is_refused_as_a_whole(api, body, field):
    before = send_watermarks()
    response = post_batch(api, body)
    assert response.status_code == 400
    assert field in response.json()
    assert Message.objects.count() == 0
    assert send_watermarks() == before


@pytest.mark.django_db(databases=["default"], transaction=True)
def test_a_full_batch_of_1000_is_accepted_and_published(api):
    before = send_watermarks()
    response = post_batch(api, {"messages": [SmsRequestFactory() for _ in range(1000)]})
    assert response.status_code == 202
    assert response.json()["accepted"] == 1000
    assert Message.objects.count() == 1000
    # Acknowledged by Kafka before the 202: on the topic at once, and nothing left in the outbox.
    assert sum(send_watermarks().values()) - sum(before.values()) == 1000
    assert OutboxEntry.objects.count() == 0


def test_an_item_kafka_could_never_take_is_rejected_naming_its_field(api):
    """262,144 times U+0001 passes the 256 KiB body limit but is 1.5 MB as the JSON on Kafka: a 202 for it
    would be a promise never kept. It is refused alone; its neighbour is accepted."""
    too_large = EmailRequestFactory(body="\x01" * (256 * 1024))
    response = post_batch(api, {"messages": [too_large, SmsRequestFactory()]})
    assert response.status_code == 202, response.content
    first, second = response.json()["results"]
    assert first["status"] == "rejected"
    assert "the limit is 1000000 bytes" in first["errors"]["body"][0]
    assert second["status"] == "accepted"
    assert Message.objects.count() == 1
