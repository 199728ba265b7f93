from django.apps import AppConfig


class LoggingServiceConfig(AppConfig):
    name = "logging_service"
    verbose_name = "Log indexing"

    def ready(self) -> None:
        from logging_service.indexer import run_log_indexer
        from messaging.consumption.registry import register_consumer

        register_consumer("logs", "index every logs.* topic into Elasticsearch", run_log_indexer)
