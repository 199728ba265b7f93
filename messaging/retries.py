"""A consumed record's next try: the same work again on a retry topic, due after a delay (the due
gate holds it back until then: messaging.consumption.due_gate). Its counterpart for a record given
up on is messaging.dead_letters.dead_letter_record; a consumer's outcome step builds one or the other."""

from __future__ import annotations

import time

from messaging.due_time import due_at_headers
from messaging.headers import build_headers
from messaging.publisher import OutgoingRecord
from messaging.tracing import TraceContext


def retry_record(*, topic: str, key: bytes, value: bytes, trace: TraceContext, delay_seconds: float) -> OutgoingRecord:
    """`value` (its attempt counted on) under `key` on the retry `topic`, due `delay_seconds` from now,
    in the `trace` of the record it retries."""
    return OutgoingRecord(topic, key, value, build_headers(trace, due_at_headers(time.time() + delay_seconds)))
