"""Read-only admin views of accepted messages and the outbox, for operators."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from router.models import Message, OutboxEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "channel", "recipient", "client", "created_at"]
    list_filter = ["channel"]
    search_fields = ["=id", "=trace_id", "recipient"]


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ReadOnlyAdmin):
    list_display = ["key", "topic", "created_at", "published_at", "failed_at", "attempts", "last_error"]
    list_filter = [("published_at", admin.EmptyFieldListFilter), ("failed_at", admin.EmptyFieldListFilter), "topic"]
    search_fields = ["=key"]
    exclude = ["value"]  # holds the message body
