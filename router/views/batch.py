"""/api/v1/messages/batch: up to BATCH_MAX_MESSAGES message requests, each judged on its own by the
rules of router.accept (an invalid item is a rejected result in the 202, never failing the batch);
the valid ones accepted durably together. Its input and output serializers live here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from router.accept.idempotency import IdempotencyClaim
from router.accept.prepare import AcceptedMessage
from router.accept.requests import message_request_validate
from router.accept.rules import InvalidMessage
from router.accept.services import BatchAcceptance, messages_accept_batch
from router.domain import Client, MessageRequest, batch_fingerprint
from router.errors import IdempotencyConflict
from router.permissions import client_of
from router.serializers import StrictSerializer
from router.views.base import RouterAPIView
from router.views.messages import (
    MESSAGE_REQUEST_SCHEMA,
    UnprocessableIdempotencyKey,
    accepted_message_data,
    client_templates,
    idempotency_key_of,
)
from router.views.schema_docs import BATCH_EXAMPLES, IDEMPOTENCY_KEY, POST_ERRORS, error_response

BATCH_MAX_MESSAGES = 1000


@extend_schema_field(MESSAGE_REQUEST_SCHEMA)
class BatchItemField(serializers.JSONField):
    """A batch item: any JSON value, null included, is taken here and judged on its own by the rules
    (router.accept.requests); the schema states what a valid item is, so a client generated from it
    sends valid ones."""


class BatchRequestSerializer(StrictSerializer):
    messages = serializers.ListField(
        child=BatchItemField(allow_null=True),
        min_length=1,
        max_length=BATCH_MAX_MESSAGES,
        help_text="Message requests.",
    )


class BatchItemResultSerializer(serializers.Serializer):
    """One result per request item, in request order."""

    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["accepted", "rejected"])
    id = serializers.UUIDField(required=False)
    traceId = serializers.CharField(required=False)
    channel = serializers.CharField(required=False)
    to = serializers.CharField(required=False)
    createdAt = serializers.DateTimeField(required=False)
    # Only documents the response (drf-spectacular); never bound to data, so `.errors` is not needed.
    errors = serializers.DictField(required=False, help_text="Field-level errors of a rejected item.")  # type: ignore[assignment]


class BatchResponseSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = BatchItemResultSerializer(many=True)


def batch_items(data: Any) -> list[Any]:
    """The items of a batch request; raises DRF's ValidationError as BatchRequestSerializer words it.

    A well-formed batch (an object of `messages` alone, 1 to BATCH_MAX_MESSAGES of them) is taken as it
    is: the serializer's own pass adds nothing there but a JSON round trip of every item (its field
    takes any JSON value, and each item is judged by the rules next). Anything else goes through the
    serializer, which says what is wrong exactly as before."""
    if isinstance(data, dict) and len(data) == 1:
        items = data.get("messages")
        if type(items) is list and 1 <= len(items) <= BATCH_MAX_MESSAGES:
            return items
    batch = BatchRequestSerializer(data=data)
    batch.is_valid(raise_exception=True)
    return list(batch.validated_data["messages"])


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
        items = batch_items(request.data)

        def rejected(index: int, errors: dict[str, Any]) -> None:
            self.log_rejection(errors=errors, error_type="ValidationError", status_code=400, index=index)

        try:
            acceptance = message_batch_accept(
                items=items,
                client=client_of(request),
                idempotency_key=idempotency_key,
                rejected=rejected,
            )
        except IdempotencyConflict as conflict:
            raise UnprocessableIdempotencyKey(str(conflict)) from None
        return Response(acceptance.body, status=202, headers=batch_accepted_headers(acceptance))


def batch_accepted_headers(acceptance: BatchAcceptance) -> dict[str, str]:
    return {"Idempotent-Replayed": "true"} if acceptance.replayed else {}


def message_batch_accept(
    *,
    items: Sequence[Any],
    client: Client,
    idempotency_key: str | None,
    rejected: Callable[[int, dict[str, Any]], None],
) -> BatchAcceptance:
    """A batch's items (`batch_items`) judged one by one, the valid ones accepted
    together; `rejected(index, errors)` is called for each invalid item, in order. The view and the
    lean front (router.lean) both answer with it. Raises IdempotencyConflict for a key reused with
    another batch (nothing written)."""
    results: list[dict[str, Any]] = []
    valid: list[tuple[int, MessageRequest]] = []
    templates = client_templates(client)
    for index, item in enumerate(items):
        try:
            valid.append((index, message_request_validate(item, templates=templates)))
            results.append({})
        except InvalidMessage as error:
            results.append({"index": index, "status": "rejected", "errors": error.errors})
            rejected(index, error.errors)

    def respond(messages: Sequence[AcceptedMessage]) -> dict[str, Any]:
        for (index, _), message in zip(valid, messages, strict=True):
            results[index] = {"index": index, **accepted_message_data(message)}
        return {"accepted": len(messages), "rejected": len(results) - len(messages), "results": results}

    claim = None if idempotency_key is None else IdempotencyClaim(idempotency_key, batch_fingerprint(items))
    return messages_accept_batch(
        requests=[item for _, item in valid], client=client, respond=respond, idempotency=claim
    )
