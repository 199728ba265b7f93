"""Requests through config.wsgi.application, in process, as gunicorn calls it: the lean front
(router.lean) and the Django application behind it. Django's test client skips that callable."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from typing import Any

import orjson

from config.wsgi import application


@dataclass
class WsgiResponse:
    status_code: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return orjson.loads(self.content)

    def __getitem__(self, name: str) -> str:
        return self.headers[name]

    def __contains__(self, name: str) -> bool:
        return name in self.headers


def wsgi_post(path: str, payload: Any, *, query: str = "", **environ: str) -> WsgiResponse:
    """POSTs `payload` (JSON, or bytes as they are) with `environ`'s CGI variables (HTTP_…, CONTENT_TYPE)."""
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    request = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        **environ,
    }
    started: list[tuple[str, list[tuple[str, str]]]] = []
    result = application(request, lambda status, headers, exc_info=None: started.append((status, headers)))
    try:
        content = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    status, headers = started[0]
    return WsgiResponse(status_code=int(status.split()[0]), headers=dict(headers), content=content)
