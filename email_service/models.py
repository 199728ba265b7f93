"""Email delivery records, their attempts and the simulator's ledger, stored in the `email` database."""

from django.db import models

from delivery.models import DeliveryAttempt, DeliveryRecord, ProviderPace, SimulatedSend, Suppression


class EmailDelivery(DeliveryRecord):
    class Meta(DeliveryRecord.Meta):
        verbose_name = "Email delivery"
        verbose_name_plural = "Email deliveries"


class EmailDeliveryAttempt(DeliveryAttempt):
    delivery = models.ForeignKey(EmailDelivery, on_delete=models.CASCADE, related_name="attempts")

    class Meta(DeliveryAttempt.Meta):
        verbose_name = "Email delivery attempt"


class EmailSimulatedSend(SimulatedSend):
    class Meta(SimulatedSend.Meta):
        verbose_name = "Email simulated send"


class EmailSuppression(Suppression):
    class Meta(Suppression.Meta):
        verbose_name = "Email suppression"


class EmailProviderPace(ProviderPace):
    class Meta(ProviderPace.Meta):
        verbose_name = "Email provider rate bucket"
