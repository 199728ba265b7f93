"""The JSON 404 for any /api/ path no route matches (Django's own 404 page is HTML, in DEBUG too).

A malformed message id (`/api/v1/messages/not-a-uuid`) lands here too, so API clients always get
the same `{"detail": ...}` body the API documents.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt  # it changes nothing, and a POST to a wrong URL should read "not found", not "CSRF failed"
def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=404)
