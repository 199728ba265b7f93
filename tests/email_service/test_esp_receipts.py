"""Email receipts from an ESP through django-anymail's tracking webhook (Postmark's payloads here):
guarded by ANYMAIL's WEBHOOK_SECRET; a delivery moves the record to `delivered`, a hard bounce to
`bounced` and onto the suppression list."""

from __future__ import annotations

import base64

import pytest

from delivery.models import DeliveryStatus, SuppressionReason
from delivery.registry import get_channel
from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS
from tests.factories import EmailDeliveryFactory

pytestmark = pytest.mark.django_db(databases=CHANNEL_DBS)

URL = "/api/v1/providers/anymail/postmark/tracking/"
SECRET = "postmark:webhook-secret"


def _post(client, payload: dict, secret: str = SECRET):
    auth = "Basic " + base64.b64encode(secret.encode()).decode()
    return client.post(URL, payload, content_type="application/json", HTTP_AUTHORIZATION=auth)


def _bounce(message_id: str, email: str) -> dict:
    return {
        "RecordType": "Bounce",
        "MessageID": message_id,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Email": email,
        "BouncedAt": "2026-11-28T10:00:00Z",
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Metadata": {},
    }


def test_an_esp_bounce_and_a_delivery_reach_the_records(client, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}
    bounced = EmailDeliveryFactory(status=DeliveryStatus.SENT, provider_message_id="pm-1", recipient="gone@example.com")
    delivered = EmailDeliveryFactory(status=DeliveryStatus.SENT, provider_message_id="pm-2")

    assert _post(client, _bounce("pm-1", "gone@example.com"), secret="postmark:wrong").status_code == 400
    bounced.refresh_from_db()
    assert bounced.status == DeliveryStatus.SENT

    assert _post(client, _bounce("pm-1", "gone@example.com")).status_code == 200
    delivery = {
        "RecordType": "Delivery",
        "MessageID": "pm-2",
        "Recipient": delivered.recipient,
        "DeliveredAt": "2026-11-28T10:00:00Z",
        "Details": "250 OK",
        "Metadata": {},
    }
    assert _post(client, delivery).status_code == 200

    bounced.refresh_from_db()
    delivered.refresh_from_db()
    assert (bounced.status, delivered.status) == (DeliveryStatus.BOUNCED, DeliveryStatus.DELIVERED)
    assert "unable to deliver" in bounced.last_error
    spec = get_channel(Channel.EMAIL)
    suppressed = spec.suppression_model.objects.using(spec.database).get(recipient="gone@example.com")
    assert suppressed.reason == SuppressionReason.BOUNCED
