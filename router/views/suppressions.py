"""GET and DELETE /api/v1/suppressions/{channel}/{recipient}: whether a recipient is on a channel's
suppression list (delivery.selectors), and taking them off it so they can be sent to again — a
bounce or an operator's entry; an opt-out (STOP, complaint) only the recipient or staff lift (409)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from delivery.selectors import suppression_get
from delivery.suppressions import SuppressionIsOptOut, suppression_lift
from router.views.base import RouterAPIView
from router.views.schema_docs import COMMON_ERRORS, error_response


class SuppressionSerializer(serializers.Serializer):
    channel = serializers.CharField()
    recipient = serializers.CharField()
    reason = serializers.ChoiceField(choices=["bounced", "complained", "unsubscribed", "manual"])
    detail = serializers.CharField()
    createdAt = serializers.DateTimeField()


NO_SUCH_CHANNEL = "No such channel."


class SuppressionDetailView(RouterAPIView):
    @extend_schema(
        operation_id="suppressions_retrieve",
        summary="Is a recipient suppressed?",
        description="A recipient on a channel's suppression list gets no messages of that channel: they end "
        "`suppressed` with no provider call. Added by a hard bounce, a complaint, or a STOP reply.",
        responses={
            200: SuppressionSerializer,
            404: error_response("Not suppressed (or no such channel)."),
            **COMMON_ERRORS,
        },
    )
    def get(self, request: Request, channel: str, recipient: str) -> Response:
        try:
            entry = suppression_get(channel=channel, recipient=recipient)
        except LookupError:
            raise NotFound(NO_SUCH_CHANNEL) from None
        if entry is None:
            raise NotFound("This recipient is not suppressed.")
        return Response(
            {
                "channel": entry.channel.value,
                "recipient": entry.recipient,
                "reason": entry.reason,
                "detail": entry.detail,
                "createdAt": entry.created_at,
            }
        )

    @extend_schema(
        operation_id="suppressions_destroy",
        summary="Lift a suppression",
        description="Messages to the recipient are sent again from now on (not those already `suppressed`). "
        "Only a `bounced` or `manual` suppression: an opt-out (`unsubscribed`: a STOP reply; `complained`: a "
        "spam complaint) is the recipient's to lift (a START reply) or staff's in the admin, and answers 409.",
        responses={
            204: None,
            404: error_response("Not suppressed (or no such channel)."),
            409: error_response('An opt-out, not lifted by an API key: `{"detail": ..., "reason": "<reason>"}`.'),
            **COMMON_ERRORS,
        },
        examples=[
            OpenApiExample(
                "An opt-out",
                value={
                    "detail": "The recipient opted out (unsubscribed): only the recipient can lift it (an opt-in "
                    "such as a START reply), or staff in the admin.",
                    "reason": "unsubscribed",
                },
                response_only=True,
                status_codes=["409"],
            )
        ],
    )
    def delete(self, request: Request, channel: str, recipient: str) -> Response:
        try:
            lifted = suppression_lift(channel=channel, recipient=recipient)
        except LookupError:
            raise NotFound(NO_SUCH_CHANNEL) from None
        except SuppressionIsOptOut as opt_out:
            return Response({"detail": str(opt_out), "reason": opt_out.reason}, status=409)
        if not lifted:
            raise NotFound("This recipient is not suppressed.")
        return Response(status=204)
