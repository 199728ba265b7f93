import uuid
from collections.abc import Collection

from django.apps import AppConfig

from webhooks.owners import message_owners_register


class RouterConfig(AppConfig):
    name = "router"
    verbose_name = "Task router (API)"

    def ready(self) -> None:
        # OpenAPI extensions; key-cache signals; the provider webhook secrets' system check.
        from router import authentication, esp_receipts, provider_webhooks, schema  # noqa: F401

        esp_receipts.connect()
        message_owners_register(_message_clients)


def _message_clients(message_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    from router.models import Message

    return dict(Message.objects.filter(pk__in=message_ids).values_list("id", "client"))
