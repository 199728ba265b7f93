"""Kafka record headers: every record carries `traceparent` and `content-type` (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from messaging.tracing import TraceContext

# What confluent-kafka takes and gives: values are bytes when we build them, None when empty.
KafkaHeaders = list[tuple[str, str | bytes | None]]
ReceivedHeaders = Sequence[tuple[str, str | bytes | None]] | Mapping[str, str | bytes | None] | None
CONTENT_TYPE = "application/json"


def build_headers(trace: TraceContext, extra: Mapping[str, str] | None = None) -> KafkaHeaders:
    headers: KafkaHeaders = [("traceparent", trace.traceparent.encode()), ("content-type", CONTENT_TYPE.encode())]
    headers += [(name, value.encode()) for name, value in (extra or {}).items()]
    return headers


def decode_headers(
    raw: Sequence[tuple[str, str | bytes | None]] | Mapping[str, str | bytes | None] | None,
) -> dict[str, str]:
    """Header name → text; the last value wins, undecodable bytes are replaced, not fatal."""
    pairs = raw.items() if isinstance(raw, Mapping) else raw or []
    return {name: _text(value) for name, value in pairs}


def _text(value: str | bytes | None) -> str:
    if isinstance(value, str):
        return value
    return (value or b"").decode("utf-8", errors="replace")
