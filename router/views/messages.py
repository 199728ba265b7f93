"""/api/v1/messages (POST: send one; GET: list, router.views.listing): validate, accept durably.

Here too the serializers of a message request (one per channel, for the schema and the browsable API;
the rules they apply are router.accept.rules) and of the 202's accepted message. The batch view
(router.views.batch) and the lean front (router.lean) answer with the same pieces.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.urls import get_script_prefix, get_urlconf, reverse
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.fields import empty
from rest_framework.request import Request
from rest_framework.response import Response

from messaging.channels import Channel
from messaging.envelope import utc_text
from messaging.lifecycle import MessageStatus
from messaging.priorities import Priority
from router.accept.prepare import AcceptedMessage
from router.accept.rendering import TemplateSource
from router.accept.requests import message_request_validate
from router.accept.rules import (
    CONTROL_CHARACTERS_CLASS,
    E164,
    EMAIL_ADDRESS_MAX_CHARS,
    EMAIL_BODY_MAX_BYTES,
    EMAIL_SUBJECT_MAX_CHARS,
    METADATA_MAX_BYTES,
    SEND_AT_MAX_DAYS,
    SMS_BODY_MAX_CHARS,
    WHATSAPP_BODY_MAX_CHARS,
    InvalidMessage,
)
from router.accept.services import Acceptance, message_accept
from router.domain import Client, MessageRequest
from router.errors import IdempotencyConflict
from router.models import CHANNEL_CHOICES, Message
from router.permissions import client_of
from router.selectors import template_get
from router.serializers import StrictCharField, StrictSerializer
from router.views.base import RouterAPIView
from router.views.listing import LIST_EXAMPLE, LIST_PARAMETERS, MessagePageSerializer, message_list_response
from router.views.schema_docs import (
    COMMON_ERRORS,
    IDEMPOTENCY_KEY,
    POST_ERRORS,
    REQUEST_EXAMPLES,
    TRACEPARENT,
    error_response,
)

IDEMPOTENCY_KEY_MAX_CHARS = 255
# No control character anywhere, said as JSON Schema: as `not` a search, which ECMA-262 and Python's
# re read alike (an anchored `^[^…]*$` would let Python's `$` pass a final "\n").
ONE_LINE_SCHEMA = {"not": {"pattern": f"[{CONTROL_CHARACTERS_CLASS}]"}}


# --- A message request: what the schema says of it (the rules are router.accept.rules) ---------------


@extend_schema_field({"type": "string", **ONE_LINE_SCHEMA})
class OneLineCharField(StrictCharField):
    """Text for a header line: no line breaks or other control characters."""


@extend_schema_field({"type": "string", "pattern": E164.pattern, "example": "+14155552671"})
class E164PhoneField(StrictCharField):
    """An E.164 phone number."""


@extend_schema_field({"type": "object", "additionalProperties": {}})
class JsonObjectField(serializers.JSONField):
    """A JSON object: a message's `metadata`."""


def _channel_field(channel: Channel) -> serializers.ChoiceField:
    """Each channel's serializer takes only its own channel, so the schema's `oneOf` has exactly
    one branch per request (an SMS request is not also a valid WhatsApp request)."""
    return serializers.ChoiceField(choices=[(channel.value, channel.name.title())])


class _MessageSerializer(StrictSerializer):
    channel = serializers.ChoiceField(choices=CHANNEL_CHOICES)
    to = StrictCharField(max_length=320)
    body = StrictCharField(trim_whitespace=False, required=False)
    metadata = JsonObjectField(required=False, help_text=f"Any JSON object, at most {METADATA_MAX_BYTES} bytes.")
    sendAt = serializers.DateTimeField(
        required=False,
        help_text=f"RFC 3339 time to send it at, from now to {SEND_AT_MAX_DAYS} days ahead; the message is "
        "`scheduled` until then and may be canceled.",
    )
    expiresAt = serializers.DateTimeField(
        required=False,
        help_text="RFC 3339 time after which the message is not handed to a provider any more: it ends `expired`, "
        "unsent. After `sendAt` when both are given. Default: `sendAt` (else the time of acceptance) plus the "
        "channel's default TTL (email 24 h, SMS and WhatsApp 4 h unless configured).",
    )
    priority = serializers.ChoiceField(
        choices=[priority.value for priority in Priority],
        required=False,
        help_text="`high` messages never wait behind `normal` or `low` ones of their channel. Default `normal`.",
    )
    template = StrictCharField(
        max_length=100, required=False, help_text="A template's name: it gives the subject, body (and html)."
    )
    # DRF's metaclass pops declared fields off the class, so this does not shadow `Serializer.data`.
    data = serializers.JSONField(  # type: ignore[assignment]
        required=False, help_text="The template's variables (a JSON object)."
    )


class EmailMessageSerializer(_MessageSerializer):
    channel = _channel_field(Channel.EMAIL)
    to = serializers.EmailField(  # type: ignore[assignment]  # narrower
        max_length=EMAIL_ADDRESS_MAX_CHARS, help_text="An email address."
    )
    subject = OneLineCharField(
        max_length=EMAIL_SUBJECT_MAX_CHARS,
        required=False,
        help_text="Required unless `template` gives it. One line: no line breaks or other control characters.",
    )
    body = StrictCharField(
        trim_whitespace=False,
        required=False,
        help_text=f"Required unless `template` gives it. At most {EMAIL_BODY_MAX_BYTES} bytes as UTF-8.",
    )
    html = StrictCharField(
        trim_whitespace=False,
        required=False,
        help_text=f"An HTML alternative of `body` (multipart/alternative). At most {EMAIL_BODY_MAX_BYTES} bytes.",
    )


