"""POST /api/v1/messages/{id}/cancel (router.cancellation decides)."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from messaging.lifecycle import MessageStatus
from router.cancellation import message_cancel
from router.permissions import client_of
from router.selectors import message_get
from router.views.base import RouterAPIView
from router.views.listing import MessageSummarySerializer, message_summaries
from router.views.schema_docs import COMMON_ERRORS, error_response


class MessageCancelView(RouterAPIView):
    @extend_schema(
        operation_id="messages_cancel",
        summary="Cancel a message",
        description="Stops a message no provider has yet: scheduled, accepted, pending or retrying. It is then "
        "`canceled` for good and never sent, even when the cancel races its publication or a retry. Canceling "
        "a canceled message answers 200 again. Once a provider has it (in flight, sent, …) the answer is 409 "
        "with its current status.",
        request=None,
        responses={
            200: MessageSummarySerializer,
            404: error_response("No such message for this API key."),
            409: error_response('Too late: `{"detail": ..., "status": "<current status>"}`.'),
            **COMMON_ERRORS,
        },
        examples=[
            OpenApiExample(
                "Too late",
                value={
                    "detail": "The message can no longer be canceled: it is sent.",
                    "status": MessageStatus.SENT.value,
                },
                response_only=True,
                status_codes=["409"],
            )
        ],
    )
    def post(self, request: Request, message_id: uuid.UUID) -> Response:
        message = message_get(message_id=message_id, client=client_of(request))
        if message is None:
            raise NotFound("No such message.")
        cancellation = message_cancel(message=message)
        if not cancellation.canceled:
            status = cancellation.status.value
            detail = f"The message can no longer be canceled: it is {status}."
            if cancellation.status is MessageStatus.PENDING:
                detail = "The message can no longer be canceled: a provider is being handed it (in flight)."
            return Response({"detail": detail, "status": status}, status=409)
        (summary,) = message_summaries([message])
        return Response(summary)
