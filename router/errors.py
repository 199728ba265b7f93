"""Errors of the router's services; the API layer maps each to one HTTP status."""

from __future__ import annotations


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used with a different request body (→ 422)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was already used with a different request body.")
        self.key = key
