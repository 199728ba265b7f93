"""The suppression list: a recipient who bounced, complained or replied STOP gets nothing more from
that channel — their messages end `suppressed` with no provider call — until lifted: a bounce or an
operator's entry by the API, an opt-out (STOP, complaint) only by the recipient (START) or staff (admin)."""

from __future__ import annotations

import pytest
from django.urls import reverse

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


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_the_api_lifts_a_manual_suppression(client):
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {ApiKeyFactory().raw_key}"}
    SmsSuppression.objects.using("sms").create(recipient="+14155550124", reason=SuppressionReason.MANUAL)
    assert client.delete("/api/v1/suppressions/sms/+14155550124", **headers).status_code == 204
    assert not SmsSuppression.objects.using("sms").exists()


@pytest.mark.django_db(databases=CHANNEL_DBS)
@pytest.mark.parametrize(
    ("channel", "recipient", "reason", "why"),
    [
        (SMS, "+14155550125", SuppressionReason.UNSUBSCRIBED, "opted out (unsubscribed)"),
        (EMAIL, "spam@example.com", SuppressionReason.COMPLAINED, "opted out (complained)"),
    ],
)
def test_an_opt_out_is_lifted_by_staff_not_by_an_api_key(client, admin_client, channel, recipient, reason, why):
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {ApiKeyFactory().raw_key}"}
    spec = get_channel(channel)
    spec.suppression_model.objects.using(spec.database).create(recipient=recipient, reason=reason)
    response = client.delete(f"/api/v1/suppressions/{channel}/{recipient}", **headers)
    assert response.status_code == 409
    body = response.json()
    assert body["reason"] == reason
    assert why in body["detail"] and "only the recipient" in body["detail"]
    rows = spec.suppression_model.objects.using(spec.database).filter(recipient=recipient)
    assert rows.exists()
    # Staff in the admin can: they answer for it (a recipient who asked them, a mistaken entry).
    meta = spec.suppression_model._meta
    delete = reverse(f"admin:{meta.app_label}_{meta.model_name}_delete", args=[rows.get().pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not rows.exists()


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_start_lifts_only_the_recipients_own_opt_out(client, settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    rows = SmsSuppression.objects.using("sms")
    rows.create(recipient="+14155550126", reason=SuppressionReason.MANUAL, detail="abuse")
    rows.create(recipient="+14155550127", reason=SuppressionReason.UNSUBSCRIBED, detail="Twilio error 21610")
    for sender in ("+14155550126", "+14155550127"):
        _inbound(client, {"MessageSid": "SM" + "d" * 32, "From": sender, "To": "+15017122661", "Body": "unstop"})
    # An operator's entry stays; the recipient's opt-out (here learnt from Twilio's 21610) is lifted.
    assert list(rows.values_list("recipient", flat=True)) == ["+14155550126"]


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_a_stop_after_an_operators_entry_makes_it_an_opt_out(client, settings):
    """The first reason is kept, except that an opt-out overrides one anyone could lift."""
    settings.TWILIO_AUTH_TOKEN = TOKEN
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {ApiKeyFactory().raw_key}"}
    rows = SmsSuppression.objects.using("sms")
    rows.create(recipient="+14155550129", reason=SuppressionReason.MANUAL, detail="paused")
    _inbound(client, {"MessageSid": "SM" + "e" * 32, "From": "+14155550129", "To": "+15017122661", "Body": "STOP"})
    assert rows.get().reason == SuppressionReason.UNSUBSCRIBED
    assert client.delete("/api/v1/suppressions/sms/+14155550129", **headers).status_code == 409
