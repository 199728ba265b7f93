"""What the delivery framework needs to know about the Email channel."""

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

EMAIL_CHANNEL = ChannelSpec(
    channel=Channel.EMAIL,
    record_model=EmailDelivery,
    attempt_model=EmailDeliveryAttempt,
    ledger_model=EmailSimulatedSend,
    suppression_model=EmailSuppression,
    pace_model=EmailProviderPace,
    validate_recipient=validate_email_address,
)
