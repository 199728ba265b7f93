from django.apps import AppConfig


class RouterConfig(AppConfig):
    name = "router"
    verbose_name = "Task router (API)"

    def ready(self) -> None:
        from router import authentication, esp_receipts, schema  # noqa: F401  (OpenAPI extensions; key-cache signals)

        esp_receipts.connect()
