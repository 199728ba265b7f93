"""Read-only admin views of accepted messages and the outbox, for operators."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from router.accept.rendering import template_syntax_errors
from router.models import Message, OutboxEntry, Template


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
    list_display = [
        "id",
        "channel",
        "priority",
        "recipient",
        "client",
        "created_at",
        "send_at",
        "expires_at",
        "canceled_at",
        "template",
        "trace",
    ]
    readonly_fields = ["trace"]

    @admin.display(description="trace page")
    def trace(self, message: Message) -> str:
        return trace_page_link(message.id)

    list_filter = [
        "channel",
        "priority",
        ("send_at", admin.EmptyFieldListFilter),
        ("canceled_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["=id", "=trace_id", "recipient", "=template"]


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ReadOnlyAdmin):
    list_display = ["key", "topic", "created_at", "published_at", "failed_at", "attempts", "last_error"]
    list_filter = [("published_at", admin.EmptyFieldListFilter), ("failed_at", admin.EmptyFieldListFilter), "topic"]
    search_fields = ["=key"]
    exclude = ["value"]  # holds the message body


class TemplateForm(forms.ModelForm):
    class Meta:
        model = Template
        fields = ["client", "name", "channel", "subject", "body", "html"]

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        parts = {name: str(cleaned[name]) for name in ("subject", "body", "html") if cleaned.get(name)}
        for name, messages in template_syntax_errors(parts).items():
            self.add_error(name, messages)
        return cleaned


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    """Operators may fix a client's template; each save is a new version, as through the API."""

    form = TemplateForm
    list_display = ["name", "channel", "client", "version", "updated_at"]
    list_filter = ["channel"]
    search_fields = ["name", "=client"]
    readonly_fields = ["version", "created_at", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Template, form: forms.ModelForm, change: bool) -> None:
        obj.updated_at = timezone.now()
        if change:
            obj.version += 1
        else:
            obj.created_at = obj.updated_at
        super().save_model(request, obj, form, change)
