"""How fast a worker may call its provider: the shared rate limit and what the provider's slow-down
answers taught it.

Two limits, both GCRA token buckets (one number per bucket: the theoretical arrival time `tat` of the
next call; a call may go when `tat` is at most `burst` intervals ahead of now):

- **The configured cap** (`<CHANNEL>_RATE_LIMIT`), shared by every instance of the worker: its bucket
  is a row in the channel's own database (`ProviderPace`), taken in one short write transaction per
  wave of calls. Why the database and not a share of the rate per assigned partition: a share idles
  whenever partitions carry uneven traffic (one worker with the newsletter, two with nothing), and the
  database is already what every instance of a channel shares, on one host (SQLite) or several
  (PostgreSQL). One transaction per wave (up to MAX_IN_FLIGHT calls) keeps its cost small.
- **The learned rate**, per process: a slow-down answer (SMTP 4.7.x, HTTP 429, Twilio 20429) halves
  what this process sends per second and pauses it for the provider's Retry-After; each quiet second
  adds a little back (AIMD, as TCP does), until the learned rate is no longer below the cap (or, with
  no cap, no longer below what the process is sending).

Costs are provider units: one per email, one per SMS/WhatsApp segment (Twilio's rate is per segment).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence

from django.db import transaction

from delivery.models import ProviderPace
from delivery.rates import Rate
from delivery.token_bucket import Gcra

# A burst never larger than this part of a second's rate: the provider's own bucket (a second's worth
# at most) then always has room, whatever the network adds to the spacing of our calls.
BURST_SECONDS = 0.5
# Halving stops here: a provider that keeps refusing is still tried this often.
MIN_LEARNED_PER_SECOND = 0.2
# Additive increase: each quiet second adds this part of the rate the process was held to.
RECOVERY_PER_SECOND = 0.1
# Throttle answers within this long of the last decrease are the same congestion event (a wave
# of calls all refused at once): one halving, not one per call.
DECREASE_HOLD_SECONDS = 1.0


class SharedBucket:
    """The configured cap's bucket, a row of the channel database shared by all worker instances."""

    def __init__(self, *, model: type[ProviderPace], database: str, key: str, rate: Rate, burst: float) -> None:
        self.model = model
        self.database = database
        self.key = key
        self.gcra = Gcra(rate=rate.per_second, burst=burst)

    def take(self, costs: Sequence[int], now: float, *, borrow: bool = False) -> tuple[int, float]:
        """(calls granted, seconds to wait when none is). One write transaction; wall-clock time,
        since the processes sharing the row share nothing else."""
        rows = self.model.objects.using(self.database)
        with transaction.atomic(using=self.database):
            row = rows.select_for_update().filter(key=self.key).values_list("tat", flat=True).first()
            if row is None:
                rows.get_or_create(key=self.key, defaults={"tat": 0.0})
                row = 0.0
            count, tat = self.gcra.take(row, costs, now, borrow=borrow)
            if count:
                rows.filter(key=self.key).update(tat=tat)
        return count, 0.0 if count else self.gcra.wait(row, costs[0], now)


