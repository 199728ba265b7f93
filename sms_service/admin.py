"""SMS deliveries, their attempts and the simulator's ledger in the admin (read-only)."""

from delivery.admin import register_channel_admin
from sms_service.models import SmsDelivery, SmsDeliveryAttempt, SmsSimulatedSend

register_channel_admin(record_model=SmsDelivery, attempt_model=SmsDeliveryAttempt, ledger_model=SmsSimulatedSend)
