"""Clients' webhook endpoints in the admin, per API key: where each posts, what it subscribes to,
and how its last posts went. Read-only: endpoints are made through the API, which checks the URL's
address and hands the client its signing secret (never shown here)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from rest_framework_api_key.models import APIKey

from webhooks.models import WebhookEndpoint

KEY_CLIENT = "key:"


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    # A `disabled` column (and list filter) belongs after `last_error` once endpoints can be disabled.
    list_display = ["api_key", "url", "subscribed_events", "last_delivered_at", "last_error_at", "last_error"]
    list_filter = ["client", ("last_error_at", admin.EmptyFieldListFilter)]
    search_fields = ["url", "=client"]
    ordering = ["client", "-created_at"]
    fields = (
        "id",
        "api_key",
        "url",
        "subscribed_events",
        "created_at",
        "last_delivered_at",
        "last_error_at",
        "last_error",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="API key", ordering="client")
    def api_key(self, endpoint: WebhookEndpoint) -> str:
        """The key's name beside its prefix (`key:<prefix>`), or the client id as stored (a staff user)."""
        if not endpoint.client.startswith(KEY_CLIENT):
            return endpoint.client
        prefix = endpoint.client.removeprefix(KEY_CLIENT)
        key = APIKey.objects.filter(prefix=prefix).only("name").first()
        return f"{key.name} ({prefix})" if key is not None else f"{prefix} (key revoked or deleted)"

    @admin.display(description="events")
    def subscribed_events(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.events)
