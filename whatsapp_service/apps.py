from django.apps import AppConfig


class WhatsAppServiceConfig(AppConfig):
    name = "whatsapp_service"
    verbose_name = "WhatsApp delivery"
