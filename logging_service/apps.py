from django.apps import AppConfig


class LoggingServiceConfig(AppConfig):
    name = "logging_service"
    verbose_name = "Log indexing"

    def ready(self) -> None:
        from logging_service.indexer import LOGS_CONSUMER
        from messaging.consumption.registry import consumer_register

        consumer_register(LOGS_CONSUMER)
