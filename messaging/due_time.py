"""The `due-at` header of delayed records (retry topics): epoch milliseconds before which the record
must not be processed. Consumers pause the partition instead of sleeping (docs/architecture.md)."""

from __future__ import annotations

import time

from confluent_kafka import Message

from messaging.headers import decode_headers

DUE_AT_HEADER = "due-at"


def due_at_headers(due_at: float) -> dict[str, str]:
    """Headers for a record due at `due_at` (seconds since the epoch)."""
    return {DUE_AT_HEADER: str(int(due_at * 1000))}


def record_due_at(record: Message) -> float | None:
    """Seconds since the epoch at which `record` is due, or None when it carries no due time."""
    value = decode_headers(record.headers()).get(DUE_AT_HEADER)
    if not value:
        return None
    try:
        return int(value) / 1000
    except ValueError:
        return None  # a malformed header must not stall the partition: process now


def seconds_until_due(record: Message, now: float | None = None) -> float:
    due = record_due_at(record)
    if due is None:
        return 0.0
    return max(0.0, due - (time.time() if now is None else now))
