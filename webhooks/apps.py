from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Status webhooks"

    def ready(self) -> None:
        from messaging.consumption.registry import register_consumer
        from webhooks.runner import run_webhooks_worker

        register_consumer("webhooks", "deliver signed status webhooks to clients' endpoints", run_webhooks_worker)
