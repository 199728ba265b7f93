"""Admin building blocks for the channel apps: delivery records are read-only history, so the admin
lists, filters and searches them (message id, trace id, recipient) and shows attempts inline."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin import AdminSite
from django.db.models import Model
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html


class ReadOnlyAdminMixin:
    """Records are written by the workers only; the admin is for looking."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeliveryAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Subclass with `model = <Channel>DeliveryAttempt`."""

    fields = ("number", "outcome", "started_at", "duration_ms", "error_type", "error_message", "provider_message_id")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False


class DeliveryRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Subclass with `inlines = [<the channel's DeliveryAttemptInline>]`."""

    list_display = ("message_id", "recipient", "status", "provider", "attempt_count", "created_at", "sent_at", "trace")
    # `status` lists every DeliveryStatus, `unknown` (held mid-send, see `manage.py dlq resolve`) among them.
    list_filter = ("status", "provider", "created_at", "sent_at")
    search_fields = ("=message_id", "=trace_id", "recipient")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)

    @admin.display(description="trace page")
    def trace(self, record: Any) -> str:
        return format_html('<a href="{}">trace</a>', reverse("message-trace", kwargs={"message_id": record.message_id}))

    readonly_fields = (
        "trace",
        "message_id",
        "trace_id",
        "recipient",
        "status",
        "attempt_count",
        "current_attempt",
        "claimed_at",
        "outcome_published",
        "last_error",
        "provider",
        "provider_message_id",
        "payload",
        "created_at",
        "updated_at",
        "sent_at",
    )


class SimulatedSendAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The simulator's call log: every call it received, and what it did with it."""

    list_display = ("idempotency_key", "outcome", "provider_message_id", "recipient", "attempt", "called_at")
    list_filter = ("outcome", "called_at")
    search_fields = ("=idempotency_key", "=trace_id", "=provider_message_id", "recipient")
    date_hierarchy = "called_at"
    readonly_fields = (
        "idempotency_key",
        "outcome",
        "provider_message_id",
        "error",
        "trace_id",
        "recipient",
        "subject",
        "body",
        "attempt",
        "called_at",
    )


class SuppressionAdmin(admin.ModelAdmin):
    """Operators add (`manual`) and remove suppressed recipients; removing one lets it be sent to again."""

    list_display = ["recipient", "reason", "created_at", "detail"]
    list_filter = ["reason"]
    search_fields = ["recipient"]
    readonly_fields = ["created_at"]


def register_channel_admin(
    *,
    record_model: type[Model],
    attempt_model: type[Model],
    ledger_model: type[Model],
    suppression_model: type[Model],
    site: AdminSite = admin.site,
) -> None:
    """Register one channel's delivery records (attempts inline) and simulator ledger, read-only, and
    its suppression list."""
    inline = type(f"{attempt_model.__name__}Inline", (DeliveryAttemptInline,), {"model": attempt_model})
    record_admin = type(f"{record_model.__name__}Admin", (DeliveryRecordAdmin,), {"inlines": (inline,)})
    site.register(record_model, record_admin)
    site.register(ledger_model, SimulatedSendAdmin)
    site.register(suppression_model, SuppressionAdmin)
