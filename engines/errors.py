"""One exception type whose message is meant for the person at the terminal."""


class EngineError(RuntimeError):
    """An engine could not be fetched, started or stopped; the message says what and where to look."""
