from django.apps import AppConfig


class EmailServiceConfig(AppConfig):
    name = "email_service"
    verbose_name = "Email delivery"

    def ready(self) -> None:
        from delivery.registry import register
        from email_service.channel import EMAIL_CHANNEL

        register(EMAIL_CHANNEL)
