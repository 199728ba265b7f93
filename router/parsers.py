"""JSON request parsing with a size limit: an oversized body is refused with 413 before it is read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

import orjson
from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


class BoundedJSONParser(BaseParser):
    """Parses `application/json` bodies up to the view's `max_request_bytes` (or ROUTER_MAX_REQUEST_BYTES).

    DRF hands parsers the raw request stream, which Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not
    guard, so the limit is enforced here: by Content-Length first, then by what is actually read.
    """

    media_type = "application/json"

    def parse(
        self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: Mapping | None = None
    ) -> Any:
        context = parser_context or {}
        view = context.get("view")
        limit: int = getattr(view, "max_request_bytes", None) or settings.ROUTER_MAX_REQUEST_BYTES
        request = context.get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise RequestTooLarge(f"Request body is larger than {limit} bytes.")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(f"Request body is larger than {limit} bytes.")
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise ParseError(f"JSON parse error - {error}") from None
