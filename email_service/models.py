"""Email delivery records, stored in the `email` database."""

from delivery.models import DeliveryRecord


class EmailDelivery(DeliveryRecord):
    class Meta(DeliveryRecord.Meta):
        verbose_name = "Email delivery"
