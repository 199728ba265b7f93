"""What the delivery framework needs to know about the Email channel, and its providers."""

from django.conf import settings

from delivery.provider_lists import ProviderChoice, email_providers
from delivery.recipients import validate_email_address
from delivery.registry import ChannelSpec
from email_service.models import (
    EmailDelivery,
    EmailDeliveryAttempt,
    EmailProviderPace,
    EmailSimulatedSend,
    EmailSuppression,
)
from messaging.channels import Channel

SIMULATED_EMAIL_BACKEND = "email_service.backends.SimulatedEmailBackend"


def email_provider_choices() -> list[ProviderChoice]:
    """One provider per EMAIL_URL (SMTP servers, in order: failover), else one through
    EMAIL_DELIVERY_BACKEND (the simulator by default, or an ESP's anymail backend); each built with
    EMAIL_PROVIDER's class."""
    choices = email_providers(settings.EMAIL_URL, provider_path=settings.EMAIL_PROVIDER)
    if choices:
        return choices
    backend = settings.EMAIL_DELIVERY_BACKEND
    name = "simulator" if backend == SIMULATED_EMAIL_BACKEND else backend
    return [ProviderChoice(name=name, path=settings.EMAIL_PROVIDER)]


EMAIL_CHANNEL = ChannelSpec(
    channel=Channel.EMAIL,
    record_model=EmailDelivery,
    attempt_model=EmailDeliveryAttempt,
    ledger_model=EmailSimulatedSend,
    suppression_model=EmailSuppression,
    pace_model=EmailProviderPace,
    validate_recipient=validate_email_address,
    provider_choices=email_provider_choices,
)
