"""`manage.py relay_outbox`: publish outbox entries the API could not (Kafka down, process crash).

Runs until SIGTERM/SIGINT; the batch in flight is finished (published and marked) before exit 0.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from messaging.clients import build_producer
from messaging.metrics import serve_metrics
from messaging.shutdown import GracefulShutdown
from router.accept.outbox import outbox_relay_pending
from router.kafka import router_log
from router.selectors import outbox_next_due, outbox_report

logger = logging.getLogger("router.relay")

# The outbox gauges count rows: not on every pass of a relay that wakes several times a second.
REPORT_EVERY_SECONDS = 5.0


def _sleep_seconds(interval: float) -> float:
    next_due = outbox_next_due()
    if next_due is None:
        return interval
    return max(0.0, min(interval, (next_due - timezone.now()).total_seconds()))


class Command(BaseCommand):
    help = "Publish unpublished outbox entries to Kafka, batch by batch, until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=settings.ROUTER_RELAY_BATCH_SIZE)
        parser.add_argument("--interval", type=float, default=settings.ROUTER_RELAY_INTERVAL_SECONDS)
        parser.add_argument("--grace", type=float, default=settings.ROUTER_RELAY_GRACE_SECONDS)
        parser.add_argument("--once", action="store_true", help="Relay what is pending now, then exit.")

    def handle(self, *args: Any, batch_size: int, interval: float, grace: float, once: bool, **options: Any) -> None:
        producer = build_producer()
        serve_metrics()
        logger.info("outbox relay started (batch %d, every %.1fs, grace %.1fs)", batch_size, interval, grace)
        reported = 0.0
        with GracefulShutdown() as shutdown:
            while not shutdown.requested:
                result = outbox_relay_pending(producer=producer, batch_size=batch_size, grace_seconds=grace)
                if time.monotonic() - reported >= REPORT_EVERY_SECONDS:
                    outbox_report()
                    reported = time.monotonic()
                if result.published or result.failed:
                    logger.info("relayed %d, %d still failing", result.published, result.failed)
                full_batch = result.published == batch_size
                if once and not full_batch:
                    break
                # A full batch means more may be waiting; otherwise sleep until the next scheduled
                # entry is due, `interval` at most (woken early by SIGTERM).
                if not full_batch and shutdown.wait(_sleep_seconds(interval)):
                    break
        router_log().flush()
        logger.info("outbox relay stopped")
