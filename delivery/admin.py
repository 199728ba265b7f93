"""Admin building blocks for the channel apps: delivery records are read-only history, so the admin
lists, filters and searches them (message id, trace id, recipient) and shows attempts inline; the one
thing it changes is a message held as `unknown`, settled as `dlq resolve` settles it."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import AdminSite
from django.contrib.auth import get_permission_codename
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from delivery.dlq import Resolution, dlq_resolve_held
from delivery.registry import ChannelSpec, registered_channels
from messaging.errors import PublishError


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

    actions = ("settle_as_sent", "send_again")

    def has_settle_permission(self, request: HttpRequest) -> bool:
        # The model's change permission, held by the user: this admin itself changes nothing else.
        return bool(request.user.has_perm(f"{self.opts.app_label}.{get_permission_codename('change', self.opts)}"))

    @admin.action(description="Settle selected held (unknown) messages as sent", permissions=["settle"])
    def settle_as_sent(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._settle(request, queryset, Resolution.SENT)

    @admin.action(description="Send selected held (unknown) messages again", permissions=["settle"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._settle(request, queryset, Resolution.RESEND)

    def _settle(self, request: HttpRequest, queryset: QuerySet[Any], resolution: Resolution) -> None:
        selected = {record.message_id: record for record in queryset}
        try:
            settled = dlq_resolve_held(spec=self._spec(), resolution=resolution, message_ids=list(selected))
        except PublishError as error:
            self.message_user(request, f"Kafka did not take the message back: {error}", messages.ERROR)
            return
        for message_id in settled:
            self.log_change(request, selected[message_id], f"held as unknown, resolved: {resolution.value}")
        what = "resolved as sent" if resolution is Resolution.SENT else "sent again"
        self.message_user(request, f"{len(settled)} held message(s) {what}.", messages.SUCCESS)
        if passed_over := len(selected) - len(settled):
            note = f"{passed_over} selected message(s) were not held as unknown: left as they are."
            self.message_user(request, note, messages.WARNING)

    def _spec(self) -> ChannelSpec:
        return next(spec for spec in registered_channels() if spec.record_model is self.model)

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
