"""WhatsApp delivery records, their attempts and the simulator's ledger, stored in the `whatsapp` database."""

from django.db import models

from delivery.models import DeliveryAttempt, DeliveryRecord, ProviderPace, SimulatedSend, Suppression


class WhatsAppDelivery(DeliveryRecord):
    class Meta(DeliveryRecord.Meta):
        verbose_name = "WhatsApp delivery"
        verbose_name_plural = "WhatsApp deliveries"


class WhatsAppDeliveryAttempt(DeliveryAttempt):
    delivery = models.ForeignKey(WhatsAppDelivery, on_delete=models.CASCADE, related_name="attempts")

    class Meta(DeliveryAttempt.Meta):
        verbose_name = "WhatsApp delivery attempt"


class WhatsAppSimulatedSend(SimulatedSend):
    class Meta(SimulatedSend.Meta):
        verbose_name = "WhatsApp simulated send"


class WhatsAppSuppression(Suppression):
    class Meta(Suppression.Meta):
        verbose_name = "WhatsApp suppression"


class WhatsAppProviderPace(ProviderPace):
    class Meta(ProviderPace.Meta):
        verbose_name = "WhatsApp provider rate bucket"
