"""What the delivery framework needs to know about the SMS channel."""

from delivery.recipients import validate_e164_phone_number
from delivery.registry import ChannelSpec
from messaging.channels import Channel
from sms_service.models import SmsDelivery, SmsDeliveryAttempt, SmsSimulatedSend, SmsSuppression

SMS_CHANNEL = ChannelSpec(
    channel=Channel.SMS,
    record_model=SmsDelivery,
    attempt_model=SmsDeliveryAttempt,
    ledger_model=SmsSimulatedSend,
    suppression_model=SmsSuppression,
    validate_recipient=validate_e164_phone_number,
)
