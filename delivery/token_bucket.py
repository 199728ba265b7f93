"""A token bucket in one process's memory: `rate` tokens a second, refilled continuously, holding at
most one second's worth (at least one token), shared by the threads that take from it.

What the throttling test peers and the simulator use to play a provider's rate cap. It knows nothing
of other processes: a limit shared by several workers needs a shared store, not this.
"""

from __future__ import annotations

import threading
import time


class TokenBucket:
    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError(f"a token bucket needs a rate above zero, not {rate}")
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self._tokens = self.capacity
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self, amount: float = 1.0) -> float:
        """Take `amount` tokens if the bucket has them: returns 0.0. Otherwise takes nothing and returns
        the seconds until it would have them. A call dearer than the whole bucket (a long SMS at one
        segment a second) goes through when the bucket is full and leaves it in debt, so the rate holds
        on average instead of refusing that call for ever."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now
            needed = min(amount, self.capacity)
            if self._tokens >= needed:
                self._tokens -= amount
                return 0.0
            return (needed - self._tokens) / self.rate
