"""What every router view shares: the request's trace context and the `message.rejected` log."""

from __future__ import annotations

from functools import cached_property

import orjson
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from messaging.lifecycle import Action
from messaging.log_events import Outcome
from messaging.tracing import TraceContext
from router.authentication import ApiKeyAuthentication
from router.kafka import router_log
from router.parsers import BoundedJSONParser
from router.permissions import HasApiKeyOrIsStaff
from router.throttles import ApiKeyRateThrottle

# Statuses that mean "this message request was refused" (auth and throttling are not about the message).
REJECTIONS = {
    status.HTTP_400_BAD_REQUEST,
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    status.HTTP_422_UNPROCESSABLE_ENTITY,
}


# A log event stays small however many items a batch rejected (a 1000-item batch of nulls has 1000 errors).
LOGGED_ERRORS_MAX_CHARS = 2000


def _errors_text(errors: object) -> str:
    """DRF errors as JSON; list-item errors are keyed by int, which orjson only takes with OPT_NON_STR_KEYS."""
    text = orjson.dumps(errors, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    return text if len(text) <= LOGGED_ERRORS_MAX_CHARS else text[: LOGGED_ERRORS_MAX_CHARS - 1] + "…"


class RouterAPIView(APIView):
    # Set here, not as REST_FRAMEWORK defaults, so the schema and docs views stay public.
    # The first authentication class answers the WWW-Authenticate challenge: no key → 401, not 403.
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [HasApiKeyOrIsStaff]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [BoundedJSONParser]
    logs_rejections = False

    # Not named `trace`: Django's View dispatches by method name, so an HTTP TRACE would call it.
    @cached_property
    def trace_context(self) -> TraceContext:
        """The caller's trace (an incoming `traceparent` is honoured, as a new span) or a new one."""
        return TraceContext.of_request(self.request.META.get("HTTP_TRACEPARENT"))

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if self.logs_rejections and self.request.method == "POST" and response.status_code in REJECTIONS:
            self.log_rejection(errors=response.data, error_type=type(exc).__name__, status_code=response.status_code)
        return response

    def log_rejection(self, *, errors: object, error_type: str, status_code: int, index: int | None = None) -> None:
        message_rejection_log(
            trace_id=self.trace_context.trace_id,
            errors=errors,
            error_type=error_type,
            status_code=status_code,
            index=index,
        )


def message_rejection_log(
    *, trace_id: str, errors: object, error_type: str, status_code: int, index: int | None = None
) -> None:
    """The `message.rejected` event of a refused request (or batch item); the lean front (router.lean)
    logs its batches' rejected items with it too. The errors are logged, never the request body (it
    may hold personal data)."""
    labels = {"http_status": str(status_code)}
    if index is not None:
        labels["batch_index"] = str(index)
    router_log().emit(
        Action.MESSAGE_REJECTED,
        trace_id=trace_id,
        outcome=Outcome.FAILURE,
        level="warning",
        message=f"message request rejected ({status_code})",
        error_type=error_type,
        error_message=_errors_text(errors),
        labels=labels,
    )
