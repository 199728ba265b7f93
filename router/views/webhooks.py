"""/api/v1/webhooks: a client's status webhook endpoints (webhooks app). POST → 201 with the signing
secret, shown this once; GET lists them (no secrets); /api/v1/webhooks/{id}: GET, DELETE (204);
/api/v1/webhooks/{id}/enable: POST, after the worker disabled it (docs/api.md#status-webhooks)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from messaging.lifecycle import MessageStatus
from router.permissions import client_of
from router.serializers import StrictSerializer
from router.views.base import RouterAPIView
from router.views.schema_docs import COMMON_ERRORS, POST_ERRORS, error_response
from webhooks.addresses import UnsafeWebhookUrl, check_webhook_url
from webhooks.events import EVENT_TYPES, event_type_of
from webhooks.models import WebhookEndpoint
from webhooks.services import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_enable,
    webhook_endpoint_get,
    webhook_endpoints_list,
)


class WebhookEndpointSerializer(StrictSerializer):
    id = serializers.UUIDField(read_only=True)
    url = serializers.URLField(max_length=2000, help_text="http(s); public addresses only in production.")
    events = serializers.ListField(child=serializers.ChoiceField(choices=list(EVENT_TYPES)), min_length=1)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    disabled = serializers.BooleanField(
        read_only=True,
        help_text="Nothing is posted while true: every post failed for `WEBHOOKS_DISABLE_AFTER` (5 days unless "
        "configured). Enable it with `POST /api/v1/webhooks/{id}/enable`.",
    )
    disabledAt = serializers.DateTimeField(source="disabled_at", read_only=True, allow_null=True)
    disabledReason = serializers.CharField(
        source="disabled_reason", read_only=True, help_text="Why it was disabled; empty while enabled."
    )

    def validate_url(self, value: str) -> str:
        try:
            check_webhook_url(value, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE)
        except UnsafeWebhookUrl as error:
            raise serializers.ValidationError(str(error)) from None
        return value


class CreatedWebhookEndpointSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="`whsec_…`: verify each request's `webhook-signature` with it. Shown once."
    )


class WebhooksView(RouterAPIView):
    @extend_schema(
        operation_id="webhooks_list",
        summary="List webhook endpoints",
        responses={200: WebhookEndpointSerializer(many=True), **COMMON_ERRORS},
    )
    def get(self, request: Request) -> Response:
        endpoints = webhook_endpoints_list(client=client_of(request).id)
        return Response(WebhookEndpointSerializer(endpoints, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Add a webhook endpoint",
        description="Each status change of this API key's messages, of the types listed, is POSTed there as "
        '`{"type", "timestamp", "data": {"id", "traceId", "channel", "status", "attempts"}}`, signed as the '
        "Standard Webhooks spec says (`webhook-id`, `webhook-timestamp`, `webhook-signature`). At least once: "
        "deduplicate by `webhook-id`. A timeout, a connection error, 408, 429 or 5xx is retried for hours "
        "(`Retry-After` honoured), then the event is dead-lettered; any other 4xx, a 3xx (never followed) or a "
        "refused address is dead-lettered at once. An endpoint whose every post failed for 5 days (by default) "
        "is disabled (`disabled`): nothing is posted to it until `POST /api/v1/webhooks/{id}/enable`.",
        request=WebhookEndpointSerializer,
        responses={201: CreatedWebhookEndpointSerializer, **POST_ERRORS},
        examples=[
            OpenApiExample(
                "Endpoint",
                value={
                    "url": "https://example.com/hooks/comms",
                    "events": [event_type_of(MessageStatus.SENT), event_type_of(MessageStatus.FAILED)],
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = WebhookEndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = serializer.validated_data
        endpoint = webhook_endpoint_create(client=client_of(request).id, url=data["url"], events=data["events"])
        return Response(CreatedWebhookEndpointSerializer(endpoint).data, status=201)


def _endpoint(request: Request, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = webhook_endpoint_get(client=client_of(request).id, endpoint_id=endpoint_id)
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


class WebhookDetailView(RouterAPIView):
    @extend_schema(
        operation_id="webhooks_retrieve",
        summary="Get a webhook endpoint",
        responses={200: WebhookEndpointSerializer, 404: error_response("No such endpoint."), **COMMON_ERRORS},
    )
    def get(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        return Response(WebhookEndpointSerializer(_endpoint(request, endpoint_id)).data)

    @extend_schema(
        operation_id="webhooks_destroy",
        summary="Remove a webhook endpoint",
        description="Events not yet delivered to it are dropped.",
        responses={204: None, 404: error_response("No such endpoint."), **COMMON_ERRORS},
    )
    def delete(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        webhook_endpoint_delete(endpoint=_endpoint(request, endpoint_id))
        return Response(status=204)


class WebhookEnableView(RouterAPIView):
    @extend_schema(
        operation_id="webhooks_enable",
        summary="Enable a disabled webhook endpoint",
        description="Posts to it resume with the next event; its failing clock starts afresh. Events that "
        "came while it was disabled were not posted: they are kept on the dead-letter topic. Enabling an "
        "endpoint that is not disabled answers 200 and changes nothing.",
        request=None,
        responses={200: WebhookEndpointSerializer, 404: error_response("No such endpoint."), **COMMON_ERRORS},
    )
    def post(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        endpoint = webhook_endpoint_enable(endpoint=_endpoint(request, endpoint_id))
        return Response(WebhookEndpointSerializer(endpoint).data)
