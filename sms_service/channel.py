"""What the delivery framework needs to know about the SMS channel."""

from delivery.provider_lists import named_providers_setting
from delivery.recipients import validate_e164_phone_number
from delivery.registry import ChannelSpec
from delivery.segments import message_segments
from messaging.channels import Channel
from sms_service.models import SmsDelivery, SmsDeliveryAttempt, SmsProviderPace, SmsSimulatedSend, SmsSuppression

# The providers SMS_PROVIDER names (separated by commas, in order; any other is a dotted path to a
# delivery.providers.Provider). With more than one, the channel fails over (delivery.failover).
SMS_PROVIDER_NAMES = {
    "simulator": "sms_service.providers.SimulatedSmsProvider",
    "twilio": "sms_service.providers.TwilioSmsProvider",
}

SMS_CHANNEL = ChannelSpec(
    channel=Channel.SMS,
    record_model=SmsDelivery,
    attempt_model=SmsDeliveryAttempt,
    ledger_model=SmsSimulatedSend,
    suppression_model=SmsSuppression,
    pace_model=SmsProviderPace,
    validate_recipient=validate_e164_phone_number,
    provider_choices=named_providers_setting("SMS_PROVIDER", SMS_PROVIDER_NAMES),
    # Twilio's rate (and <CHANNEL>_RATE_LIMIT) counts segments, not messages.
    rate_cost=lambda envelope: message_segments(envelope.body),
)
