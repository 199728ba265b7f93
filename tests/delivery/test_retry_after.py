"""A provider's Retry-After, in both of HTTP's forms, as seconds."""

from datetime import UTC, datetime

import pytest

from delivery.retry_after import retry_after_seconds

NOW = datetime(2026, 11, 30, 20, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("0", 0.0),
        ("Mon, 30 Nov 2026 20:00:05 GMT", 5.0),
        ("Mon, 30 Nov 2026 19:59:00 GMT", 0.0),  # already past: no wait
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),  # RFC 9110 allows whole seconds only
    ],
)
def test_retry_after_seconds(value, seconds):
    assert retry_after_seconds(value, now=NOW) == seconds
