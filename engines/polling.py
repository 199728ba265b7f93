"""Waiting for a condition with a deadline, by polling: the benchmark and the tests both wait this
way for processes, engines and messages (never by sleeping a fixed time)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError, AssertionError):
    """Also an AssertionError, so a test that waits in vain fails rather than errors."""


def wait_until(condition: Callable[[], T], *, timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll `condition` until it returns something truthy and return that; WaitTimeout after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}")
