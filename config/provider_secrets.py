"""Which providers in use post webhooks that need a secret of ours: one answer for the production
settings (which refuse to start without the secret) and the API's start-up warning
(router.provider_webhooks). Plain functions of setting values: settings modules call them before
Django is set up."""

from __future__ import annotations

from collections.abc import Iterable

ANYMAIL_BACKENDS = "anymail.backends."
# anymail's own test backend sends nothing, so no ESP will ever post to us about it.
ANYMAIL_TEST_BACKEND = "anymail.backends.test."
TWILIO = "twilio"


def esp_in_use(email_delivery_backend: str) -> bool:
    """Email goes through an ESP with django-anymail: its receipts come to the tracking webhooks."""
    return email_delivery_backend.startswith(ANYMAIL_BACKENDS) and not email_delivery_backend.startswith(
        ANYMAIL_TEST_BACKEND
    )


def twilio_in_use(provider_lists: Iterable[str]) -> bool:
    """SMS or WhatsApp goes through Twilio (first or as a failover): its receipts and replies come to
    the Twilio webhooks. `provider_lists`: SMS_PROVIDER and WHATSAPP_PROVIDER as written (names
    separated by commas); Twilio is named `twilio`, or its provider class by a dotted path
    (sms_service.providers.TwilioSmsProvider, …)."""
    return any(
        item == TWILIO or item.rpartition(".")[2].startswith("Twilio")
        for raw in provider_lists
        for item in (part.strip() for part in raw.split(","))
    )
