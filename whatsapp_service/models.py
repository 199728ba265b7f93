"""WhatsApp delivery records, stored in the `whatsapp` database."""

from delivery.models import DeliveryRecord


class WhatsAppDelivery(DeliveryRecord):
    class Meta(DeliveryRecord.Meta):
        verbose_name = "WhatsApp delivery"
