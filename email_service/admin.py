"""Email deliveries, their attempts and the simulator's ledger in the admin (read-only), and its suppression list."""

from delivery.admin import register_channel_admin
from email_service.models import EmailDelivery, EmailDeliveryAttempt, EmailSimulatedSend, EmailSuppression

register_channel_admin(
    record_model=EmailDelivery,
    attempt_model=EmailDeliveryAttempt,
    ledger_model=EmailSimulatedSend,
    suppression_model=EmailSuppression,
)
