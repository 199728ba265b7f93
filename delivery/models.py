"""Abstract delivery records shared by every channel app; each channel app makes them concrete
in its own database (DESIGN §3). No foreign keys cross databases: the message id is stored."""

from __future__ import annotations

from django.db import models


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (dead-lettered)"


class DeliveryRecord(models.Model):
    """One per message id per channel; its status decides whether a redelivered record is sent."""

    message_id = models.UUIDField(unique=True)
    trace_id = models.CharField(max_length=32, db_index=True)
    recipient = models.CharField(max_length=320, db_index=True)
    payload = models.JSONField(help_text="The envelope as received.")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, db_index=True
    )
    attempt_count = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    provider_message_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.message_id} → {self.recipient} [{self.status}]"
