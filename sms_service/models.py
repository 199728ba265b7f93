"""SMS delivery records, stored in the `sms` database."""

from delivery.models import DeliveryRecord


class SmsDelivery(DeliveryRecord):
    class Meta(DeliveryRecord.Meta):
        verbose_name = "SMS delivery"
