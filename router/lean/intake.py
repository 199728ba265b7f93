"""What the lean front reads of a WSGI environ before it takes a request: whether it may (the checks
Django's middleware and DRF's negotiation would make, answered "no" by handing the request on), and
the request's scheme, host and body.

The scheme and host follow HttpRequest.scheme and HttpRequest.get_host (Django 5.2) line for line: the
202's Location is built from them, and a host Django refuses must reach Django, which answers its 400.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import get_script_name
from django.http.request import split_domain_port, validate_host

from router.authentication import api_key_of
from router.rate_limits import auth_failures_wait

# Media ranges a JSON answer satisfies; any other Accept is DRF's content negotiation to decide.
JSON_ACCEPTED = frozenset({"", "*/*", "application/*", "application/json"})


@dataclass(frozen=True)
class Intake:
    """A request the lean front may answer, once its key, body and message pass the views' checks."""

    key: str
    length: int
    base_url: str  # scheme://host, for the Location of a 202
    secure: bool


def intake_of(environ: dict[str, Any], *, max_bytes: int) -> Intake | None:
    """The request's key, declared length and base URL, or None when Django must answer it: anything
    the views would negotiate (a query string such as `?format=`, another media type or Accept), no
    Api-Key, no or too large a Content-Length (the view's 413), an address locked out after failed
    keys (the view's 429), a redirect or refusal of Django's middleware, a host Django refuses."""
    if environ.get("QUERY_STRING") or get_script_name(environ):
        return None
    if environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != "application/json":
        return None
    # Also DRF's: a header naming no media range at all (its 406) and JSONRenderer's `indent` parameter
    # (a pretty-printed answer); both seen answered otherwise by the lane (tests/router/test_accept_parity.py).
    accept = environ.get("HTTP_ACCEPT", "*/*").lower()
    accepted = {part.partition(";")[0].strip() for part in accept.split(",")}
    if not accepted <= JSON_ACCEPTED or accepted == {""} or "indent" in accept:
        return None
    key = api_key_of(environ.get("HTTP_AUTHORIZATION", ""))
    length = environ.get("CONTENT_LENGTH", "")
    if not key or not length.isdigit() or int(length) > max_bytes:
        return None
    # CommonMiddleware's refusals and redirects (unused here, but settings may set them).
    if settings.PREPEND_WWW or settings.DISALLOWED_USER_AGENTS:
        return None
    secure = environ_scheme(environ) == "https"
    if settings.SECURE_SSL_REDIRECT and not secure:  # SecurityMiddleware's redirect
        return None
    host = environ_host(environ, secure=secure)
    if host is None or auth_failures_wait(environ.get("REMOTE_ADDR", "")) is not None:
        return None
    return Intake(key=key, length=int(length), base_url=f"{'https' if secure else 'http'}://{host}", secure=secure)


def environ_scheme(environ: dict[str, Any]) -> str:
    """HttpRequest.scheme: the proxy's header when SECURE_PROXY_SSL_HEADER names one, else the server's."""
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = environ.get(header)
        if value is not None:
            return "https" if value.split(",", 1)[0].strip() == secure_value else "http"
    return str(environ.get("wsgi.url_scheme", "http"))


def environ_host(environ: dict[str, Any], *, secure: bool) -> str | None:
    """HttpRequest.get_host, None where it raises DisallowedHost."""
    if settings.USE_X_FORWARDED_HOST and "HTTP_X_FORWARDED_HOST" in environ:
        host = environ["HTTP_X_FORWARDED_HOST"]
    elif "HTTP_HOST" in environ:
        host = environ["HTTP_HOST"]
    else:
        host = environ["SERVER_NAME"]
        port = str(environ["SERVER_PORT"])
        if port != ("443" if secure else "80"):
            host = f"{host}:{port}"
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _ = split_domain_port(host)
    return host if domain and validate_host(domain, allowed) else None


def body_take(environ: dict[str, Any], length: int) -> bytes:
    """Reads the declared body and puts it back as `wsgi.input` (CONTENT_LENGTH saying what was read),
    so Django reads the same bytes when the request is handed on."""
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body
