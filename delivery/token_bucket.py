"""The token bucket, once: `Gcra` (the whole bucket as one timestamp, the theoretical arrival time of
the next call) is what the worker's pace keeps in memory and in the channel database
(delivery.pacing); `TokenBucket` is the same algorithm in one process's memory for the threads that
share it, holding one second's worth (at least one token): what the throttling test peers and the
simulator use to play a provider's rate cap. Pure Python, no Django: the peers import it standalone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass


def grant_prefix(costs: Sequence[float], available: float) -> int:
    """How many of the leading `costs` fit in `available` units."""
    used, count = 0.0, 0
    for cost in costs:
        if used + cost > available + 1e-9:
            break
        used += cost
        count += 1
    return count


@dataclass
class Gcra:
    """A token bucket as one timestamp: `rate` units a second, bursts up to `burst` units."""

    rate: float
    burst: float

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    def available(self, tat: float, now: float) -> float:
        return max(0.0, (now + self.burst * self.interval - max(tat, now)) / self.interval)

    def take(self, tat: float, costs: Sequence[float], now: float, *, borrow: bool = False) -> tuple[int, float]:
        """(how many leading costs go now, the new tat). A first cost larger than the whole burst
        goes alone once the bucket is full, so a long SMS is never starved. `borrow`: the calls may
        also take up to one more burst ahead of the rate (the high lane: it never waits for the
        rate; the lanes after it pay the debt back, so the rate holds on average)."""
        extra = self.burst if borrow else 0.0
        count = grant_prefix(costs, self.available(tat, now) + extra)
        if count == 0 and costs and tat <= now:
            count = 1
        used = sum(costs[:count])
        return count, max(tat, now) + used * self.interval

    def wait(self, tat: float, cost: float, now: float) -> float:
        """Seconds until `cost` units fit (a bucket in debt, `tat` far ahead, pays the debt first)."""
        return max(0.0, tat + (min(cost, self.burst) - self.burst) * self.interval - now)


class TokenBucket:
    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError(f"a token bucket needs a rate above zero, not {rate}")
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self._gcra = Gcra(rate=rate, burst=self.capacity)
        self._tat = time.monotonic()  # full at the start
        self._lock = threading.Lock()

    def take(self, amount: float = 1.0) -> float:
        """Take `amount` tokens if the bucket has them: returns 0.0. Otherwise takes nothing and returns
        the seconds until it would have them. A call dearer than the whole bucket (a long SMS at one
        segment a second) goes through when the bucket is full and leaves it in debt, so the rate holds
        on average instead of refusing that call for ever."""
        with self._lock:
            now = time.monotonic()
            count, tat = self._gcra.take(self._tat, [amount], now)
            if count:
                self._tat = tat
                return 0.0
            return self._gcra.wait(self._tat, amount, now)
