"""Clients' webhook endpoints in the admin, per API key: where each posts, what it subscribes to,
how its last posts went, and whether the worker disabled it. Read-only but for one action, enabling
disabled endpoints: endpoints are made through the API, which checks the URL's address and hands the
client its signing secret (never shown here)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework_api_key.models import APIKey

from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_enable

KEY_CLIENT = "key:"


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = [
        "api_key",
        "url",
        "subscribed_events",
        "last_delivered_at",
        "last_error_at",
        "last_error",
        "is_disabled",
    ]
    list_filter = ["client", ("last_error_at", admin.EmptyFieldListFilter), ("disabled_at", admin.EmptyFieldListFilter)]
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
        "failing_since",
        "disabled_at",
        "disabled_reason",
    )
    readonly_fields = fields
    actions = ["enable"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_enable_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.change_webhookendpoint")

    @admin.action(description="Enable the selected endpoints (posts resume)", permissions=["enable"])
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        disabled = [endpoint for endpoint in queryset if endpoint.disabled]
        for endpoint in disabled:
            webhook_endpoint_enable(endpoint=endpoint)
        self.message_user(request, f"{len(disabled)} endpoint(s) enabled.", messages.SUCCESS)

    @admin.display(description="disabled", boolean=True, ordering="disabled_at")
    def is_disabled(self, endpoint: WebhookEndpoint) -> bool:
        return endpoint.disabled

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
