"""GET /api/v1/messages: the caller's messages, newest first, in cursor pages (DRF CursorPagination).

Filters on the router's own rows (channel, recipient, time, template) run in the database. The
status lives in each channel's delivery records (another database), so a `status` filter is applied
to the rows as they are read: a page is filled from the pages that follow (each read as a DRF page of
its own, of the size still missing, so every cursor is DRF's and no row is skipped or repeated), up to
STATUS_SCAN_READS reads; past that, or on a page reached through `previous`, it may hold fewer items
than its size (even none) while `next` still leads on. Follow `next` until it is null.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter
from rest_framework import serializers
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from messaging.envelope import utc_text
from messaging.lifecycle import MessageStatus
from messaging.priorities import Priority
from router.models import CHANNEL_CHOICES, Message
from router.permissions import client_of
from router.selectors import delivery_states_get, message_state, messages_list
from router.serializers import StrictSerializer

FILTERS = ("channel", "status", "priority", "to", "since", "until", "template")
# Query parameters that are not filters: the page's own, and the browsable API's renderer choice.
NOT_FILTERS = ("cursor", "pageSize", "format")


class MessageListFilters(StrictSerializer):
    channel = serializers.ChoiceField(choices=CHANNEL_CHOICES, required=False)
    status = serializers.ChoiceField(choices=[status.value for status in MessageStatus], required=False)
    priority = serializers.ChoiceField(choices=[priority.value for priority in Priority], required=False)
    to = serializers.CharField(max_length=320, required=False, help_text="The recipient, exactly as sent.")
    since = serializers.DateTimeField(required=False, help_text="Accepted at or after (RFC 3339).")
    until = serializers.DateTimeField(required=False, help_text="Accepted before (RFC 3339).")
    template = serializers.CharField(max_length=100, required=False, help_text="Rendered from this template.")

    def to_internal_value(self, data: Any) -> Any:
        return super().to_internal_value({k: v for k, v in data.items() if k not in NOT_FILTERS})


class MessageSummarySerializer(serializers.Serializer):
    """One listed message (the detail, GET /api/v1/messages/{id}, adds its timeline)."""

    id = serializers.UUIDField()
    traceId = serializers.CharField()
    status = serializers.ChoiceField(choices=[status.value for status in MessageStatus])
    channel = serializers.CharField()
    to = serializers.CharField()
    priority = serializers.ChoiceField(choices=[priority.value for priority in Priority])
    createdAt = serializers.DateTimeField()
    sendAt = serializers.DateTimeField(allow_null=True)
    expiresAt = serializers.DateTimeField(allow_null=True)
    template = serializers.CharField(allow_null=True)
    templateVersion = serializers.IntegerField(allow_null=True)
    attempts = serializers.IntegerField()


class MessagePageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next (older) page; null on the last.")
    previous = serializers.URLField(allow_null=True)
    results = MessageSummarySerializer(many=True)


# With `status=`: how many reads of rows may go into one page (a bound on one request's work).
STATUS_SCAN_READS = 10


class MessageCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "pageSize"
    max_page_size = 500

    def __init__(self) -> None:
        self._cursor: Cursor | None = None  # set while the following page is read
        self._size = 0

    def get_page_size(self, request: Request) -> int | None:
        return self._size or super().get_page_size(request)

    def decode_cursor(self, request: Request) -> Cursor | None:
        return self._cursor or super().decode_cursor(request)

    def following_page(self, queryset: QuerySet[Message], request: Request, view: APIView, size: int) -> list[Message]:
        """The `size` rows after the page just read, read as the page its `next` link names (empty
        when there is none); the links are then this page's."""
        link = self.get_next_link()
        if link is None:
            return []
        encoded = parse_qs(urlsplit(link).query)[self.cursor_query_param][0]
        holder = SimpleNamespace(query_params={self.cursor_query_param: encoded})  # all decode_cursor reads
        self._cursor = super().decode_cursor(holder)  # type: ignore[arg-type]
        self._size = size
        try:
            return self.paginate_queryset(queryset, request, view=view) or []
        finally:
            self._cursor, self._size = None, 0


def message_summaries(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The messages as listed, their statuses read in one query per channel."""
    states = delivery_states_get(messages=messages)
    summaries = []
    for message in messages:
        state = message_state(message, states.get(message.id))
        summaries.append(
            {
                "id": str(message.id),
                "traceId": message.trace_id,
                "status": state.status.value,
                "channel": message.channel,
                "to": message.recipient,
                "priority": message.priority,
                "createdAt": utc_text(message.created_at),
                "sendAt": utc_text(message.send_at) if message.send_at else None,
                "expiresAt": utc_text(message.expires_at) if message.expires_at else None,
                "template": message.template or None,
                "templateVersion": message.template_version,
                "attempts": state.attempts,
            }
        )
    return summaries


def message_list_response(request: Request, view: APIView) -> Response:
    filters = MessageListFilters(data=request.query_params.dict())
    filters.is_valid(raise_exception=True)
    paginator = MessageCursorPagination()
    messages = messages_list(client=client_of(request), filters=filters.validated_data)
    page = paginator.paginate_queryset(messages, request, view=view) or []
    wanted = filters.validated_data.get("status")
    if wanted is None:
        return paginator.get_paginated_response(message_summaries(page))
    previous, size = paginator.get_previous_link(), paginator.page_size
    backwards = paginator.cursor is not None and paginator.cursor.reverse
    kept = [summary for summary in message_summaries(page) if summary["status"] == wanted]
    reads = 1
    while page and len(kept) < size and reads < STATUS_SCAN_READS and not backwards:
        page = paginator.following_page(messages, request, view, size - len(kept))
        kept += [summary for summary in message_summaries(page) if summary["status"] == wanted]
        reads += 1
    return Response({"next": paginator.get_next_link(), "previous": previous, "results": kept})


LIST_PARAMETERS = [
    OpenApiParameter("channel", OpenApiTypes.STR, enum=[value for value, _ in CHANNEL_CHOICES]),
    OpenApiParameter(
        "status",
        OpenApiTypes.STR,
        enum=[status.value for status in MessageStatus],
        description="Applied to the rows as read; a page is filled from the following rows up to a bound, so it "
        "may hold fewer items (even none) while `next` leads on: follow `next` until it is null.",
    ),
    OpenApiParameter("priority", OpenApiTypes.STR, enum=[priority.value for priority in Priority]),
    OpenApiParameter("to", OpenApiTypes.STR, description="The recipient, matched exactly."),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="Accepted at or after (RFC 3339)."),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="Accepted before (RFC 3339)."),
    OpenApiParameter("template", OpenApiTypes.STR, description="Rendered from this template (its name)."),
]

LIST_EXAMPLE = OpenApiExample(
    "A page",
    value={
        "next": "http://127.0.0.1:8000/api/v1/messages?cursor=cD0yMDI2LTExLTI4",
        "previous": None,
        "results": [
            {
                "id": "0b5e5b8e-8f59-4c0b-9a55-3f7e0e5d2c11",
                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                "status": MessageStatus.SENT.value,
                "channel": "sms",
                "to": "+14155552671",
                "priority": "normal",
                "createdAt": "2026-11-28T12:00:00.000000Z",
                "sendAt": None,
                "expiresAt": "2026-11-28T16:00:00.000000Z",
                "template": "login-code",
                "templateVersion": 2,
                "attempts": 1,
            }
        ],
    },
    response_only=True,
)
