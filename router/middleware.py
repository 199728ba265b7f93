"""Middleware of the API: JSON errors under /api/, and the request counter of /metrics.

Under /api/, an unexpected error answers JSON in DRF's error format, in DEBUG too.

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

from operations.metrics import API_REQUESTS

logger = logging.getLogger("django.request")

API_PREFIX = "/api/"


class ApiJsonErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX):
            return None  # Django's own handling (admin, pages)
        return api_error_response(request, exception)


def api_error_response(request: HttpRequest, exception: Exception) -> JsonResponse:
    """The JSON answer to an exception a view under /api/ raised (DRF's own are answered by DRF)."""
    # What Django itself answers with a 4xx (views that are not DRF's: anymail's webhooks), as JSON.
    if isinstance(exception, SuspiciousOperation):  # e.g. a webhook without its secret
        logging.getLogger("django.security").warning("%s: %s", type(exception).__name__, exception)
        return JsonResponse({"detail": "Bad request."}, status=400)
    if isinstance(exception, PermissionDenied):
        return JsonResponse({"detail": "Permission denied."}, status=403)
    if isinstance(exception, Http404):
        return JsonResponse({"detail": "Not found."}, status=404)
    logger.error("Internal Server Error: %s", request.path, exc_info=exception, extra={"status_code": 500})
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
