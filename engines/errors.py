"""One exception type whose message is meant for the person at the terminal."""


class EngineError(RuntimeError):
    """An engine could not be fetched, started or stopped; the message says what and where to look."""


class PortInUse(EngineError):
    """An engine exited while starting because another process holds one of its ports ("Address
    already in use" in its log): free ports are chosen before the engine binds them, and another
    process may take one in between, so a private engine is started again on other ports."""


BIND_ERROR = "Address already in use"
