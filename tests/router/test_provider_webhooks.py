"""Provider webhooks are closed until their secret is configured: anymail's tracking webhooks without
ANYMAIL_WEBHOOK_SECRET and Twilio's without TWILIO_AUTH_TOKEN answer 404 like a path that does not
exist, change nothing, and a provider in use without its secret is warned about at start-up."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks

from delivery.models import DeliveryStatus
from delivery.registry import get_channel
from messaging.channels import Channel
from sms_service.models import SmsSuppression
from tests.delivery.support import CHANNEL_DBS
from tests.factories import EmailDeliveryFactory, SmsDeliveryFactory
from tests.peers.twilio_webhooks import post_signed

ROOT = Path(__file__).resolve().parents[2]
ANYMAIL_URL = "/api/v1/providers/anymail/postmark/tracking/"
POSTMARK_BACKEND = "anymail.backends.postmark.EmailBackend"
TWILIO_BACKEND = "sms_service.providers.TwilioSmsProvider"
SIMULATED_EMAIL = "email_service.backends.SimulatedEmailBackend"


def _hard_bounce(message_id: str, email: str) -> dict:
    return {
        "RecordType": "Bounce",
        "MessageID": message_id,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Email": email,
        "BouncedAt": "2026-11-28T10:00:00Z",
        "Description": "made up",
        "Metadata": {},
    }


def _basic(secret: str) -> str:
    return "Basic " + base64.b64encode(secret.encode()).decode()


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_a_made_up_bounce_without_a_secret_configured_is_a_404_and_changes_nothing(client, settings):
    """The attack of issue 26: a forged Postmark HardBounce, no credentials, no secret configured."""
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": None}
    record = EmailDeliveryFactory(status=DeliveryStatus.SENT, provider_message_id="pm-9", recipient="x@example.com")
    payload = _hard_bounce("pm-9", "x@example.com")

    for extra in ({}, {"HTTP_AUTHORIZATION": _basic("any:thing")}):
        response = client.post(ANYMAIL_URL, payload, content_type="application/json", **extra)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}  # as a path that does not exist
    # Every anymail route, its inbound ones too, and other ESPs' tracking routes.
    for path in ("sendgrid/tracking/", "mailgun/inbound/", "postmark/inbound/"):
        assert client.post(f"/api/v1/providers/anymail/{path}", {}, content_type="application/json").status_code == 404

    record.refresh_from_db()
    assert record.status == DeliveryStatus.SENT
    spec = get_channel(Channel.EMAIL)
    assert not spec.suppression_model.objects.using(spec.database).exists()


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_with_the_secret_set_only_the_right_credentials_are_taken(client, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "postmark:s3cret"}
    record = EmailDeliveryFactory(status=DeliveryStatus.SENT, provider_message_id="pm-8", recipient="y@example.com")
    payload = _hard_bounce("pm-8", "y@example.com")
    for extra in ({}, {"HTTP_AUTHORIZATION": _basic("postmark:wrong")}):
        assert client.post(ANYMAIL_URL, payload, content_type="application/json", **extra).status_code == 400
    record.refresh_from_db()
    assert record.status == DeliveryStatus.SENT
    right = {"HTTP_AUTHORIZATION": _basic("postmark:s3cret")}
    assert client.post(ANYMAIL_URL, payload, content_type="application/json", **right).status_code == 200
    record.refresh_from_db()
    assert record.status == DeliveryStatus.BOUNCED


@pytest.mark.django_db(databases=CHANNEL_DBS)
@pytest.mark.parametrize("path", ["/api/v1/providers/twilio/status", "/api/v1/providers/twilio/inbound"])
def test_twilio_webhooks_without_an_auth_token_are_a_404_and_change_nothing(client, settings, path):
    settings.TWILIO_AUTH_TOKEN = ""
    record = SmsDeliveryFactory(status=DeliveryStatus.SENT, provider_message_id="SM" + "c" * 32)
    params = {
        "MessageSid": record.provider_message_id,
        "MessageStatus": "undelivered",
        "From": "+14155550100",
        "To": record.recipient,
        "Body": "STOP",
    }
    # Signed with an empty token, or with a guessed one: neither reaches the view.
    for token in ("", "guess"):
        response = post_signed(client, path, params, token=token)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}
    record.refresh_from_db()
    assert record.status == DeliveryStatus.SENT
    assert not SmsSuppression.objects.using("sms").exists()


@pytest.mark.parametrize(
    ("overrides", "warned"),
    [
        ({"EMAIL_DELIVERY_BACKEND": POSTMARK_BACKEND}, ["router.W001"]),
        ({"SMS_PROVIDER": TWILIO_BACKEND}, ["router.W002"]),
        ({"EMAIL_DELIVERY_BACKEND": POSTMARK_BACKEND, "ANYMAIL_WEBHOOK_SECRET": "u:p"}, []),
        ({"SMS_PROVIDER": TWILIO_BACKEND, "TWILIO_AUTH_TOKEN": "t"}, []),
        ({"SMS_PROVIDER": "simulator, twilio"}, ["router.W002"]),  # Twilio as the failover
        ({}, []),  # the simulators: no provider posts to these webhooks
    ],
    ids=["esp-no-secret", "twilio-no-token", "esp-with-secret", "twilio-with-token", "twilio-second", "simulators"],
)
def test_a_provider_in_use_without_its_webhook_secret_is_a_system_check_warning(settings, overrides, warned):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": overrides.get("ANYMAIL_WEBHOOK_SECRET")}
    settings.TWILIO_AUTH_TOKEN = overrides.get("TWILIO_AUTH_TOKEN", "")
    settings.EMAIL_DELIVERY_BACKEND = overrides.get("EMAIL_DELIVERY_BACKEND", SIMULATED_EMAIL)
    settings.SMS_PROVIDER = overrides.get("SMS_PROVIDER", "simulator")
    settings.WHATSAPP_PROVIDER = "simulator"
    messages = checks.run_checks(tags=["provider_webhooks"])
    assert [message.id for message in messages] == warned
    assert all(message.level == checks.WARNING for message in messages)


def test_the_api_process_logs_the_warning_when_it_starts():
    """gunicorn runs no system checks: config.wsgi logs these warnings itself."""
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("ANYMAIL", "TWILIO"))},
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "EMAIL_DELIVERY_BACKEND": POSTMARK_BACKEND,
        "SMS_PROVIDER": "twilio",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import config.wsgi"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" in result.stderr
    assert "ANYMAIL_WEBHOOK_SECRET" in result.stderr and "TWILIO_AUTH_TOKEN" in result.stderr
