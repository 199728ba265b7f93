"""Email deliveries, their attempts and the simulator's ledger in the admin (read-only)."""

from django.contrib import admin

from delivery.admin import DeliveryAttemptInline, DeliveryRecordAdmin, SimulatedSendAdmin
from email_service.models import EmailDelivery, EmailDeliveryAttempt, EmailSimulatedSend


class EmailDeliveryAttemptInline(DeliveryAttemptInline):
    model = EmailDeliveryAttempt


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(DeliveryRecordAdmin):
    inlines = (EmailDeliveryAttemptInline,)


admin.site.register(EmailSimulatedSend, SimulatedSendAdmin)