class SmsMessageSerializer(_MessageSerializer):
    channel = _channel_field(Channel.SMS)
    to = E164PhoneField(help_text="E.164 phone number, e.g. +14155552671.")
    body = StrictCharField(
        trim_whitespace=False, required=False, max_length=SMS_BODY_MAX_CHARS, help_text="Required unless `template`."
    )


class WhatsAppMessageSerializer(_MessageSerializer):
    channel = _channel_field(Channel.WHATSAPP)
    to = E164PhoneField(help_text="E.164 phone number of the WhatsApp account, e.g. +14155552671.")
    body = StrictCharField(
        trim_whitespace=False,
        required=False,
        max_length=WHATSAPP_BODY_MAX_CHARS,
        help_text="Required unless `template`.",
    )


# A message request in the schema: one branch per channel, chosen by `channel`.
MESSAGE_REQUEST_SCHEMA = PolymorphicProxySerializer(
    component_name="Message",
    serializers={
        Channel.EMAIL.value: EmailMessageSerializer,
        Channel.SMS.value: SmsMessageSerializer,
        Channel.WHATSAPP.value: WhatsAppMessageSerializer,
    },
    resource_type_field_name="channel",
)


class MessageRequestSerializer(serializers.Serializer):
    """The input of POST /messages: a MessageRequest by the rules of router.accept (its channel's branch
    of MESSAGE_REQUEST_SCHEMA), their errors as DRF's field-level 400. context["templates"]: the
    client's templates."""

    def run_validation(self, data: Any = empty) -> MessageRequest:
        try:
            return message_request_validate(data, templates=self.context["templates"])
        except InvalidMessage as error:
            raise ValidationError(error.errors) from None


# --- The 202: the accepted message -------------------------------------------------------------------


def accepted_status(message: AcceptedMessage) -> str:
    """A message as the 202 shows it: scheduled while its sendAt lies ahead, else accepted."""
    return (MessageStatus.SCHEDULED if message.send_at else MessageStatus.ACCEPTED).value


class AcceptedMessageSerializer(serializers.ModelSerializer):
    traceId = serializers.CharField(source="trace_id", help_text="W3C trace id (32 lowercase hex).")
    status = serializers.SerializerMethodField(help_text="`scheduled` when it has a sendAt, else `accepted`.")
    to = serializers.CharField(source="recipient")
    createdAt = serializers.DateTimeField(source="created_at")
    sendAt = serializers.DateTimeField(source="send_at", required=False, help_text="Only when scheduled.")

    class Meta:
        model = Message
        fields = ["id", "traceId", "status", "channel", "to", "createdAt", "sendAt"]

    def get_status(self, message: Message) -> str:
        return accepted_status(message)

    def to_representation(self, instance: Message) -> dict[str, Any]:
        data = super().to_representation(instance)
        if data.get("sendAt") is None and type(self) is AcceptedMessageSerializer:
            del data["sendAt"]  # as the 202 shows it: only when scheduled
        return dict(data)


def accepted_message_data(message: AcceptedMessage) -> dict[str, Any]:
    """What AcceptedMessageSerializer renders, built directly: the batch endpoint renders up to 1000
    per request, and a DRF serializer deep-copies its fields on every instantiation (a profile showed
    serializer set-up as the largest CPU cost of a batch). The serializer stays as the schema."""
    data = {
        "id": str(message.id),
        "traceId": message.trace_id,
        "status": accepted_status(message),
        "channel": message.channel,
        "to": message.recipient,
        "createdAt": utc_text(message.created_at),
    }
    if message.send_at:
        data["sendAt"] = utc_text(message.send_at)
    return data


# --- The view and what the lean front and the batch share with it ---------------------------------------


class UnprocessableIdempotencyKey(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"


def idempotency_key_of(request: HttpRequest | Request) -> str | None:
    return idempotency_key_valid(request.headers.get("Idempotency-Key"))


def idempotency_key_valid(key: str | None) -> str | None:
    """An `Idempotency-Key` header's value (None: absent); a 400 for one of no or too many characters."""
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
    return accepted_headers_at(request.build_absolute_uri, acceptance)


def accepted_headers_at(absolute_uri: Callable[[str], str], acceptance: Acceptance) -> dict[str, str]:
    """accepted_headers with the request's absolute-URL builder: the lean front (router.lean) has no request."""
    path = _detail_path_template(get_script_prefix(), get_urlconf())
    headers = {"Location": absolute_uri(path.replace(str(_PLACEHOLDER_ID), str(acceptance.message.id)))}
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
        client = client_of(request)
        message = MessageRequestSerializer(data=request.data, context={"templates": client_templates(client)})
        message.is_valid(raise_exception=True)
        try:
            acceptance = message_accept(
                request=message.validated_data,
                client=client,
                trace=self.trace_context,
                idempotency_key=idempotency_key,
            )
        except IdempotencyConflict as conflict:
            raise UnprocessableIdempotencyKey(str(conflict)) from None
        headers = accepted_headers(request, acceptance)
        return Response(accepted_message_data(acceptance.message), status=202, headers=headers)
