"""How long rows are kept, and the purge that enforces it (`manage.py purge`).

What grows without end otherwise: published outbox entries (they hold the whole message), expired
Idempotency-Key records, delivery records that reached a final status (their attempts go with them)
and the simulators' call logs. Rows still in play are never touched: an unpublished or failed outbox
entry, a delivery still pending, sending or held as `unknown`. Daily log indices
(`<prefix>-YYYY.MM.DD`) older than LOG_RETENTION_DAYS are deleted whole: by name, so it works on any
Elasticsearch (the engine this machine runs has no ILM module). Deletes go in chunks, so no table is
locked for long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.db_writes import write_transaction
from delivery.models import DeliveryStatus
from delivery.registry import registered_channels
from logging_service.connection import elasticsearch
from router.models import IdempotencyRecord, OutboxEntry

CHUNK = 1000

# A delivery in one of these will not change any more (a DLQ replay reopens `failed` within days, not
# months; an `unknown` waits for an operator, so it stays).
FINAL_DELIVERY_STATUSES = [
    status
    for status in DeliveryStatus
    if status not in (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.UNKNOWN)
]


@dataclass(frozen=True)
class Purged:
    what: str
    rows: int


@dataclass(frozen=True)
class _Target:
    what: str
    rows: models.QuerySet[models.Model]
    using: str


def _targets(now: datetime, older_than: timedelta | None) -> list[_Target]:
    def cutoff(setting_days: int) -> datetime:
        return now - (older_than if older_than is not None else timedelta(days=setting_days))

    days = settings.RETENTION_DAYS
    idempotency_expired = now - timedelta(hours=settings.ROUTER_IDEMPOTENCY_TTL_HOURS)
    found = [
        _Target(
            "published outbox entries",
            OutboxEntry.objects.filter(published_at__lt=cutoff(days["outbox"])),
            "default",
        ),
        _Target(
            "expired idempotency keys",
            IdempotencyRecord.objects.filter(created_at__lt=min(idempotency_expired, cutoff(days["idempotency"]))),
            "default",
        ),
    ]
    for spec in registered_channels():
        found.append(
            _Target(
                f"final {spec.channel} deliveries (with their attempts)",
                spec.record_model.objects.using(spec.database).filter(
                    status__in=FINAL_DELIVERY_STATUSES, updated_at__lt=cutoff(days["deliveries"])
                ),
                spec.database,
            )
        )
        found.append(
            _Target(
                f"{spec.channel} simulator calls",
                spec.ledger_model.objects.using(spec.database).filter(called_at__lt=cutoff(days["simulator_calls"])),
                spec.database,
            )
        )
    return found


def old_log_indices(*, cutoff: datetime) -> list[str]:
    """The daily log indices whose day ended before `cutoff` (the errors index is not a day's)."""
    prefix = f"{settings.LOG_INDEX_PREFIX}-"
    names = elasticsearch().indices.get(index=f"{prefix}*", allow_no_indices=True, expand_wildcards="open,closed")
    old = []
    for name in names:
        try:
            day = datetime.strptime(name.removeprefix(prefix), "%Y.%m.%d").replace(tzinfo=UTC)
        except ValueError:
            continue  # the errors index, or anything not named by a day
        if day + timedelta(days=1) <= cutoff:
            old.append(name)
    return sorted(old)


def purge(*, older_than: timedelta | None = None, dry_run: bool = False, now: datetime | None = None) -> list[Purged]:
    """Delete what is past its retention (`older_than` instead of each table's setting); with
    `dry_run`, only count it."""
    now = now or timezone.now()
    indices = old_log_indices(cutoff=now - (older_than or timedelta(days=settings.LOG_RETENTION_DAYS)))
    if indices and not dry_run:
        elasticsearch().indices.delete(index=",".join(indices))
    results = [Purged(f"daily log indices ({', '.join(indices) or 'none'})", len(indices))]
    for target in _targets(now, older_than):
        if dry_run:
            results.append(Purged(target.what, target.rows.count()))
            continue
        deleted = 0
        while pks := list(target.rows.values_list("pk", flat=True)[:CHUNK]):
            with write_transaction(target.using):
                deleted += target.rows.model._default_manager.using(target.using).filter(pk__in=pks).delete()[0]
        results.append(Purged(target.what, deleted))
    return results
