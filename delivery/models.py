"""Abstract delivery models shared by every channel app; each channel app makes them concrete in its
own database (DESIGN §3). No foreign keys cross databases: the message id is stored."""

from __future__ import annotations

from django.db import models


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (dead-lettered)"


class AttemptOutcome(models.TextChoices):
    SENT = "sent", "Sent"
    TRANSIENT_FAILURE = "transient_failure", "Transient failure (retried)"
    PERMANENT_FAILURE = "permanent_failure", "Permanent failure"
    EXHAUSTED = "exhausted", "Transient failure, retries exhausted"


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

    # Declared on the abstract base so the channels' models share a typed default manager.
    objects = models.Manager()

    class Meta:
        abstract = True
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.message_id} → {self.recipient} [{self.status}]"


class DeliveryAttempt(models.Model):
    """One row per provider call. The concrete model adds `delivery = ForeignKey(<its record>,
    related_name="attempts")`: a foreign key cannot point at an abstract model. Rows are only ever
    appended, so a replayed message shows its whole history (attempt numbers restart at 1)."""

    number = models.PositiveIntegerField(help_text="The envelope's attempt number.")
    outcome = models.CharField(max_length=24, choices=AttemptOutcome.choices)
    started_at = models.DateTimeField(db_index=True)
    duration_ms = models.FloatField()
    error_type = models.CharField(max_length=120, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    provider_message_id = models.CharField(max_length=255, blank=True, default="")

    objects = models.Manager()

    class Meta:
        abstract = True
        ordering = ("started_at", "id")

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.outcome}"


class SimulatedSend(models.Model):
    """The simulated provider's ledger: one row per send it really performed. Deliberately not
    unique on the idempotency key — the ledger is the provider's view, so a double send by the
    worker would show up here (and in `delivery_stats`) instead of being hidden by a constraint."""

    idempotency_key = models.CharField(max_length=64, db_index=True)
    provider_message_id = models.CharField(max_length=64, unique=True)
    trace_id = models.CharField(max_length=32, db_index=True)
    recipient = models.CharField(max_length=320)
    subject = models.TextField(blank=True, default="")
    body = models.TextField()
    attempt = models.PositiveIntegerField()
    sent_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = models.Manager()

    class Meta:
        abstract = True
        ordering = ("-sent_at",)

    def __str__(self) -> str:
        return f"{self.provider_message_id} ({self.idempotency_key}) → {self.recipient}"
