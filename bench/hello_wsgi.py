"""A hello-world WSGI application: what an HTTP server costs with no application behind it
(bench/servers.py serves it under each server)."""

from collections.abc import Callable, Iterable
from typing import Any

BODY = b'{"ok":true}'


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answers every request 200 with a small JSON body, leaving any request body unread."""
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]
