"""Errors of the Kafka layer, as types: each has one place that decides what happens to it."""


class InvalidMessage(Exception):
    """A record that can never be processed (undecodable, unknown schema): goes to a DLQ, never retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PublishError(Exception):
    """Kafka did not acknowledge a record in time, or refused it. `permanent`: it never will take it as
    it is (too large, a topic it may not write): keeping it for later cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
