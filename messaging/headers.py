"""Kafka record headers: every record carries `traceparent` and `content-type` (DESIGN §4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from messaging.tracing import TraceContext

KafkaHeaders = list[tuple[str, bytes]]
CONTENT_TYPE = "application/json"


def build_headers(trace: TraceContext, extra: Mapping[str, str] | None = None) -> KafkaHeaders:
    headers = [("traceparent", trace.traceparent.encode()), ("content-type", CONTENT_TYPE.encode())]
    headers += [(name, value.encode()) for name, value in (extra or {}).items()]
    return headers


def decode_headers(raw: Sequence[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """Header name → text; the last value wins, undecodable bytes are replaced, not fatal."""
    return {name: (value or b"").decode("utf-8", errors="replace") for name, value in raw or []}
