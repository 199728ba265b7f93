from django.apps import AppConfig


class SmsServiceConfig(AppConfig):
    name = "sms_service"
    verbose_name = "SMS delivery"
