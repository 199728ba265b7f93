"""Log events never carry a message's body, and carry its recipient only masked: checked on the real
events of an accept (router) and a delivery with a retry (SMS worker), read back from Kafka."""

import uuid

import orjson
import pytest
from rest_framework.test import APIClient

from delivery.models import DeliveryStatus
from messaging.channels import Channel
from messaging.topics import delivery_log_topic, router_log_topic
from messaging.tracing import TraceContext
from tests.delivery.support import CHANNEL_DBS, actions, log_events, wait_for_status, worker
from tests.processes import wait_for
from tests.router.factories import ApiKeyFactory
from tests.router.kafka import wait_for_records

RECIPIENT = "+447911123456"
MASKED = "+4479*****456"
DELIVERY_ACTIONS = ["delivery.received", "delivery.failed", "delivery.retry_scheduled", "delivery.received"]


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_log_events_hold_no_body_and_a_masked_recipient():
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory().raw_key}")
    body = f"private words {uuid.uuid4().hex}"
    request = {"channel": "sms", "to": RECIPIENT, "body": body, "metadata": {"simulate": {"failTimes": 1}}}
    response = api.post("/api/v1/messages", request, format="json")
    assert response.status_code == 202, response.content
    message_id = uuid.UUID(response.json()["id"])

    with worker(Channel.SMS) as process:
        wait_for_status(Channel.SMS, [message_id], DeliveryStatus.SENT)
        delivery = wait_for(
            lambda: (e := log_events(delivery_log_topic(Channel.SMS), message_id)) and len(e) >= 5 and e,
            what="delivery log events",
        )
        assert process.stop() == 0, process.output()
    router = wait_for(
        lambda: (e := log_events(router_log_topic(), message_id)) and len(e) >= 1 and e, what="router log events"
    )

    assert actions(router) == ["message.accepted"]
    assert actions(delivery) == [*DELIVERY_ACTIONS, "delivery.sent"]
    for event in router + delivery:
        text = orjson.dumps(event).decode()
        assert "private words" not in text and body not in text, event
        assert RECIPIENT not in text and RECIPIENT[1:] not in text, event
    assert router[0]["labels"]["recipient"] == MASKED
    assert all(event["labels"]["recipient"] == MASKED for event in delivery)


@pytest.mark.django_db(databases=["default"])
def test_a_rejected_request_is_logged_without_its_body_or_recipient():
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory().raw_key}")
    trace = TraceContext.new()
    body = f"private words {uuid.uuid4().hex}"
    request = {"channel": "sms", "to": "+4479111234", "body": body, "subject": body}
    response = api.post("/api/v1/messages", request, format="json", HTTP_TRACEPARENT=trace.traceparent)
    assert response.status_code == 400

    (record,) = wait_for_records(router_log_topic(), trace.trace_id.encode(), lambda records: len(records) >= 1)
    event = orjson.loads(record.value())
    assert event["event"]["action"] == "message.rejected"
    text = record.value().decode()
    assert body not in text and "+4479111234" not in text
