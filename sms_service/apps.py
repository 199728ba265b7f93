from django.apps import AppConfig


class SmsServiceConfig(AppConfig):
    name = "sms_service"
    verbose_name = "SMS delivery"

    def ready(self) -> None:
        from delivery.runner import channel_register
        from sms_service.channel import SMS_CHANNEL

        channel_register(SMS_CHANNEL)
