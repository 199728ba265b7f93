"""OpenAPI pieces the views share: per-channel request examples and the error responses."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from messaging.lifecycle import MessageStatus

EMAIL_EXAMPLE = {
    "channel": "email",
    "to": "ada@example.com",
    "subject": "Your order has shipped",
    "body": "Hello Ada, your order #1042 is on its way.",
    "metadata": {"orderId": "1042"},
}
SMS_EXAMPLE = {"channel": "sms", "to": "+14155552671", "body": "Your code is 482913"}
WHATSAPP_EXAMPLE = {
    "channel": "whatsapp",
    "to": "+447911123456",
    "body": "Your table for two is booked for 19:30.",
    "metadata": {"bookingId": "B-77"},
}
ACCEPTED_EXAMPLE = {
    "id": "0b5e5b8e-8f59-4c0b-9a55-3f7e0e5d2c11",
    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
    "status": MessageStatus.ACCEPTED.value,
    "channel": "sms",
    "to": "+14155552671",
    "createdAt": "2025-01-01T12:00:00.000000Z",
}

REQUEST_EXAMPLES = [
    OpenApiExample("Email", value=EMAIL_EXAMPLE, request_only=True),
    OpenApiExample("SMS", value=SMS_EXAMPLE, request_only=True),
    OpenApiExample("WhatsApp", value=WHATSAPP_EXAMPLE, request_only=True),
    OpenApiExample(
        "From a template",
        value={"channel": "sms", "to": "+14155552671", "template": "login-code", "data": {"code": "482913"}},
        request_only=True,
    ),
    OpenApiExample(
        "Scheduled",
        value={**SMS_EXAMPLE, "sendAt": "2026-12-01T09:00:00Z"},
        request_only=True,
    ),
    OpenApiExample(
        "Accepted, scheduled",
        value={**ACCEPTED_EXAMPLE, "status": MessageStatus.SCHEDULED.value, "sendAt": "2026-12-01T09:00:00Z"},
        response_only=True,
        status_codes=["202"],
    ),
    OpenApiExample("Accepted", value=ACCEPTED_EXAMPLE, response_only=True, status_codes=["202"]),
    OpenApiExample(
        "Invalid phone number",
        value={"to": ["Enter the number in E.164 format, e.g. +14155552671."]},
        response_only=True,
        status_codes=["400"],
    ),
]

BATCH_EXAMPLES = [
    OpenApiExample(
        "Mixed batch", value={"messages": [EMAIL_EXAMPLE, SMS_EXAMPLE, WHATSAPP_EXAMPLE]}, request_only=True
    ),
    OpenApiExample(
        "Per-item results",
        value={
            "accepted": 1,
            "rejected": 1,
            "results": [
                {"index": 0, **ACCEPTED_EXAMPLE},
                {"index": 1, "status": "rejected", "errors": {"to": ["This is not a valid phone number."]}},
            ],
        },
        response_only=True,
        status_codes=["202"],
    ),
]

TRACEPARENT = OpenApiParameter(
    "traceparent",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="W3C trace context; its trace id becomes the message's traceId.",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    # As enforced by the view: 1..255 characters, not only whitespace.
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
    OpenApiParameter.HEADER,
    description="Up to 255 characters. The same key and body within 24 h returns the first response and "
    "sends nothing again; the same key with another body is refused with 422.",
)


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(OpenApiTypes.OBJECT, description=description)


# Any request may meet a server at capacity (config/gunicorn_worker.py), whatever its operation.
AT_CAPACITY = {503: error_response("The server is at capacity: retry after the time the `Retry-After` header gives.")}
COMMON_ERRORS = {
    401: error_response('No API key, or an invalid or revoked one (`{"detail": ...}`).'),
    429: error_response("Too many requests for this API key; see the `Retry-After` header."),
    **AT_CAPACITY,
}
POST_ERRORS = {
    **COMMON_ERRORS,
    400: error_response("Validation failed: field name → list of messages (DRF format), or malformed JSON."),
    413: error_response("Request body too large."),
    415: error_response("Content type is not application/json."),
}
