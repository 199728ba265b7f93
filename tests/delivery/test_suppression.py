"""The suppression list: a recipient who bounced, complained or replied STOP gets nothing more from
that channel — their messages end `suppressed` with no provider call — until lifted (API, admin, START)."""

from __future__ import annotations

import pytest

from delivery.events import DeliveryLog
from delivery.models import DeliveryStatus, SuppressionReason
from delivery.receipts import Receipt, delivery_report_status
from delivery.registry import get_channel
from messaging.channels import Channel
from messaging.log_events import LogEmitter
from messaging.topics import delivery_log_topic
from sms_service.models import SmsSuppression
from tests.delivery.support import (
    CHANNEL_DBS,
    actions,
    log_events,
    make_envelope,
    own_run_topics,
    provider_calls,
    publish_envelopes,
    wait_for_status,
    worker,
)
from tests.factories import EmailDeliveryFactory
from tests.peers.twilio_webhooks import post_signed
from tests.router.factories import ApiKeyFactory

SMS, EMAIL = Channel.SMS, Channel.EMAIL
TOKEN = "inbound-test-token"


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_a_suppressed_recipient_gets_no_provider_call(settings):
    SmsSuppression.objects.using("sms").create(recipient="+14155550123", reason=SuppressionReason.UNSUBSCRIBED)
    blocked = make_envelope(SMS, to="+14155550123")
    allowed = make_envelope(SMS, to="+14155552671")
    with worker(SMS, **own_run_topics(settings, "suppression")):
        publish_envelopes([blocked, allowed])
        wait_for_status(SMS, [blocked.id], DeliveryStatus.SUPPRESSED)
        wait_for_status(SMS, [allowed.id], DeliveryStatus.SENT)
    assert provider_calls(SMS, [blocked.id]) == []
    assert len(provider_calls(SMS, [allowed.id])) == 1
    assert "delivery.suppressed" in actions(log_events(delivery_log_topic(SMS), blocked.id))


@pytest.mark.django_db(databases=CHANNEL_DBS)
@pytest.mark.parametrize(
    ("status", "reason"),
    [(DeliveryStatus.BOUNCED, SuppressionReason.BOUNCED), (DeliveryStatus.COMPLAINED, SuppressionReason.COMPLAINED)],
)
def test_a_bounce_or_complaint_suppresses_the_recipient(status, reason):
    record = EmailDeliveryFactory(status=DeliveryStatus.SENT, provider_message_id="esp-1")
    log = DeliveryLog(channel=EMAIL, emitter=LogEmitter(service="email_service", topic=delivery_log_topic(EMAIL)))
    receipt = Receipt(provider_message_id="esp-1", status=status, error="550 mailbox unavailable")
    assert delivery_report_status(spec=get_channel(EMAIL), receipt=receipt, log=log)
    record.refresh_from_db()
    assert record.status == status
    spec = get_channel(EMAIL)
    (row,) = spec.suppression_model.objects.using(spec.database).filter(recipient=record.recipient)
    assert (row.reason, row.detail) == (reason, "550 mailbox unavailable")


def _inbound(client, params: dict[str, str], token: str = TOKEN):
    return post_signed(client, "/api/v1/providers/twilio/inbound", params, token=token)


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_stop_suppresses_the_sender_and_start_lifts_it(client, settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    stop = {"MessageSid": "SM" + "b" * 32, "From": "+14155550199", "To": "+15017122661", "Body": " stop "}
    assert _inbound(client, stop, token="wrong").status_code == 403
    assert not SmsSuppression.objects.using("sms").exists()
    response = _inbound(client, stop)
    assert response.status_code == 200 and response["Content-Type"] == "text/xml"
    assert SmsSuppression.objects.using("sms").get(recipient="+14155550199").reason == SuppressionReason.UNSUBSCRIBED
    assert _inbound(client, {**stop, "Body": "Hello there"}).status_code == 200  # not a keyword: nothing
    assert SmsSuppression.objects.using("sms").filter(recipient="+14155550199").exists()
    assert _inbound(client, {**stop, "Body": "START"}).status_code == 200
    assert not SmsSuppression.objects.using("sms").exists()
    # A WhatsApp reply suppresses on WhatsApp only.
    _inbound(client, {**stop, "From": "whatsapp:+14155550199"})
    spec = get_channel(Channel.WHATSAPP)
    assert spec.suppression_model.objects.using(spec.database).filter(recipient="+14155550199").exists()
    assert not SmsSuppression.objects.using("sms").exists()


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_the_api_shows_and_lifts_a_suppression(client):
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {ApiKeyFactory().raw_key}"}
    SmsSuppression.objects.using("sms").create(recipient="+14155550123", reason=SuppressionReason.BOUNCED)
    shown = client.get("/api/v1/suppressions/sms/+14155550123", **headers)
    assert shown.status_code == 200 and shown.json()["reason"] == "bounced"
    assert client.delete("/api/v1/suppressions/sms/+14155550123", **headers).status_code == 204
    assert client.delete("/api/v1/suppressions/sms/+14155550123", **headers).status_code == 404
    assert client.get("/api/v1/suppressions/sms/+14155550123", **headers).status_code == 404
    assert client.delete("/api/v1/suppressions/fax/+14155550123", **headers).status_code == 404
    assert client.delete("/api/v1/suppressions/sms/+14155550123").status_code == 401
