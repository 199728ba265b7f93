"""The accept path's fast lane: `POST /api/v1/messages` with an API key and a valid JSON body is
answered here, before the rest of Django's middleware, URL resolution and DRF's request machinery.

Why: under load the API process spent about a quarter of a single POST's CPU in that machinery
(`py-spy --gil` on a gunicorn worker under `wrk`; docs/performance.md), on requests that need none
of it. The lane uses the same pieces as MessagesView — api_key_verify, the per-key throttle, the
rules of router.accept, message_accept and the view's 202 body and headers — so there is one rule for
each concern; what it skips is dispatch, not checks.

It only ever accepts (an Idempotency-Key's replay included). Anything it does not take whole goes on
to MessagesView unchanged, which answers it exactly as before: a browsable-API or non-JSON request, a
body without Content-Length or over the limit, a refused key, a throttled key, an invalid body or
Idempotency-Key, a key reused with another body (422), a host Django refuses. Nothing is written
before every check has passed, so a request handed on leaves no trace of the lane (its throttle
allowance is taken last, just before the accept; a reused key, refused before anything is written,
costs the caller that allowance twice). ROUTER_FAST_ACCEPT (default on) turns it off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.urls import reverse
from rest_framework_api_key.models import APIKey

from messaging.tracing import TraceContext
from router.accept.requests import message_request_validate
from router.accept.services import message_accept
from router.authentication import api_key_of, api_key_verify
from router.domain import Client, MessageRequest
from router.errors import IdempotencyConflict
from router.middleware import api_error_response
from router.permissions import key_client
from router.rate_limits import auth_failures_wait
from router.throttles import api_key_throttle_take
from router.views.messages import (
    MessagesView,
    accepted_headers,
    accepted_message_data,
    client_templates,
    idempotency_key_of,
)

# Media ranges a JSON answer satisfies; any other Accept is DRF's content negotiation to decide.
_JSON_ACCEPTED = frozenset({"", "*/*", "application/*", "application/json"})


@dataclass(frozen=True)
class _Valid:
    client: Client
    api_key: APIKey
    request: MessageRequest
    idempotency_key: str | None


class FastAcceptMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._frame_options = XFrameOptionsMiddleware(get_response)

    @cached_property
    def _path(self) -> str:
        return reverse("messages")

    @cached_property
    def _allow(self) -> str:
        view = MessagesView()
        view.setup(HttpRequest())  # as as_view() does: HEAD joins GET
        return ", ".join(view.allowed_methods)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and settings.ROUTER_FAST_ACCEPT and request.path == self._path:
            valid = _valid_request(request)
            if valid is not None and api_key_throttle_take(valid.api_key) is None:
                return self._accept(request, valid)
        return self.get_response(request)

    def _accept(self, request: HttpRequest, valid: _Valid) -> HttpResponse:
        try:
            trace = TraceContext.of_request(request.META.get("HTTP_TRACEPARENT"))
            acceptance = message_accept(
                request=valid.request, client=valid.client, trace=trace, idempotency_key=valid.idempotency_key
            )
            body = orjson.dumps(accepted_message_data(acceptance.message))
            response = HttpResponse(body, status=202, content_type="application/json")
            for name, value in accepted_headers(request, acceptance).items():
                response[name] = value
        except IdempotencyConflict:  # refused before anything was written: the view answers the 422
            return self.get_response(request)
        except Exception as error:  # as MessagesView's would, through ApiJsonErrorsMiddleware
            return api_error_response(request, error)
        # What DRF's finalize_response and the skipped middleware add to MessagesView's 202.
        response["Allow"] = self._allow
        response["Vary"] = "Accept"
        response["Content-Length"] = str(len(body))
        return self._frame_options.process_response(request, response)


def _valid_request(request: HttpRequest) -> _Valid | None:
    """The request's caller and message when the lane can take it whole; None hands it on."""
    meta = request.META
    if meta.get("QUERY_STRING"):  # `?format=`: the view's content negotiation
        return None
    if meta.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != "application/json":
        return None
    # Also DRF's: a header naming no media range at all (its 406) and JSONRenderer's `indent` parameter
    # (a pretty-printed answer); both seen answered otherwise by the lane (tests/router/test_accept_parity.py).
    accept = meta.get("HTTP_ACCEPT", "*/*").lower()
    accepted = {part.partition(";")[0].strip() for part in accept.split(",")}
    if not accepted <= _JSON_ACCEPTED or accepted == {""} or "indent" in accept:
        return None
    key = api_key_of(meta.get("HTTP_AUTHORIZATION", ""))
    length = meta.get("CONTENT_LENGTH", "")
    if not key or not length.isdigit():
        return None
    if int(length) > settings.ROUTER_MAX_REQUEST_BYTES:
        return None
    if auth_failures_wait(meta.get("REMOTE_ADDR", "")) is not None:
        return None
    try:
        request.get_host()  # the 202's Location needs it: a host Django refuses is refused first
        api_key = api_key_verify(key)
        client = key_client(api_key)
        idempotency_key = idempotency_key_of(request)
        data = orjson.loads(request.body)
        message = message_request_validate(data, templates=client_templates(client))
    except Exception:  # refused or broken: the view answers it (and logs what it must)
        return None
    return _Valid(client=client, api_key=api_key, request=message, idempotency_key=idempotency_key)
