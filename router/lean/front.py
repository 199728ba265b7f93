"""LeanFront: the WSGI callable gunicorn calls (config.wsgi). It answers a `POST /api/v1/messages` or
`POST /api/v1/messages/batch` with an API key and a valid JSON body itself — no HttpRequest, no
middleware chain, no URL resolution, no DRF dispatch — and hands every other request to Django.

Why: Django's handler, its middleware and DRF's dispatch were about a quarter of a single POST's CPU
(docs/performance.md), on requests that need none of them. What the front does is the views' own
work, by their functions: api_key_verify (cached per process, router.authentication), the per-key
throttle, the rules of router.accept, message_accept / message_batch_accept, the views' 202 bodies and
headers, the `message.rejected` events of a batch's invalid items, the request counter of /metrics.

It only ever accepts (an Idempotency-Key's replay included) or answers the JSON 500 of an unexpected
error. Whatever it does not take whole reaches Django with its body put back (router.lean.intake), and
Django answers it exactly as before: a browsable-API or non-JSON request, a query string, a body
without Content-Length or over the limit, a refused or locked-out key, a throttled key, an invalid
body or Idempotency-Key, a key reused with another body (the view's 422), a host Django refuses.
Nothing is written before every check passed, so a request handed on leaves no trace of the front
(the throttle allowance is taken last; a reused Idempotency-Key, refused before anything is written,
costs its caller that allowance twice). ROUTER_FAST_ACCEPT, read per request, turns it off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson
from django.conf import settings
from django.core import signals
from django.urls import reverse, set_script_prefix

from messaging.metrics import API_REQUESTS
from messaging.tracing import TraceContext
from router.accept.requests import message_request_validate
from router.accept.services import message_accept
from router.authentication import api_key_verify
from router.domain import Client
from router.errors import IdempotencyConflict
from router.lean.answers import Answer, StartResponse, answer_send, view_allow
from router.lean.intake import body_take, intake_of
from router.middleware import api_error_answer
from router.permissions import key_client
from router.throttles import api_key_throttle_take
from router.views.base import message_rejection_log
from router.views.batch import MessageBatchView, batch_accepted_headers, batch_items, message_batch_accept
from router.views.messages import (
    MessagesView,
    accepted_headers_at,
    accepted_message_data,
    client_templates,
    idempotency_key_valid,
)

WSGIApplication = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class _Caller:
    """A request the front may answer: who sends it, and what."""

    client: Client
    idempotency_key: str | None
    data: Any  # the decoded body
    base_url: str  # scheme://host, for a Location
    traceparent: str | None


@dataclass(frozen=True)
class _Route:
    max_bytes: Callable[[], int]
    check: Callable[[_Caller], Any]  # the validated request; raises (anything) to hand the request on
    accept: Callable[[_Caller, Any], Answer | None]  # None: the view answers (a reused key's 422)
    allow: str


class LeanFront:
    def __init__(self, django: WSGIApplication) -> None:
        self.django = django

    @cached_property
    def _routes(self) -> dict[str, _Route]:
        return {
            reverse("messages"): _Route(
                max_bytes=lambda: int(settings.ROUTER_MAX_REQUEST_BYTES),
                check=_single_check,
                accept=_single_accept,
                allow=view_allow(MessagesView),
            ),
            reverse("message-batch"): _Route(
                max_bytes=lambda: int(settings.ROUTER_MAX_BATCH_REQUEST_BYTES),
                check=_batch_check,
                accept=_batch_accept,
                allow=view_allow(MessageBatchView),
            ),
        }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST" and settings.ROUTER_FAST_ACCEPT:
            route = self._routes.get(environ.get("PATH_INFO", ""))
            if route is not None:
                answered = self._answer(route, environ, start_response)
                if answered is not None:
                    return answered
        return self.django(environ, start_response)

    def _answer(self, route: _Route, environ: dict[str, Any], start_response: StartResponse) -> list[bytes] | None:
        """The front's answer, sent; None: Django's to give."""
        intake = intake_of(environ, max_bytes=route.max_bytes())
        if intake is None:
            return None
        set_script_prefix("/")  # as Django's handler does per request (intake_of: no script name)
        signals.request_started.send(sender=type(self), environ=environ)
        body = body_take(environ, intake.length)
        try:
            api_key = api_key_verify(intake.key)
            caller = _Caller(
                client=key_client(api_key),
                idempotency_key=idempotency_key_valid(environ.get("HTTP_IDEMPOTENCY_KEY")),
                data=orjson.loads(body),
                base_url=intake.base_url,
                traceparent=environ.get("HTTP_TRACEPARENT"),
            )
            request = route.check(caller)
        except Exception:  # refused or broken: the view answers it (and logs or counts what it must)
            return None
        if api_key_throttle_take(api_key) is not None:
            return None
        try:
            answer = route.accept(caller, request)
        except Exception as error:  # as the view's would be, through ApiJsonErrorsMiddleware
            answer = _error_answer(environ.get("PATH_INFO", ""), error)
        if answer is None:
            return None
        API_REQUESTS.labels(method="POST", status=str(answer.status)).inc()  # as ApiMetricsMiddleware counts
        sent = answer_send(
            answer, scheme="https" if intake.secure else "http", allow=route.allow, start_response=start_response
        )
        signals.request_finished.send(sender=type(self))
        return sent


def _single_check(caller: _Caller) -> Any:
    return message_request_validate(caller.data, templates=client_templates(caller.client))


def _single_accept(caller: _Caller, request: Any) -> Answer | None:
    try:
        acceptance = message_accept(
            request=request,
            client=caller.client,
            trace=TraceContext.of_request(caller.traceparent),
            idempotency_key=caller.idempotency_key,
        )
    except IdempotencyConflict:  # refused before anything was written: the view answers the 422
        return None
    headers = accepted_headers_at(lambda path: caller.base_url + path, acceptance)
    return Answer(status=202, body=orjson.dumps(accepted_message_data(acceptance.message)), headers=headers)


def _batch_check(caller: _Caller) -> Any:
    """The batch's items; raises (DRF's ValidationError) when it is no batch: the view answers the 400."""
    return batch_items(caller.data)


def _batch_accept(caller: _Caller, items: Any) -> Answer | None:
    # The invalid items are logged once the batch is accepted (or failed): a reused key hands the
    # batch on to the view, which logs them itself.
    rejected: list[tuple[int, dict[str, Any]]] = []
    try:
        acceptance = message_batch_accept(
            items=items,
            client=caller.client,
            idempotency_key=caller.idempotency_key,
            rejected=lambda index, errors: rejected.append((index, errors)),
        )
    except IdempotencyConflict:
        return None
    except Exception:
        _rejections_log(rejected, caller)
        raise
    _rejections_log(rejected, caller)
    return Answer(status=202, body=orjson.dumps(acceptance.body), headers=batch_accepted_headers(acceptance))


def _rejections_log(rejected: list[tuple[int, dict[str, Any]]], caller: _Caller) -> None:
    """As MessageBatchView logs them: one event per item, all in the request's trace."""
    if not rejected:
        return
    trace_id = TraceContext.of_request(caller.traceparent).trace_id
    for index, errors in rejected:
        message_rejection_log(
            trace_id=trace_id, errors=errors, error_type="ValidationError", status_code=400, index=index
        )


def _error_answer(path: str, error: Exception) -> Answer:
    response = api_error_answer(path, error)
    return Answer(status=response.status_code, body=response.content, from_view=False)
