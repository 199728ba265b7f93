from django.apps import AppConfig


class LoggingServiceConfig(AppConfig):
    name = "logging_service"
    verbose_name = "Log indexing"
