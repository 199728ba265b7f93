"""WhatsApp deliveries, their attempts and the simulator's ledger in the admin (read-only)."""

from delivery.admin import register_channel_admin
from whatsapp_service.models import WhatsAppDelivery, WhatsAppDeliveryAttempt, WhatsAppSimulatedSend

register_channel_admin(
    record_model=WhatsAppDelivery, attempt_model=WhatsAppDeliveryAttempt, ledger_model=WhatsAppSimulatedSend
)
