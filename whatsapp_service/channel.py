"""What the delivery framework needs to know about the WhatsApp channel."""

from delivery.provider_lists import named_providers_setting
from delivery.recipients import validate_e164_phone_number
from delivery.registry import ChannelSpec
from delivery.segments import message_segments
from messaging.channels import Channel
from whatsapp_service.models import (
    WhatsAppDelivery,
    WhatsAppDeliveryAttempt,
    WhatsAppProviderPace,
    WhatsAppSimulatedSend,
    WhatsAppSuppression,
)

# The providers WHATSAPP_PROVIDER names (separated by commas, in order; any other is a dotted path to a
# delivery.providers.Provider). With more than one, the channel fails over (delivery.failover).
WHATSAPP_PROVIDER_NAMES = {
    "simulator": "whatsapp_service.providers.SimulatedWhatsAppProvider",
    "twilio": "whatsapp_service.providers.TwilioWhatsAppProvider",
}

WHATSAPP_CHANNEL = ChannelSpec(
    channel=Channel.WHATSAPP,
    record_model=WhatsAppDelivery,
    attempt_model=WhatsAppDeliveryAttempt,
    ledger_model=WhatsAppSimulatedSend,
    suppression_model=WhatsAppSuppression,
    pace_model=WhatsAppProviderPace,
    validate_recipient=validate_e164_phone_number,
    provider_choices=named_providers_setting("WHATSAPP_PROVIDER", WHATSAPP_PROVIDER_NAMES),
    # Twilio's rate (and <CHANNEL>_RATE_LIMIT) counts segments, not messages.
    rate_cost=lambda envelope: message_segments(envelope.body),
)
