from django.apps import AppConfig


class WhatsAppServiceConfig(AppConfig):
    name = "whatsapp_service"
    verbose_name = "WhatsApp delivery"

    def ready(self) -> None:
        from delivery.registry import register
        from whatsapp_service.channel import WHATSAPP_CHANNEL

        register(WHATSAPP_CHANNEL)
