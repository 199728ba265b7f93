"""Clients' webhook endpoints (database `default`, beside the messages they are about)."""

from __future__ import annotations

import uuid

from django.db import models


class WebhookEndpoint(models.Model):
    """Where a client (an API key) wants its messages' status changes posted, signed with `secret`
    (Standard Webhooks: `whsec_` + base64 of the key)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.CharField(max_length=200, db_index=True, help_text="`key:<prefix>` or `user:<id>`.")
    url = models.URLField(max_length=2000)
    events = models.JSONField(help_text='The event types it gets, e.g. ["message.sent", "message.failed"].')
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    # Written by the webhooks worker after each batch of posts (webhook_endpoints_record_posts), for
    # the admin: when the receiver last answered 2xx, and the last failure and when it happened.
    last_delivered_at = models.DateTimeField(null=True, blank=True, help_text="Last 2xx answer to a post.")
    last_error = models.TextField(blank=True, default="", help_text="Why the last failed post failed.")
    last_error_at = models.DateTimeField(null=True, blank=True)
    # An endpoint that failed every post for WEBHOOKS_DISABLE_AFTER is disabled (nothing is posted to it;
    # its jobs are dead-lettered) until the client or an operator enables it: the clock starts at the
    # first failure after a success, and any 2xx stops it (webhook_endpoints_record_posts).
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="First failed post since the last 2xx; empty while it succeeds."
    )
    disabled_at = models.DateTimeField(null=True, blank=True, help_text="Set while disabled: nothing is posted.")
    disabled_reason = models.TextField(blank=True, default="")

    objects = models.Manager()

    class Meta:
        ordering = ["-created_at"]

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    def __str__(self) -> str:
        return f"{self.url} ({self.client})"
