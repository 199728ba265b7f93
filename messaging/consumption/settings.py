"""The guard's policy for every consumer, from settings (CONSUMER_*)."""

from __future__ import annotations

from django.conf import settings

from messaging.consumption.guard import GuardPolicy


def guard_policy(*, max_backoff_seconds: float | None = None) -> GuardPolicy:
    return GuardPolicy(
        max_tries=settings.CONSUMER_MAX_TRIES,
        max_backoff_seconds=max_backoff_seconds or settings.CONSUMER_MAX_BACKOFF_SECONDS,
        max_consecutive_dead_letters=settings.CONSUMER_MAX_CONSECUTIVE_DEAD_LETTERS or None,
    )
