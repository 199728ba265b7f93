"""SMS deliveries, their attempts and the simulator's ledger in the admin (read-only), and its suppression list."""

from delivery.admin import register_channel_admin
from sms_service.models import SmsDelivery, SmsDeliveryAttempt, SmsSimulatedSend, SmsSuppression

register_channel_admin(
    record_model=SmsDelivery,
    attempt_model=SmsDeliveryAttempt,
    ledger_model=SmsSimulatedSend,
    suppression_model=SmsSuppression,
)
