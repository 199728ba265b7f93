"""factory-boy factories shared by the tests."""

import uuid

import factory

from email_service.models import EmailDelivery
from messaging.tracing import TraceContext
from sms_service.models import SmsDelivery
from whatsapp_service.models import WhatsAppDelivery


class DeliveryRecordFactory(factory.django.DjangoModelFactory):
    message_id = factory.LazyFunction(uuid.uuid4)
    trace_id = factory.LazyFunction(lambda: TraceContext.new().trace_id)
    payload = factory.LazyAttribute(lambda record: {"id": str(record.message_id), "to": record.recipient})

    class Meta:
        abstract = True


class EmailDeliveryFactory(DeliveryRecordFactory):
    recipient = factory.Sequence(lambda n: f"user{n}@example.com")

    class Meta:
        model = EmailDelivery


class SmsDeliveryFactory(DeliveryRecordFactory):
    recipient = factory.Sequence(lambda n: f"+1415555{n:04d}")

    class Meta:
        model = SmsDelivery


class WhatsAppDeliveryFactory(DeliveryRecordFactory):
    recipient = factory.Sequence(lambda n: f"+4420794{n:05d}")

    class Meta:
        model = WhatsAppDelivery
