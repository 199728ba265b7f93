"""A client's webhook endpoints, as the API's views keep them (reads and writes in one place). A client
is the API caller's id (`key:<prefix>` or `user:<pk>`)."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import router as db_router
from django.db.models import QuerySet

from config.db_writes import write_transaction
from webhooks.models import WebhookEndpoint


def webhook_endpoints_list(*, client: str) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(client=client)


def webhook_endpoint_get(*, client: str, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(pk=endpoint_id, client=client).first()


def webhook_endpoint_create(*, client: str, url: str, events: Iterable[str]) -> WebhookEndpoint:
    """A new endpoint with a new signing secret (Standard Webhooks: `whsec_` + base64 of 32 random bytes)."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with write_transaction(db_router.db_for_write(WebhookEndpoint)):
        return WebhookEndpoint.objects.create(client=client, url=url, events=sorted(set(events)), secret=secret)


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Its jobs still queued find no endpoint and are dropped (webhooks.pipeline.DeliverJobs)."""
    with write_transaction(db_router.db_for_write(WebhookEndpoint)):
        endpoint.delete()


def webhook_endpoint_enable(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Posts resume with the next job (jobs dead-lettered meanwhile stay on webhooks.out.dlq). The
    failing clock starts afresh: one more failure does not disable it again at once. Enabling an
    endpoint that is not disabled changes nothing."""
    with write_transaction(db_router.db_for_write(WebhookEndpoint)):
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(disabled_at=None, disabled_reason="", failing_since=None)
    endpoint.disabled_at, endpoint.disabled_reason, endpoint.failing_since = None, "", None
    return endpoint


@dataclass(frozen=True)
class DisabledEndpoint:
    """An endpoint this call disabled (each is reported once, by the call that disabled it)."""

    id: uuid.UUID
    client: str
    reason: str


def webhook_endpoints_record_posts(
    *, delivered: Iterable[uuid.UUID], failed: Mapping[uuid.UUID, str], at: datetime, disable_after: timedelta
) -> list[DisabledEndpoint]:
    """The webhooks worker's latest posts: endpoints that answered 2xx get `last_delivered_at` and their
    failing clock stopped; those that did not get `last_error`, the clock started if it was not, and
    are disabled once it has run `disable_after` (one endpoint may be in both: then it succeeded).
    Each write is conditional, so workers racing on one endpoint disable it once."""
    delivered, using = set(delivered), db_router.db_for_write(WebhookEndpoint)
    failing = {endpoint_id: error for endpoint_id, error in failed.items() if endpoint_id not in delivered}
    if not delivered and not failed:
        return []
    endpoints = WebhookEndpoint.objects
    disabled = []
    with write_transaction(using):
        if delivered:
            endpoints.filter(pk__in=delivered).update(last_delivered_at=at, failing_since=None)
        for endpoint_id, error in failed.items():
            endpoints.filter(pk=endpoint_id).update(last_error=error, last_error_at=at)
        endpoints.filter(pk__in=failing, failing_since__isnull=True).update(failing_since=at)
        due = endpoints.filter(pk__in=failing, disabled_at__isnull=True, failing_since__lte=at - disable_after)
        for endpoint_id, client, since in due.values_list("id", "client", "failing_since"):
            assert since is not None  # failing_since__lte matches no NULL
            reason = f"every post failed since {_moment(since)}; the last: {failing[endpoint_id]}"
            still_enabled = endpoints.filter(pk=endpoint_id, disabled_at__isnull=True)
            if still_enabled.update(disabled_at=at, disabled_reason=reason):
                disabled.append(DisabledEndpoint(id=endpoint_id, client=client, reason=reason))
    return disabled


def _moment(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
