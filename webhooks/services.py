"""A client's webhook endpoints, as the API's views keep them (reads and writes in one place)."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime

from django.db import router as db_router
from django.db.models import QuerySet

from config.db_writes import write_transaction
from router.domain import Client
from webhooks.models import WebhookEndpoint


def webhook_endpoints_list(*, client: Client) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(client=client.id)


def webhook_endpoint_get(*, client: Client, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(pk=endpoint_id, client=client.id).first()


def webhook_endpoint_create(*, client: Client, url: str, events: Iterable[str]) -> WebhookEndpoint:
    """A new endpoint with a new signing secret (Standard Webhooks: `whsec_` + base64 of 32 random bytes)."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with write_transaction(db_router.db_for_write(WebhookEndpoint)):
        return WebhookEndpoint.objects.create(client=client.id, url=url, events=sorted(set(events)), secret=secret)


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Its jobs still queued find no endpoint and are dropped (webhooks.pipeline.DeliverJobs)."""
    with write_transaction(db_router.db_for_write(WebhookEndpoint)):
        endpoint.delete()


def webhook_endpoints_record_posts(
    *, delivered: Iterable[uuid.UUID], failed: Mapping[uuid.UUID, str], at: datetime
) -> None:
    """The webhooks worker's latest posts, for operators: endpoints that answered 2xx get
    `last_delivered_at`, those that did not get `last_error` (one endpoint may be in both)."""
    delivered, using = set(delivered), db_router.db_for_write(WebhookEndpoint)
    if not delivered and not failed:
        return
    with write_transaction(using):
        if delivered:
            WebhookEndpoint.objects.filter(pk__in=delivered).update(last_delivered_at=at)
        for endpoint_id, error in failed.items():
            WebhookEndpoint.objects.filter(pk=endpoint_id).update(last_error=error, last_error_at=at)
