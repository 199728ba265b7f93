"""Which providers in use post webhooks that need a secret of ours: one answer for the production
settings (which refuse to start without the secret) and the API's start-up warning
(router.provider_webhooks). Plain functions of setting values: settings modules call them before
Django is set up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from delivery.provider_lists import ProviderChoice

ANYMAIL_BACKENDS = "anymail.backends."
# anymail's own test backend sends nothing, so no ESP will ever post to us about it.
ANYMAIL_TEST_BACKEND = "anymail.backends.test."
TWILIO_CHANNELS = ("sms", "whatsapp")


def esp_in_use(email_delivery_backend: str) -> bool:
    """Email goes through an ESP with django-anymail: its receipts come to the tracking webhooks."""
    return email_delivery_backend.startswith(ANYMAIL_BACKENDS) and not email_delivery_backend.startswith(
        ANYMAIL_TEST_BACKEND
    )


def twilio_in_use(
    delivery_providers: Mapping[str, Sequence[ProviderChoice]], provider_names: Mapping[str, Mapping[str, str]]
) -> bool:
    """SMS or WhatsApp goes through Twilio (first or as a failover): its receipts and replies come to
    the Twilio webhooks."""
    return any(
        choice.path == provider_names[channel]["twilio"]
        for channel in TWILIO_CHANNELS
        for choice in delivery_providers.get(channel, ())
    )
