"""GET /api/v1/messages/{id}: the message, its status and its timeline of log events.

The message comes from the router database; status, attempts and events from Elasticsearch,
where every service's log events for its trace id are indexed."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from elastic_transport import TransportError
from elasticsearch import ApiError
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from logging_service.timeline import message_timeline
from router.permissions import client_of
from router.selectors import DeliveryState, delivery_state_get, message_get, message_state
from router.serializers import MessageDetailSerializer
from router.views.base import RouterAPIView
from router.views.schema_docs import COMMON_ERRORS, error_response

TIMELINE_UNAVAILABLE = "The message timeline is unavailable right now (Elasticsearch unreachable); retry shortly."


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
