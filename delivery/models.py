"""Abstract delivery models shared by every channel app; each channel app makes them concrete in its
own database (docs/architecture.md). No foreign keys cross databases: the message id is stored."""

from __future__ import annotations

from django.db import models


class DeliveryStatus(models.TextChoices):
    """docs/architecture.md. `sending`: an attempt is claimed and its provider call under way (or the worker
    died during it); `unknown`: a worker died mid-send and ON_UNKNOWN_OUTCOME=hold keeps it for an
    operator (`manage.py dlq resolve`)."""

    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending (attempt claimed)"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Complained"
    FAILED = "failed", "Failed (dead-lettered)"
    SUPPRESSED = "suppressed", "Suppressed"
    CANCELED = "canceled", "Canceled"
    EXPIRED = "expired", "Expired (not handed to a provider by its expiresAt)"
    UNKNOWN = "unknown", "Unknown (worker died mid-send; held)"


class AttemptOutcome(models.TextChoices):
    SENT = "sent", "Sent"
    TRANSIENT_FAILURE = "transient_failure", "Transient failure (retried)"
    PERMANENT_FAILURE = "permanent_failure", "Permanent failure"
    EXHAUSTED = "exhausted", "Transient failure, retries exhausted"
    UNKNOWN = "unknown", "Unknown (the worker stopped mid-send)"


class CallOutcome(models.TextChoices):
    """What the simulated provider did with one call it received."""

    ACCEPTED = "accepted", "Accepted (sent)"
    DEDUPLICATED = "deduplicated", "Deduplicated (idempotency key seen before; nothing sent)"
    TRANSIENT_FAILURE = "transient_failure", "Transient failure"
    PERMANENT_FAILURE = "permanent_failure", "Permanent failure"
    THROTTLED = "throttled", "Throttled (above its rate limit; nothing sent, no attempt spent)"


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
    current_attempt = models.PositiveIntegerField(
        default=0, help_text="The envelope attempt the status refers to: claimed (sending) or last finished."
    )
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When the current attempt was claimed.")
    outcome_published = models.BooleanField(
        default=True, help_text="False while a retry or dead-letter record of the last attempt awaits Kafka's ack."
    )
    last_error = models.TextField(blank=True, default="")
    # Indexed: a provider's receipt finds the record by it (delivery.receipts).
    provider_message_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    provider = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="The provider that took the message, as the channel's settings name it (smtp://host:port, twilio).",
    )
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
    """The simulated provider's call log: one row per call it received, whatever came of it. The
    provider's own view, so a double send by the worker shows up here (two `accepted` calls for one
    idempotency key, see `delivery_stats` and the fault suite) instead of being hidden."""

    idempotency_key = models.CharField(max_length=64, db_index=True)
    outcome = models.CharField(max_length=24, choices=CallOutcome.choices, default=CallOutcome.ACCEPTED)
    provider_message_id = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True, default="")
    trace_id = models.CharField(max_length=32, db_index=True)
    recipient = models.CharField(max_length=320)
    subject = models.TextField(blank=True, default="")
    body = models.TextField()
    attempt = models.PositiveIntegerField()
    called_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = models.Manager()

    class Meta:
        abstract = True
        ordering = ("-called_at",)

    def __str__(self) -> str:
        return f"{self.outcome} {self.idempotency_key} → {self.recipient}"


class SuppressionReason(models.TextChoices):
    BOUNCED = "bounced", "Hard bounce"
    COMPLAINED = "complained", "Spam complaint"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed (replied STOP, or the provider says so)"
    MANUAL = "manual", "Added by an operator"


class Suppression(models.Model):
    """A recipient this channel does not send to any more: a message to it ends `suppressed` with no
    provider call (delivery.services.deliveries_claim). Removed in the admin or with
    DELETE /api/v1/suppressions/{channel}/{recipient}."""

    recipient = models.CharField(max_length=320, unique=True)
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    detail = models.TextField(blank=True, default="", help_text="What said so: the receipt, the provider's error.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = models.Manager()

    class Meta:
        abstract = True
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.recipient} ({self.reason})"


class ProviderPace(models.Model):
    """The shared token bucket of one provider's rate limit (delivery.pacing): every instance of the
    channel's worker takes its calls from this row, so `<CHANNEL>_RATE_LIMIT` holds across them all."""

    key = models.CharField(max_length=255, unique=True, help_text="The provider the limit is for.")
    tat = models.FloatField(default=0.0, help_text="GCRA: when (Unix time) the next call is due.")

    objects = models.Manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.key
