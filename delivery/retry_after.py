"""An HTTP `Retry-After` header (RFC 9110 §10.2.3) as seconds: what a provider's 429 asks us to wait."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """`120` → 120.0; an HTTP date → the seconds until it (0.0 if past); absent or unreadable → None:
    a hint we cannot read is no hint, and the caller's own pacing applies."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110's date is GMT; an obsolete form without a zone reads the same
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
