"""GET /api/v1/messages/{id}: the message, its status and its timeline of log events.

The message comes from the router database; status, attempts and events from Elasticsearch,
where every service's log events for its trace id are indexed."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from elastic_transport import TransportError
from elasticsearch import ApiError
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from logging_service.timeline import message_timeline
from messaging.lifecycle import MessageStatus
from messaging.priorities import Priority
from router.models import Message
from router.permissions import client_of
from router.selectors import DeliveryState, delivery_state_get, message_get, message_state
from router.trace_links import trace_path
from router.views.base import RouterAPIView
from router.views.messages import AcceptedMessageSerializer
from router.views.schema_docs import COMMON_ERRORS, error_response

TIMELINE_UNAVAILABLE = "The message timeline is unavailable right now (Elasticsearch unreachable); retry shortly."


class TimelineEventSerializer(serializers.Serializer):
    """One log event of the message, as indexed in Elasticsearch."""

    timestamp = serializers.DateTimeField()
    service = serializers.CharField()
    action = serializers.CharField(help_text="e.g. message.accepted, delivery.retry_scheduled, delivery.sent")
    outcome = serializers.CharField(help_text="success | failure | unknown")
    attempt = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    provider = serializers.CharField(allow_null=True, help_text="delivery.sent: the provider that took the message.")


class MessageDetailSerializer(AcceptedMessageSerializer):
    """The message with its current status and timeline: context["timeline"], ["status"], ["attempts"]."""

    status = serializers.SerializerMethodField()
    attempts = serializers.SerializerMethodField(help_text="Delivery attempts made so far.")
    events = serializers.SerializerMethodField()
    provider = serializers.SerializerMethodField(
        help_text="The provider that took the message (smtp://host:port, twilio, …); empty until it is sent."
    )
    sendAt = serializers.DateTimeField(source="send_at", allow_null=True)
    template = serializers.CharField(allow_null=True, help_text="The template it was rendered from, if any.")
    templateVersion = serializers.IntegerField(source="template_version", allow_null=True)
    traceUrl = serializers.SerializerMethodField(
        help_text="The message's trace page for a browser, no login needed; the link is valid for 24 hours."
    )
    priority = serializers.ChoiceField(choices=[priority.value for priority in Priority])
    expiresAt = serializers.DateTimeField(
        source="expires_at",
        allow_null=True,
        help_text="Not handed to a provider after this: as given, or sendAt/acceptance plus the channel's default "
        "TTL (null for messages accepted before expiry existed).",
    )
    segments = serializers.IntegerField(
        allow_null=True, help_text="SMS and WhatsApp: the segments the body takes (GSM-7 or UCS-2); null for email."
    )

    class Meta(AcceptedMessageSerializer.Meta):
        fields = [
            *AcceptedMessageSerializer.Meta.fields,
            "priority",
            "expiresAt",
            "segments",
            "template",
            "templateVersion",
            "metadata",
            "attempts",
            "provider",
            "events",
            "traceUrl",
        ]

    def get_traceUrl(self, message: Message) -> str:
        return str(self.context["request"].build_absolute_uri(trace_path(message.id)))

    @extend_schema_field(serializers.ChoiceField(choices=[status.value for status in MessageStatus]))
    def get_status(self, message: Message) -> str:
        return str(self.context["status"].value)

    def get_attempts(self, message: Message) -> int:
        return int(self.context["attempts"])

    def get_provider(self, message: Message) -> str:
        return str(self.context.get("provider") or "")

    @extend_schema_field(TimelineEventSerializer(many=True))
    def get_events(self, message: Message) -> list[dict[str, Any]]:
        return list(TimelineEventSerializer(self.context["timeline"].events, many=True).data)


class MessageDetailView(RouterAPIView):
    @extend_schema(
        operation_id="messages_retrieve",
        summary="Get a message",
        description=(
            "A message sent with the same API key (staff see every message), with its current status "
            "(scheduled | accepted | pending | retrying | sent | delivered | undelivered | bounced | complained | "
            "failed | suppressed | canceled | expired | unknown), its priority, when it expires, the SMS/WhatsApp "
            "segments its body takes, the number of delivery attempts and its timeline of events from every "
            "service, oldest first. Events reach the timeline within about a second of happening."
        ),
        responses={
            200: MessageDetailSerializer,
            404: error_response("No such message for this API key."),
            503: error_response("Elasticsearch is unreachable; retry shortly."),
            **COMMON_ERRORS,
        },
    )
    def get(self, request: Request, message_id: uuid.UUID) -> Response:
        message = message_get(message_id=message_id, client=client_of(request))
        if message is None:
            raise NotFound("No such message.")
        try:
            timeline = message_timeline(trace_id=message.trace_id, message_id=str(message.id))
        except (TransportError, ApiError):
            return Response({"detail": TIMELINE_UNAVAILABLE}, status=503, headers={"Retry-After": "5"})
        events = DeliveryState(status=timeline.status, attempts=timeline.attempts)
        state = message_state(message, delivery_state_get(message=message), events=events)
        context = {
            "timeline": timeline,
            "request": request,
            "status": state.status,
            "attempts": state.attempts,
            "provider": state.provider,
        }
        return Response(MessageDetailSerializer(message, context=context).data)
