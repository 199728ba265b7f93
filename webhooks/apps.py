from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Status webhooks"

    def ready(self) -> None:
        from messaging.consumption.registry import consumer_register
        from webhooks.runner import WEBHOOKS_CONSUMER

        consumer_register(WEBHOOKS_CONSUMER)
