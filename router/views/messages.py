"""/api/v1/messages (POST: send one; GET: list, router.views.listing) and /api/v1/messages/batch:
validate, accept durably, publish."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import get_script_prefix, get_urlconf, reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from router.domain import Client, batch_fingerprint
from router.errors import IdempotencyConflict
from router.permissions import client_of
from router.selectors import template_get
from router.serializers import (
    MESSAGE_REQUEST_SCHEMA,
    AcceptedMessage,
    AcceptedMessageSerializer,
    BatchRequestSerializer,
    BatchResponseSerializer,
    MessageRequestValidator,
    TemplateSource,
    accepted_message_data,
    message_request_validate,
)
from router.services import Acceptance, message_accept, messages_accept_batch
from router.views.base import RouterAPIView
from router.views.listing import (
    LIST_EXAMPLE,
    LIST_PARAMETERS,
    MessagePageSerializer,
    message_list_response,
)
from router.views.schema_docs import (
    BATCH_EXAMPLES,
    COMMON_ERRORS,
    IDEMPOTENCY_KEY,
    POST_ERRORS,
    REQUEST_EXAMPLES,
    TRACEPARENT,
    error_response,
)

IDEMPOTENCY_KEY_MAX_CHARS = 255


class UnprocessableIdempotencyKey(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"


def idempotency_key_of(request: HttpRequest | Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key.strip() or len(key) > IDEMPOTENCY_KEY_MAX_CHARS:
        raise ValidationError({"Idempotency-Key": [f"Must be 1 to {IDEMPOTENCY_KEY_MAX_CHARS} characters."]})
    return key


def client_templates(client: Client) -> TemplateSource:
    """The client's templates by name, each read once per request (a batch may name one 1000 times)."""
    return functools.cache(lambda name: template_get(client=client, name=name))


_PLACEHOLDER_ID = uuid.UUID(int=0)


@functools.lru_cache(maxsize=16)
def _detail_path_template(script_prefix: str, urlconf: str | None) -> str:
    """The detail path with a placeholder id, reversed once per script prefix and URLconf (both decide
    the result) instead of once per request."""
    return reverse("message-detail", kwargs={"message_id": _PLACEHOLDER_ID})


def accepted_headers(request: HttpRequest | Request, acceptance: Acceptance) -> dict[str, str]:
    """A 202's own headers: where the message is, and whether an earlier request's answer is replayed."""
    path = _detail_path_template(get_script_prefix(), get_urlconf())
    headers = {"Location": request.build_absolute_uri(path.replace(str(_PLACEHOLDER_ID), str(acceptance.message.id)))}
    if acceptance.replayed:
        headers["Idempotent-Replayed"] = "true"
    return headers


class MessagesView(RouterAPIView):
    logs_rejections = True

    @extend_schema(
        operation_id="messages_list",
        summary="List messages",
        description="The messages sent with this API key (staff see every message), newest first, in cursor "
        "pages: follow `next`. Statuses come from the channels' delivery records; GET a message for its timeline.",
        parameters=LIST_PARAMETERS,
        responses={
            200: MessagePageSerializer,
            400: error_response("An unknown or invalid filter."),
            **COMMON_ERRORS,
        },
        examples=[LIST_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        return message_list_response(request, self)

    @extend_schema(
        operation_id="messages_create",
        summary="Send a message",
        description="Accepts one message for email, SMS or WhatsApp. A 202 means it is durably stored and "
        "will reach its channel service; the `Location` header points at the message.",
        request=MESSAGE_REQUEST_SCHEMA,
        parameters=[IDEMPOTENCY_KEY, TRACEPARENT],
        responses={
            202: AcceptedMessageSerializer,
            **POST_ERRORS,
            422: error_response("The Idempotency-Key was already used with a different body."),
        },
        examples=REQUEST_EXAMPLES,
    )
    def post(self, request: Request) -> Response:
        idempotency_key = idempotency_key_of(request)
        message_request = message_request_validate(request.data, templates=client_templates(client_of(request)))
        try:
            acceptance = message_accept(
                request=message_request,
                client=client_of(request),
                trace=self.trace_context,
                idempotency_key=idempotency_key,
            )
        except IdempotencyConflict as conflict:
            raise UnprocessableIdempotencyKey(str(conflict)) from None
        headers = accepted_headers(request, acceptance)
        return Response(accepted_message_data(acceptance.message), status=202, headers=headers)


class MessageBatchView(RouterAPIView):
    logs_rejections = True

    @property
    def max_request_bytes(self) -> int:
        return int(settings.ROUTER_MAX_BATCH_REQUEST_BYTES)

    @extend_schema(
        operation_id="messages_batch_create",
        summary="Send up to 1000 messages",
        description="Each item is validated on its own: valid items are accepted even when others are "
        "rejected. One result per item, in request order. Each message gets its own traceId.",
        request=BatchRequestSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            202: BatchResponseSerializer,
            **POST_ERRORS,
            422: error_response("The Idempotency-Key was already used with a different batch."),
        },
        examples=BATCH_EXAMPLES,
    )
    def post(self, request: Request) -> Response:
        idempotency_key = idempotency_key_of(request)
        batch = BatchRequestSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        results: list[dict[str, Any]] = []
        valid: list[tuple[int, Any]] = []
        validator = MessageRequestValidator()
        templates = client_templates(client_of(request))
        for index, item in enumerate(batch.validated_data["messages"]):
            try:
                valid.append((index, validator.validate(item, templates=templates)))
                results.append({})
            except ValidationError as error:
                results.append({"index": index, "status": "rejected", "errors": error.detail})
                self.log_rejection(errors=error.detail, error_type="ValidationError", status_code=400, index=index)

        def respond(messages: Sequence[AcceptedMessage]) -> dict[str, Any]:
            for (index, _), message in zip(valid, messages, strict=True):
                results[index] = {"index": index, **accepted_message_data(message)}
            return {"accepted": len(messages), "rejected": len(results) - len(messages), "results": results}

        idempotency = None
        if idempotency_key is not None:
            idempotency = (idempotency_key, batch_fingerprint(batch.validated_data["messages"]))
        try:
            acceptance = messages_accept_batch(
                requests=[item for _, item in valid],
                client=client_of(request),
                respond=respond,
                idempotency=idempotency,
            )
        except IdempotencyConflict as conflict:
            raise UnprocessableIdempotencyKey(str(conflict)) from None
        headers = {"Idempotent-Replayed": "true"} if acceptance.replayed else {}
        return Response(acceptance.body, status=202, headers=headers)
