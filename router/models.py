"""The router's own records (database `default`): accepted messages, their outbox and idempotency keys.

The message row and its outbox row are written in one transaction; a 202 is only sent after it
commits, so an accepted message can never be lost even when Kafka is down (docs/api.md, "What a 202 promises").
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models

from messaging.channels import Channel
from messaging.priorities import Priority

CHANNEL_CHOICES = [(channel.value, channel.name.title()) for channel in Channel]
PRIORITY_CHOICES = [(priority.value, priority.name.title()) for priority in Priority]


class Message(models.Model):
    """One accepted message. The body lives only in the outbox envelope: the router keeps no copy."""

    id = models.UUIDField(primary_key=True, editable=False)
    trace_id = models.CharField(max_length=32, db_index=True)
    channel = models.CharField(max_length=16, choices=CHANNEL_CHOICES)
    recipient = models.CharField(max_length=320)
    metadata = models.JSONField(default=dict, blank=True)
    client = models.CharField(max_length=200, db_index=True, help_text="Who sent it: `key:<prefix>` or `user:<id>`.")
    created_at = models.DateTimeField(db_index=True)
    send_at = models.DateTimeField(null=True, blank=True, help_text="Scheduled: not handed to its channel before.")
    canceled_at = models.DateTimeField(null=True, blank=True)
    template = models.CharField(max_length=100, blank=True, default="", help_text="Rendered from this template.")
    template_version = models.PositiveIntegerField(null=True, blank=True)
    priority = models.CharField(max_length=8, choices=PRIORITY_CHOICES, default=Priority.NORMAL.value)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Not handed to a provider after this (given, or the channel's default TTL)."
    )
    segments = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="SMS/WhatsApp: segments the body takes (the router keeps no body)."
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The listing: one client's messages, newest first (cursor pages on created_at, id).
            models.Index(fields=["client", "-created_at", "-id"], name="router_message_listing"),
            models.Index(fields=["recipient", "-created_at"], name="router_message_recipient"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} → {self.recipient} ({self.id})"


class OutboxState(StrEnum):
    """An outbox entry's state (the comms_outbox_entries gauge's label): not a message's status."""

    PENDING = "pending"
    PUBLISHED = "published"
    FAILED = "failed"  # Kafka refused the record for good


class OutboxEntry(models.Model):
    """The Kafka record of a message, exactly as it will be produced; `published_at` is set on ack."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="outbox_entry")
    topic = models.CharField(max_length=255)
    key = models.CharField(max_length=64)
    value = models.BinaryField()
    headers = models.JSONField(help_text="[[name, value], ...] as text.")
    created_at = models.DateTimeField()
    due_at = models.DateTimeField(
        help_text="When the relay may publish it: a scheduled message's sendAt, else a grace period after "
        "accept (the API publishes it itself meanwhile)."
    )
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Failed publish attempts so far.")
    last_error = models.TextField(blank=True, default="")
    failed_at = models.DateTimeField(
        null=True, blank=True, help_text="Kafka refused the record for good (too large, …): never tried again."
    )

    class Meta:
        verbose_name_plural = "outbox entries"
        indexes = [
            # The relay's scan: unpublished rows, earliest due first.
            models.Index(
                fields=["due_at"],
                name="router_outbox_pending",
                condition=models.Q(published_at__isnull=True, failed_at__isnull=True),
            )
        ]

    @property
    def state(self) -> OutboxState:
        if self.published_at:
            return OutboxState.PUBLISHED
        return OutboxState.FAILED if self.failed_at else OutboxState.PENDING

    def __str__(self) -> str:
        return f"{self.topic} {self.key} ({self.state})"


class IdempotencyRecord(models.Model):
    """Remembers an `Idempotency-Key` per client; the unique constraint is what stops concurrent twins.
    A single request's record points at its message; a batch's keeps the whole response."""

    client = models.CharField(max_length=200)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the canonical request.")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+", null=True, blank=True)
    response = models.JSONField(null=True, blank=True, help_text="A batch's response body, as first answered.")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="router_idempotency_unique_key")]

    def __str__(self) -> str:
        return f"{self.client} {self.key}"


class Template(models.Model):
    """Message content with variables, per client; rendered once at accept (router.templates)."""

    client = models.CharField(max_length=200, help_text="Whose it is: `key:<prefix>` or `user:<id>`.")
    name = models.CharField(max_length=100)
    channel = models.CharField(max_length=16, choices=CHANNEL_CHOICES)
    subject = models.TextField(blank=True, default="", help_text="Email only.")
    body = models.TextField()
    html = models.TextField(blank=True, default="", help_text="Email only: the HTML alternative part.")
    version = models.PositiveIntegerField(default=1, help_text="Counts the changes; messages keep the one used.")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["client", "name"], name="router_template_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.channel})"


class ReadinessProbe(models.Model):
    """A single row `/readyz` rewrites to prove the router database accepts writes."""

    checked_at = models.DateTimeField()
