from django.apps import AppConfig


class RouterConfig(AppConfig):
    name = "router"
    verbose_name = "Task router (API)"

    def ready(self) -> None:
        # OpenAPI extensions; key-cache signals; the provider webhook secrets' system check.
        from router import authentication, esp_receipts, provider_webhooks, schema  # noqa: F401

        esp_receipts.connect()
