"""GET /api/v1/messages/{id}: the status comes from the channel's delivery record once there is one —
it is written before the events that tell of it reach Elasticsearch, so the API is not late by the
indexer's batch and the index refresh (issue 16); before that, from the timeline."""

import pytest

from delivery.models import DeliveryStatus
from tests.delivery.support import CHANNEL_DBS
from tests.factories import SmsDeliveryFactory
from tests.router.factories import SmsRequestFactory

pytestmark = pytest.mark.django_db(databases=CHANNEL_DBS)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (None, "accepted"),  # the channel has not seen it: the timeline says (nothing indexed yet)
        ({"status": DeliveryStatus.SENDING, "current_attempt": 1}, "pending"),
        ({"status": DeliveryStatus.PENDING, "current_attempt": 1, "attempt_count": 1}, "retrying"),
        ({"status": DeliveryStatus.SENT, "current_attempt": 2, "attempt_count": 2, "provider": "twilio"}, "sent"),
        ({"status": DeliveryStatus.FAILED, "current_attempt": 1, "attempt_count": 1}, "failed"),
        ({"status": DeliveryStatus.UNKNOWN, "current_attempt": 1, "attempt_count": 0}, "unknown"),
    ],
)
def test_the_status_is_the_delivery_records_as_soon_as_there_is_one(api, record, expected):
    accepted = api.post("/api/v1/messages", SmsRequestFactory(), format="json").json()
    if record is not None:
        SmsDeliveryFactory(message_id=accepted["id"], trace_id=accepted["traceId"], **record)
    body = api.get(f"/api/v1/messages/{accepted['id']}").json()
    assert body["status"] == expected
    assert body["attempts"] == (record or {}).get("attempt_count", 0)
    assert body["provider"] == (record or {}).get("provider", "")


def test_the_trace_page_names_the_provider_that_took_the_message(api, admin_client):
    accepted = api.post("/api/v1/messages", SmsRequestFactory(), format="json").json()
    SmsDeliveryFactory(
        message_id=accepted["id"], trace_id=accepted["traceId"], status=DeliveryStatus.SENT, provider="twilio"
    )
    page = admin_client.get(f"/messages/{accepted['id']}").content.decode()
    assert '<td id="provider"><code>twilio</code></td>' in page
