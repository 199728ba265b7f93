"""SMS deliveries, their attempts and the simulator's ledger in the admin (read-only)."""

from django.contrib import admin

from delivery.admin import DeliveryAttemptInline, DeliveryRecordAdmin, SimulatedSendAdmin
from sms_service.models import SmsDelivery, SmsDeliveryAttempt, SmsSimulatedSend


class SmsDeliveryAttemptInline(DeliveryAttemptInline):
    model = SmsDeliveryAttempt


@admin.register(SmsDelivery)
class SmsDeliveryAdmin(DeliveryRecordAdmin):
    inlines = (SmsDeliveryAttemptInline,)


admin.site.register(SmsSimulatedSend, SimulatedSendAdmin)
