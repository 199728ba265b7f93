"""Rate limits of the API, on one algorithm: GCRA (the generic cell rate algorithm) keeps one number
per key in the cache — the time at which the key's allowance is back to full — where DRF's
SimpleRateThrottle keeps every request's time in the window. A full window's worth may come in one
burst; after that one per `period / count`, and the wait says when the next one is allowed.

Counters live in CACHE_URL (per process unless it points at Redis/Memcached).

- per API key: ROUTER_THROTTLE_RATE requests (router.throttles);
- per client address: ROUTER_AUTH_FAILURE_RATE failed API-key attempts; beyond it the address gets
  429 with Retry-After, whatever key it sends, until its allowance is back (guessing keys is slow);
- the admin login: django-axes locks an address out after AXES_FAILURE_LIMIT failures, answered by
  `admin_lockout_response` (429 with Retry-After).
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import SimpleRateThrottle


@dataclass(frozen=True)
class Rate:
    count: int
    period: float  # seconds

    @classmethod
    @functools.lru_cache(maxsize=32)
    def parse(cls, text: str) -> Rate:
        """`N/s`, `N/min`, `N/hour` or `N/day`, as DRF writes rates (its own parser, which uses no state)."""
        count, period = SimpleRateThrottle.parse_rate(None, text)  # type: ignore[arg-type]
        assert count is not None and period is not None
        return cls(count=count, period=float(period))


def gcra_take(key: str, rate: Rate, *, now: float | None = None) -> float | None:
    """Use one of `key`'s allowance: None when allowed, else the seconds until the next one is."""
    now = time.time() if now is None else now
    interval = rate.period / rate.count  # each event uses up this much time
    burst = rate.period - interval  # how far ahead of now a key may run: a full window at once
    arrival = max(float(cache.get(key, now)), now)  # when the key would be back to its full allowance
    if arrival - now > burst:
        return arrival - now - burst
    cache.set(key, arrival + interval, timeout=int(arrival + interval - now) + 1)
    return None


def gcra_wait(key: str, rate: Rate, *, now: float | None = None) -> float | None:
    """Like gcra_take, without using anything: may `key` have one now?"""
    now = time.time() if now is None else now
    interval = rate.period / rate.count
    arrival = max(float(cache.get(key, now)), now)
    over = arrival - now - (rate.period - interval)
    return over if over > 0 else None


def _failure_key(address: str) -> str:
    return f"auth-failures:{address}"


def auth_failures_wait(address: str) -> float | None:
    """Seconds this address must wait before its next API-key attempt counts, or None."""
    return gcra_wait(_failure_key(address), Rate.parse(settings.ROUTER_AUTH_FAILURE_RATE))


def auth_failure_record(address: str) -> None:
    gcra_take(_failure_key(address), Rate.parse(settings.ROUTER_AUTH_FAILURE_RATE))


def admin_lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' lockout of the admin login: 429 with the cool-off as Retry-After."""
    seconds = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds())
    response = HttpResponse(
        "Too many failed login attempts from this address; try again later.", status=429, content_type="text/plain"
    )
    response["Retry-After"] = str(seconds)
    return response
