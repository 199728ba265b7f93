"""SMS delivery records, their attempts and the simulator's ledger, stored in the `sms` database."""

from django.db import models

from delivery.models import DeliveryAttempt, DeliveryRecord, ProviderPace, SimulatedSend, Suppression


class SmsDelivery(DeliveryRecord):
    class Meta(DeliveryRecord.Meta):
        verbose_name = "SMS delivery"
        verbose_name_plural = "SMS deliveries"


class SmsDeliveryAttempt(DeliveryAttempt):
    delivery = models.ForeignKey(SmsDelivery, on_delete=models.CASCADE, related_name="attempts")

    class Meta(DeliveryAttempt.Meta):
        verbose_name = "SMS delivery attempt"


class SmsSimulatedSend(SimulatedSend):
    class Meta(SimulatedSend.Meta):
        verbose_name = "SMS simulated send"


class SmsSuppression(Suppression):
    class Meta(Suppression.Meta):
        verbose_name = "SMS suppression"


class SmsProviderPace(ProviderPace):
    class Meta(ProviderPace.Meta):
        verbose_name = "SMS provider rate bucket"
