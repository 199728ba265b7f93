"""WhatsApp deliveries, their attempts and the simulator's ledger in the admin (read-only)."""

from django.contrib import admin

from delivery.admin import DeliveryAttemptInline, DeliveryRecordAdmin, SimulatedSendAdmin
from whatsapp_service.models import WhatsAppDelivery, WhatsAppDeliveryAttempt, WhatsAppSimulatedSend


class WhatsAppDeliveryAttemptInline(DeliveryAttemptInline):
    model = WhatsAppDeliveryAttempt


@admin.register(WhatsAppDelivery)
class WhatsAppDeliveryAdmin(DeliveryRecordAdmin):
    inlines = (WhatsAppDeliveryAttemptInline,)


admin.site.register(WhatsAppSimulatedSend, SimulatedSendAdmin)
