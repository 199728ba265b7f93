"""POST /api/v1/messages on the real Kafka: one record per message, its envelope, key, traceparent and logs."""

import re
import uuid
from datetime import timedelta

import orjson
import pytest
from django.conf import settings

from messaging.channels import Channel
from messaging.envelope import MessageEnvelope, utc_text
from messaging.headers import decode_headers
from messaging.topics import router_log_topic, send_topic
from messaging.tracing import TraceContext
from router.models import OutboxEntry
from tests.delivery.support import CHANNEL_DBS
from tests.router.factories import REQUEST_FACTORIES, ApiKeyFactory
from tests.router.kafka import read_records, wait_for_records

pytestmark = pytest.mark.django_db(databases=["default"])
URL = "/api/v1/messages"


def post_json(api, payload, **headers):
    return api.post(URL, data=orjson.dumps(payload), content_type="application/json", **headers)


# Transactional: the publisher's thread marks entries published on its own connection, after the commit.
@pytest.mark.django_db(databases=["default"], transaction=True)
@pytest.mark.parametrize("channel", [channel.value for channel in Channel])
def test_a_valid_message_is_published_once_with_its_envelope_and_logged(api, channel):
    payload = REQUEST_FACTORIES[channel]()
    incoming = TraceContext.new()

    response = post_json(api, payload, HTTP_TRACEPARENT=incoming.traceparent)

    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"id", "traceId", "status", "channel", "to", "createdAt"}
    assert body["traceId"] == incoming.trace_id  # the caller's trace is honoured
    assert (body["status"], body["channel"], body["to"]) == ("accepted", channel, payload["to"])
    assert response["Location"].endswith(f"/api/v1/messages/{body['id']}")

    # No waiting: the 202 came once Kafka had acknowledged the record.
    (record,) = read_records(send_topic(Channel(channel)), key=body["id"].encode())
    envelope = MessageEnvelope.from_json(record.value())
    assert envelope.to_dict() == {
        "schema": "message/v1",
        "id": body["id"],
        "traceId": body["traceId"],
        "channel": channel,
        "to": payload["to"],
        "body": payload["body"],
        "metadata": payload.get("metadata", {}),
        "createdAt": body["createdAt"],
        "attempt": 1,
        "priority": "normal",
        "expiresAt": utc_text(envelope.created_at + timedelta(seconds=settings.DELIVERY_DEFAULT_TTL_SECONDS[channel])),
        **({"subject": payload["subject"]} if "subject" in payload else {}),
    }
    headers = decode_headers(record.headers())
    assert TraceContext.parse(headers["traceparent"]).trace_id == body["traceId"]
    assert headers["content-type"] == "application/json"

    def accepted(records):
        events = [orjson.loads(record.value()) for record in records]
        return [event["event"]["action"] for event in events if event["trace"]["id"] == body["traceId"]] == [
            "message.accepted"  # published with it: no second event (it would only repeat the 202)
        ]

    wait_for_records(router_log_topic(), body["id"].encode(), accepted)
    assert not OutboxEntry.objects.filter(message_id=body["id"]).exists()  # no outbox row when Kafka took it


def test_a_message_without_traceparent_gets_a_new_trace_id(api):
    response = post_json(api, REQUEST_FACTORIES["sms"]())
    assert response.status_code == 202
    assert re.fullmatch(r"[0-9a-f]{32}", response.json()["traceId"])


@pytest.mark.django_db(databases=CHANNEL_DBS)  # its status comes from the channel's record too
def test_the_stored_message_is_returned_by_id_to_its_sender_only(api):
    accepted = post_json(api, REQUEST_FACTORIES["email"]()).json()

    response = api.get(f"{URL}/{accepted['id']}")
    assert response.status_code == 200
    assert {name: response.json()[name] for name in accepted} == accepted

    assert api.get(f"{URL}/{uuid.uuid4()}").status_code == 404
    other = ApiKeyFactory()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {other.raw_key}")
    assert api.get(f"{URL}/{accepted['id']}").status_code == 404


def test_a_rejected_request_is_logged_with_its_errors_but_not_its_body(api):
    trace = TraceContext.new()
    secret = "my one time code is 123456"
    response = post_json(api, {"channel": "sms", "to": "12345", "body": secret}, HTTP_TRACEPARENT=trace.traceparent)
    assert response.status_code == 400

    (record,) = wait_for_records(router_log_topic(), trace.trace_id.encode(), lambda records: len(records) >= 1)
    event = orjson.loads(record.value())
    assert event["event"]["action"] == "message.rejected"
    assert event["event"]["outcome"] == "failure"
    assert "E.164" in event["error"]["message"]
    assert secret not in record.value().decode()
