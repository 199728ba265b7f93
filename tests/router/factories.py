"""Factories for router tests: API keys (with their raw key) and valid message requests per channel."""

import factory
from rest_framework_api_key.models import APIKey


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """An APIKey row; the raw key (shown once in real life) is kept on `.raw_key` for the test."""

    name = factory.Sequence(lambda n: f"client-{n}")

    class Meta:
        model = APIKey

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        api_key, raw_key = model_class.objects.create_key(**kwargs)
        api_key.raw_key = raw_key
        return api_key


class EmailRequestFactory(factory.DictFactory):
    channel = "email"
    to = factory.Sequence(lambda n: f"user{n}@example.com")
    subject = "Your order has shipped"
    body = factory.Sequence(lambda n: f"Hello, order #{n} is on its way.")
    metadata = factory.Dict({"orderId": "1042"})


class SmsRequestFactory(factory.DictFactory):
    channel = "sms"
    to = "+14155552671"
    body = factory.Sequence(lambda n: f"Your code is {n:06d}")


class WhatsAppRequestFactory(factory.DictFactory):
    channel = "whatsapp"
    to = "+447911123456"
    body = factory.Sequence(lambda n: f"Table booked, reference {n}.")
    metadata = factory.Dict({"bookingId": "B-77"})


REQUEST_FACTORIES = {"email": EmailRequestFactory, "sms": SmsRequestFactory, "whatsapp": WhatsAppRequestFactory}
