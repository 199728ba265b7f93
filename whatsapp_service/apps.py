from django.apps import AppConfig


class WhatsAppServiceConfig(AppConfig):
    name = "whatsapp_service"
    verbose_name = "WhatsApp delivery"

    def ready(self) -> None:
        from delivery.runner import channel_register
        from whatsapp_service.channel import WHATSAPP_CHANNEL

        channel_register(WHATSAPP_CHANNEL)