class Pace:
    """What this worker may send now, for one provider. Not thread-safe: the deliver step's thread
    owns it."""

    def __init__(
        self,
        *,
        cap: Rate | None,
        shared: SharedBucket | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cap = cap
        self.shared = shared
        self.clock = clock
        self.learned: Gcra | None = None  # None: no slow-down answer lately
        self._learned_tat = 0.0
        self._paused_until = 0.0
        self._last_decrease = -math.inf
        self._last_increase = 0.0
        self._recent: deque[tuple[float, int]] = deque()  # (when, units) of the last second's calls

    @property
    def limited(self) -> bool:
        return self.cap is not None or self.learned is not None

    def allowed_per_second(self) -> float | None:
        """The rate this process is held to now (None: none); the cap is the whole channel's."""
        rates = [
            rate for rate in (self.cap.per_second if self.cap else None, self.learned and self.learned.rate) if rate
        ]
        return min(rates) if rates else None

    def grant(self, costs: Sequence[int], *, urgent: bool = False) -> tuple[int, float]:
        """How many of the leading `costs` may be sent now; when none, how long to wait first.
        `urgent` (the high lane) may run up to one burst ahead of the rate, never waiting for it
        (a provider's own bucket holds a second's worth, ours half of it: room for that)."""
        if not costs:
            return 0, 0.0
        now = self.clock()
        if now < self._paused_until:
            return 0, self._paused_until - now
        self._recover(now)
        count = len(costs)
        if self.learned is not None:
            count, _ = self.learned.take(self._learned_tat, costs, now, borrow=urgent)
            if count == 0:
                return 0, self.learned.wait(self._learned_tat, costs[0], now)
        if self.shared is not None:
            count, wait = self.shared.take(costs[:count], now, borrow=urgent)
            if count == 0:
                return 0, wait
        if self.learned is not None:
            _, self._learned_tat = self.learned.take(self._learned_tat, costs[:count], now, borrow=urgent)
        self._record(now, sum(costs[:count]))
        return count, 0.0

    def throttled(self, retry_after: float | None) -> None:
        """The provider said slow down: halve the learned rate (once per congestion event) and pause
        for its Retry-After (or one interval of the new rate)."""
        now = self.clock()
        if now - self._last_decrease >= DECREASE_HOLD_SECONDS:
            sending = max(self._sent_last_second(now), MIN_LEARNED_PER_SECOND * 2)
            current = self.learned.rate if self.learned is not None else sending
            rate = max(MIN_LEARNED_PER_SECOND, min(current, sending) / 2)
            if self.cap is not None:
                rate = min(rate, self.cap.per_second)
            self.learned = Gcra(rate=rate, burst=max(1.0, rate * BURST_SECONDS))
            self._learned_tat = now
            self._last_decrease = now
            self._last_increase = now
        pause = retry_after if retry_after is not None else self.learned.interval if self.learned else 0.0
        self._paused_until = max(self._paused_until, now + min(pause, 60.0))

    def _recover(self, now: float) -> None:
        """Additive increase, once a second without a slow-down answer."""
        if self.learned is None or now - self._last_increase < 1.0:
            return
        seconds = now - self._last_increase
        self._last_increase = now
        rate = self.learned.rate + seconds * RECOVERY_PER_SECOND * max(self.learned.rate, 1.0)
        ceiling = self.cap.per_second if self.cap is not None else None
        if ceiling is not None and rate >= ceiling:
            self.learned = None  # the cap governs again
            return
        if ceiling is None and rate > 2 * max(self._sent_last_second(now), 1.0):
            self.learned = None  # no longer what holds this process back
            return
        self.learned = Gcra(rate=rate, burst=max(1.0, rate * BURST_SECONDS))

    def _record(self, now: float, units: int) -> None:
        self._recent.append((now, units))
        while self._recent and self._recent[0][0] < now - 1.0:
            self._recent.popleft()

    def _sent_last_second(self, now: float) -> float:
        return float(sum(units for when, units in self._recent if when >= now - 1.0))


def shared_burst(rate: Rate, wave_size: int) -> float:
    """The shared bucket's burst: half a second of the rate, at least one call, at most one wave."""
    return max(1.0, min(float(wave_size), rate.per_second * BURST_SECONDS))


class Paces:
    """One Pace per provider of the channel (failover: each provider has its own limit and learns
    its own slow-down answers), made on first use."""

    def __init__(self, make: Callable[[str], Pace]) -> None:
        self._make = make
        self._paces: dict[str, Pace] = {}

    def of(self, provider: str) -> Pace:
        pace = self._paces.get(provider)
        if pace is None:
            pace = self._paces[provider] = self._make(provider)
        return pace
