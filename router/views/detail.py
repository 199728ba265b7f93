"""GET /api/v1/messages/{id}: the stored message as the router accepted it."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from router.permissions import client_of
from router.selectors import message_get
from router.serializers import MessageDetailSerializer
from router.views.base import RouterAPIView
from router.views.schema_docs import COMMON_ERRORS, error_response


class MessageDetailView(RouterAPIView):
    @extend_schema(
        operation_id="messages_retrieve",
        summary="Get a message",
        description="A message sent with the same API key (staff see every message).",
        responses={
            200: MessageDetailSerializer,
            404: error_response("No such message for this API key."),
            **COMMON_ERRORS,
        },
    )
    def get(self, request: Request, message_id: uuid.UUID) -> Response:
        message = message_get(message_id=message_id, client=client_of(request))
        if message is None:
            raise NotFound("No such message.")
        return Response(MessageDetailSerializer(message).data)
