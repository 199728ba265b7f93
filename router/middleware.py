"""Middleware of the API: JSON errors under /api/, and the request counter of /metrics.

Under /api/, an unexpected error answers JSON in DRF's error format, in DEBUG too, and so does an
error another view answered otherwise (a wrong method on anymail's webhooks or the docs pages), unless
the client asked for HTML.

DRF renders its own exceptions as JSON; anything else (a bug, a broken dependency) reaches Django,
which would answer its HTML error page (the technical one in DEBUG). API clients get
`{"detail": "Internal server error."}` with status 500 instead; the error is logged with its traceback
as Django would have logged it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from messaging.metrics import API_REQUESTS

logger = logging.getLogger("django.request")

API_PREFIX = "/api/"


class ApiJsonErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code >= 400 and request.path.startswith(API_PREFIX) and _json_wanted(request, response):
            return _as_json_error(request, response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX):
            return None  # Django's own handling (admin, pages)
        return api_error_response(request, exception)


def _json_wanted(request: HttpRequest, response: HttpResponse) -> bool:
    """An error answered in something else than JSON — Django's empty 405 of a view that is not DRF's
    (anymail's webhooks), the docs pages' HTML, the schema view's YAML — that the client did not ask
    for as HTML (a browser on the browsable API keeps its page)."""
    if response.get("Content-Type", "").startswith("application/json"):
        return False
    return "text/html" not in request.META.get("HTTP_ACCEPT", "")


def _as_json_error(request: HttpRequest, response: HttpResponse) -> JsonResponse:
    """The same error in DRF's JSON format, with the original's Allow, Retry-After, WWW-Authenticate and Vary."""
    data = getattr(response, "data", None)  # a DRF Response rendered otherwise: its own detail
    detail = data.get("detail") if isinstance(data, dict) else None
    if detail is None:
        if response.status_code == 405:
            detail = f'Method "{request.method}" not allowed.'  # as DRF's MethodNotAllowed says it
        elif response.status_code == 404:
            detail = "Not found."
        else:
            detail = f"{response.reason_phrase}."
    answer = JsonResponse({"detail": detail}, status=response.status_code)
    for name in _KEPT_HEADERS:  # what says how to go on; not those of the replaced body
        if name in response:
            answer[name] = response[name]
    return answer


_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "Vary")


def api_error_response(request: HttpRequest, exception: Exception) -> JsonResponse:
    """The JSON answer to an exception a view under /api/ raised (DRF's own are answered by DRF)."""
    return api_error_answer(request.path, exception)


def api_error_answer(path: str, exception: Exception) -> JsonResponse:
    """api_error_response by the request's path: the lean front (router.lean) has no request."""
    # What Django itself answers with a 4xx (views that are not DRF's: anymail's webhooks), as JSON.
    if isinstance(exception, SuspiciousOperation):  # e.g. a webhook without its secret
        logging.getLogger("django.security").warning("%s: %s", type(exception).__name__, exception)
        return JsonResponse({"detail": "Bad request."}, status=400)
    if isinstance(exception, PermissionDenied):
        return JsonResponse({"detail": "Permission denied."}, status=403)
    if isinstance(exception, Http404):
        return JsonResponse({"detail": "Not found."}, status=404)
    logger.error("Internal Server Error: %s", path, exc_info=exception, extra={"status_code": 500})
    return JsonResponse({"detail": "Internal server error."}, status=500)


class ApiMetricsMiddleware:
    """Counts every answer under /api/ by method and status (`comms_api_requests_total`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(API_PREFIX):
            API_REQUESTS.labels(method=request.method or "", status=str(response.status_code)).inc()
        return response
