from django.apps import AppConfig


class EmailServiceConfig(AppConfig):
    name = "email_service"
    verbose_name = "Email delivery"

    def ready(self) -> None:
        from delivery.runner import channel_register
        from email_service.channel import EMAIL_CHANNEL

        channel_register(EMAIL_CHANNEL)
