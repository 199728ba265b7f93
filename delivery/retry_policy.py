"""How often and how late a channel retries (docs/delivery.md): a frozen policy built from settings."""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.conf import settings

from config.durations import parse_duration
from messaging.channels import Channel


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    delays: tuple[float, ...]
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_attempts > 1 and not self.delays:
            raise ValueError("retries need at least one delay")

    @classmethod
    def for_channel(cls, channel: Channel) -> RetryPolicy:
        return cls(
            max_attempts=settings.DELIVERY_MAX_ATTEMPTS[channel.value],
            delays=tuple(parse_duration(text) for text in settings.DELIVERY_RETRY_DELAYS[channel.value]),
        )

    def can_retry(self, attempt: int) -> bool:
        """Whether a transient failure of `attempt` gets another one."""
        return attempt < self.max_attempts

    @property
    def longest_delay(self) -> float:
        """No retry record is ever due later than this after it was produced (jitter included)."""
        return max(self.delays, default=0.0) * (1 + self.jitter)

    def delay(self, level: int) -> float:
        """Seconds before retry level `level` (1-based) is due. Jitter only ever adds, up to
        `jitter` times the delay: a retry is never early, and a burst of failures spreads out."""
        base = self.delays[min(level, len(self.delays)) - 1]
        return base + random.uniform(0.0, base * self.jitter)
