"""GET and DELETE /api/v1/suppressions/{channel}/{recipient}: whether a recipient is on a channel's
suppression list (delivery.suppressions), and taking them off it so they can be sent to again."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from delivery.registry import ChannelSpec, get_channel
from delivery.suppressions import suppression_get, suppression_remove
from router.views.base import RouterAPIView
from router.views.schema_docs import COMMON_ERRORS, error_response


class SuppressionSerializer(serializers.Serializer):
    channel = serializers.CharField()
    recipient = serializers.CharField()
    reason = serializers.ChoiceField(choices=["bounced", "complained", "unsubscribed", "manual"])
    detail = serializers.CharField()
    createdAt = serializers.DateTimeField()


def _spec(channel: str) -> ChannelSpec:
    try:
        return get_channel(channel)
    except LookupError:
        raise NotFound("No such channel.") from None


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
        spec = _spec(channel)
        row = suppression_get(spec=spec, recipient=recipient)
        if row is None:
            raise NotFound("This recipient is not suppressed.")
        return Response(
            {
                "channel": spec.channel.value,
                "recipient": row.recipient,
                "reason": row.reason,
                "detail": row.detail,
                "createdAt": row.created_at,
            }
        )

    @extend_schema(
        operation_id="suppressions_destroy",
        summary="Lift a suppression",
        description="Messages to the recipient are sent again from now on (not those already `suppressed`).",
        responses={204: None, 404: error_response("Not suppressed (or no such channel)."), **COMMON_ERRORS},
    )
    def delete(self, request: Request, channel: str, recipient: str) -> Response:
        if not suppression_remove(spec=_spec(channel), recipient=recipient):
            raise NotFound("This recipient is not suppressed.")
        return Response(status=204)
