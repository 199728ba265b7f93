from django.apps import AppConfig


class EmailServiceConfig(AppConfig):
    name = "email_service"
    verbose_name = "Email delivery"
