from django.apps import AppConfig


class RouterConfig(AppConfig):
    name = "router"
    verbose_name = "Task router (API)"

    def ready(self) -> None:
        from router import schema  # noqa: F401  (registers the OpenAPI extensions)
