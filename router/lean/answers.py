"""The lean front's answers as WSGI: a status, a JSON body and the headers the views' answers carry.

What DRF (Allow, Vary) and Django's middleware (SecurityMiddleware's and XFrameOptionsMiddleware's
headers, CommonMiddleware's Content-Length) add to a view's answer is not written down here a second
time: their own code runs once on a probe response and the headers it added are kept, per scheme
(HSTS is for https only), until a setting changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from rest_framework.views import APIView

StartResponse = Callable[..., Any]
JSON = "application/json"  # DRF's JSONRenderer and Django's JsonResponse both say it without a charset


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # the answer's own (Location, Idempotent-Replayed)
    from_view: bool = True  # False: an error answered by ApiJsonErrorsMiddleware, without DRF's Allow and Vary


class _Probe(HttpRequest):
    def __init__(self, scheme: str) -> None:
        super().__init__()
        self._scheme = scheme

    def _get_scheme(self) -> str:
        return self._scheme


class _MiddlewareHeaders:
    """The headers the response middleware adds to any answer, by scheme; forgotten when a setting changes."""

    def __init__(self) -> None:
        self._by_scheme: dict[str, list[tuple[str, str]]] = {}
        self._lock = threading.Lock()

    def of(self, scheme: str) -> list[tuple[str, str]]:
        headers = self._by_scheme.get(scheme)
        if headers is None:
            headers = self._probe(scheme)
            with self._lock:
                self._by_scheme[scheme] = headers
        return headers

    def clear(self) -> None:
        with self._lock:
            self._by_scheme.clear()

    @staticmethod
    def _probe(scheme: str) -> list[tuple[str, str]]:
        request, response = _Probe(scheme), HttpResponse()
        before = set(response.headers)
        # In the order Django runs them on the way out (settings.MIDDLEWARE is walked backwards).
        XFrameOptionsMiddleware(lambda _: response).process_response(request, response)
        SecurityMiddleware(lambda _: response).process_response(request, response)
        return [(name, value) for name, value in response.items() if name not in before]


middleware_headers = _MiddlewareHeaders()


@receiver(setting_changed, dispatch_uid="router.lean.answers.setting_changed")
def _forget_middleware_headers(**kwargs: Any) -> None:
    middleware_headers.clear()


def view_allow(view_class: type[APIView]) -> str:
    """The Allow header DRF gives the view's answers (as as_view() sets it up: HEAD joins GET)."""
    view = view_class()
    view.setup(HttpRequest())
    return ", ".join(view.allowed_methods)


def answer_send(answer: Answer, *, scheme: str, allow: str, start_response: StartResponse) -> list[bytes]:
    """Starts the WSGI response with the headers the view's answer would carry; returns its body."""
    headers = [("Content-Type", JSON), *answer.headers.items()]
    if answer.from_view:
        headers += [("Allow", allow), ("Vary", "Accept")]
    headers += [*middleware_headers.of(scheme), ("Content-Length", str(len(answer.body)))]
    start_response(f"{answer.status} {HTTPStatus(answer.status).phrase}", headers)
    return [answer.body]
