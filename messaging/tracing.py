"""W3C Trace Context (`traceparent`): the trace id that follows a message through every service.

The header is a fixed `version-traceid-parentid-flags` string; this project records trace ids but
runs no tracer, so a 30-line parser is lighter than pulling in an OpenTelemetry SDK.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


_random_bits = random.getrandbits


@dataclass(frozen=True)
class TraceContext:
    trace_id: str
    span_id: str
    sampled: bool = True

    @classmethod
    def new(cls) -> TraceContext:
        # Random, as the W3C spec asks, but not secret: Python's generator, as OpenTelemetry's SDK
        # uses, instead of a getrandom() system call per API request (5% of a request's samples).
        trace_id, span_id = _random_bits(128), _random_bits(64)
        return cls(trace_id=f"{trace_id or 1:032x}", span_id=f"{span_id or 1:016x}")

    @classmethod
    def parse(cls, header: str | None) -> TraceContext | None:
        """The context in a `traceparent` header, or None when absent or invalid (spec: restart)."""
        if not header:
            return None
        match = _TRACEPARENT.match(header.strip().lower())
        if not match:
            return None
        version, trace_id, span_id, flags = match.groups()
        if version == "ff" or set(trace_id) == {"0"} or set(span_id) == {"0"}:
            return None
        return cls(trace_id=trace_id, span_id=span_id, sampled=bool(int(flags, 16) & 1))

    @classmethod
    def of_request(cls, traceparent: str | None) -> TraceContext:
        """A request's trace: the caller's (an incoming `traceparent`, as a new span) or a new one."""
        incoming = cls.parse(traceparent)
        return incoming.child() if incoming else cls.new()

    @classmethod
    def continuing(cls, trace_id: str) -> TraceContext:
        """A new span in an existing trace."""
        return cls(trace_id=trace_id, span_id=f"{_random_bits(64) or 1:016x}")

    def child(self) -> TraceContext:
        return TraceContext.continuing(self.trace_id)

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"
