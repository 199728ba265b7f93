"""What the delivery framework needs to know about the WhatsApp channel."""

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

WHATSAPP_CHANNEL = ChannelSpec(
    channel=Channel.WHATSAPP,
    record_model=WhatsAppDelivery,
    attempt_model=WhatsAppDeliveryAttempt,
    ledger_model=WhatsAppSimulatedSend,
    suppression_model=WhatsAppSuppression,
    pace_model=WhatsAppProviderPace,
    validate_recipient=validate_e164_phone_number,
    # Twilio's rate (and <CHANNEL>_RATE_LIMIT) counts segments, not messages.
    rate_cost=lambda envelope: message_segments(envelope.body),
)
