"""A WSGI app for the worker-balance test: reads the body, keeps its worker's CPU busy for a while (as
a batch of 1,000 does), and answers the worker's pid."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

BUSY_SECONDS = 0.05


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    environ["wsgi.input"].read()
    started = time.process_time()
    while time.process_time() - started < BUSY_SECONDS:
        pass
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
