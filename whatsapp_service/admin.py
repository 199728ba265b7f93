"""WhatsApp deliveries, their attempts and the simulator's ledger in the admin (read-only), and its suppression list."""

from delivery.admin import register_channel_admin
from whatsapp_service.models import (
    WhatsAppDelivery,
    WhatsAppDeliveryAttempt,
    WhatsAppSimulatedSend,
    WhatsAppSuppression,
)

register_channel_admin(
    record_model=WhatsAppDelivery,
    attempt_model=WhatsAppDeliveryAttempt,
    ledger_model=WhatsAppSimulatedSend,
    suppression_model=WhatsAppSuppression,
)
