"""What the delivery framework needs to know about the SMS channel."""

from delivery.recipients import validate_e164_phone_number
from delivery.registry import ChannelSpec
from delivery.segments import message_segments
from messaging.channels import Channel
from sms_service.models import SmsDelivery, SmsDeliveryAttempt, SmsProviderPace, SmsSimulatedSend, SmsSuppression

SMS_CHANNEL = ChannelSpec(
    channel=Channel.SMS,
    record_model=SmsDelivery,
    attempt_model=SmsDeliveryAttempt,
    ledger_model=SmsSimulatedSend,
    suppression_model=SmsSuppression,
    pace_model=SmsProviderPace,
    validate_recipient=validate_e164_phone_number,
    # Twilio's rate (and <CHANNEL>_RATE_LIMIT) counts segments, not messages.
    rate_cost=lambda envelope: message_segments(envelope.body),
)
