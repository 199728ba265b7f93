"""Read-only admin views of accepted messages and the outbox, for operators."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from router.models import Message, OutboxEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def trace_page_link(message_id: object) -> str:
    url = reverse("message-trace", kwargs={"message_id": message_id})
    return format_html('<a href="{}">trace</a>', url)


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "channel", "recipient", "client", "created_at", "trace"]
    readonly_fields = ["trace"]

    @admin.display(description="trace page")
    def trace(self, message: Message) -> str:
        return trace_page_link(message.id)

    list_filter = ["channel"]
    search_fields = ["=id", "=trace_id", "recipient"]


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ReadOnlyAdmin):
    list_display = ["key", "topic", "created_at", "published_at", "failed_at", "attempts", "last_error"]
    list_filter = [("published_at", admin.EmptyFieldListFilter), ("failed_at", admin.EmptyFieldListFilter), "topic"]
    search_fields = ["=key"]
    exclude = ["value"]  # holds the message body
