"""Outbox entries on their way to Kafka: the record produced for an entry, and settling entries once
Kafka answered. Shared by both publishing paths, the API's background publisher
(router.outbox_publisher) and `relay_outbox` (router.services.outbox_relay_pending).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

from django.db import router as db_router
from django.db.models import F
from django.utils import timezone

from config.db_writes import write_transaction
from messaging.log_events import LogEmitter, Outcome
from messaging.publisher import OutgoingRecord
from router.models import OutboxEntry

logger = logging.getLogger(__name__)

LAST_ERROR_MAX_CHARS = 2000


def outbox_record(entry: OutboxEntry) -> OutgoingRecord:
    """The Kafka record of an entry, exactly as stored at accept time."""
    return OutgoingRecord(
        topic=entry.topic,
        key=entry.key.encode(),
        value=bytes(entry.value),
        headers=[(name, value.encode()) for name, value in entry.headers],
    )


def outbox_entries_settle(
    *, acked: Sequence[OutboxEntry], failed: Sequence[tuple[OutboxEntry, str]], log: LogEmitter
) -> None:
    """Mark the acknowledged entries published (one UPDATE) and count a failed attempt on the others,
    which stay unpublished for `relay_outbox`; then log `message.published` for each acknowledged one.

    Runs in one write transaction taken in turn with the process's other writers. Entries must have
    their `message` loaded (it is, for entries built at accept time or listed by the relay).
    """
    if not acked and not failed:
        return
    by_error: dict[str, list[int]] = defaultdict(list)
    for entry, error in failed:
        by_error[error[:LAST_ERROR_MAX_CHARS]].append(entry.pk)
    with write_transaction(db_router.db_for_write(OutboxEntry)):
        if acked:
            # A relayed twin may have been marked first: keep its time.
            OutboxEntry.objects.filter(pk__in=[entry.pk for entry in acked], published_at__isnull=True).update(
                published_at=timezone.now()
            )
        for error, pks in by_error.items():
            OutboxEntry.objects.filter(pk__in=pks).update(attempts=F("attempts") + 1, last_error=error)
    for error, pks in by_error.items():
        logger.warning("%d message(s) not published yet (%s); left to the outbox relay", len(pks), error)
    for entry in acked:
        log.emit(
            "message.published",
            trace_id=entry.message.trace_id,
            message_id=entry.message.id,
            channel=entry.message.channel,
            outcome=Outcome.SUCCESS,
            message=f"published to {entry.topic}",
        )
