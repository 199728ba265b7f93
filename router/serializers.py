"""Request validation per channel and the shapes of the API's responses (camelCase JSON).

Each channel has its own serializer holding only its rules; `message_request_validate` picks one by
the `channel` field, so the error for an unknown channel names the allowed values.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import orjson
import phonenumbers
from django.conf import settings
from django.core.mail.message import sanitize_address
from django.core.validators import EmailValidator
from django.utils import timezone as django_timezone
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from messaging.channels import Channel
from messaging.dead_letters import DEAD_LETTER_ERROR_MAX_BYTES
from messaging.envelope import MessageEnvelope
from messaging.lifecycle import MessageStatus
from messaging.priorities import Priority
from router.domain import MessageRequest, TemplateUse
from router.models import CHANNEL_CHOICES, Message, Template
from router.publishing import PreparedMessage
from router.rendering import RenderError, template_render
from router.trace_links import trace_path

EMAIL_SUBJECT_MAX_CHARS = 998  # RFC 5322 line limit
EMAIL_BODY_MAX_BYTES = 256 * 1024
SMS_BODY_MAX_CHARS = 1600  # 10 concatenated segments: what carriers reliably deliver
WHATSAPP_BODY_MAX_CHARS = 4096
METADATA_MAX_BYTES = 4 * 1024
# Objects and arrays inside metadata; the envelope and the log events nest it further, and the JSON
# writer stops at 254 levels, so a limit well below that keeps every copy writable.
METADATA_MAX_DEPTH = 32
BATCH_MAX_MESSAGES = 1000
SEND_AT_MAX_DAYS = 35
# Template data is rendered, never stored: a size limit keeps one request's work bounded.
TEMPLATE_DATA_MAX_BYTES = 64 * 1024
_RFC3339_OFFSET = re.compile(r"(Z|z|[+-]\d{2}:?\d{2})$")
ALLOWED_CHANNELS = ", ".join(channel.value for channel in Channel)

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
# A header value must not carry line breaks (header injection: "hi\r\nBcc: eve@…", which Django's
# email backends refuse with BadHeaderError at send time) nor any other control character: C0, DEL,
# C1 (NEL, U+0085, is a line break to Unicode) and the Unicode line and paragraph separators, which
# str.splitlines() and so parts of Python's email package treat as line ends too.
_CONTROL_CHARACTERS_CLASS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
_CONTROL_CHARACTERS = re.compile(f"[{_CONTROL_CHARACTERS_CLASS}]")
# The same rule for JSON Schema: no such character anywhere. Said as `not` a search, which ECMA-262
# and Python's re read alike (an anchored `^[^…]*$` would let Python's `$` pass a final "\n").
ONE_LINE_SCHEMA = {"not": {"pattern": f"[{_CONTROL_CHARACTERS_CLASS}]"}}


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of quietly turning them into text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


@extend_schema_field({"type": "string", **ONE_LINE_SCHEMA})
class OneLineCharField(StrictCharField):
    """Text for a header line: no line breaks or other control characters, at its ends included
    (checked before trimming, which would quietly drop a "\n" or "\t" there)."""

    default_error_messages = {"not_one_line": "Must not contain line breaks or other control characters."}

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str) and _CONTROL_CHARACTERS.search(data):
            self.fail("not_one_line")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "pattern": _E164.pattern, "example": "+14155552671"})
class E164PhoneField(StrictCharField):
    default_error_messages = {
        "not_e164": "Enter the number in E.164 format, e.g. +14155552671.",
        "invalid_number": "This is not a valid phone number.",
    }

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not _E164.match(value):
            self.fail("not_e164")
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            self.fail("invalid_number")
        if not phonenumbers.is_valid_number(number):
            self.fail("invalid_number")
        return value


def _nesting_depth(value: Any) -> int:
    """How many objects/arrays deep `value` goes (iterative: a hostile depth must not recurse)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > METADATA_MAX_DEPTH:
            return deepest  # enough to refuse it: no need to walk the rest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _holds_nul(value: Any) -> bool:
    """Whether a NUL character is in any key or string of `value` (iterative, as _nesting_depth)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


@extend_schema_field({"type": "object", "additionalProperties": {}})
class JsonObjectField(serializers.JSONField):
    """A JSON object within `max_bytes` (as compact JSON), METADATA_MAX_DEPTH levels and without NUL:
    a message's `metadata`, a template's `data`."""

    default_error_messages = {
        "not_object": "Must be a JSON object.",
        "too_large": "Must be at most {max_bytes} bytes as JSON.",
        "too_deep": f"Must be nested at most {METADATA_MAX_DEPTH} levels deep.",
        # PostgreSQL's jsonb cannot hold U+0000; refused everywhere, so no database decides it.
        "nul": "Must not contain the NUL character (U+0000).",
    }

    def __init__(self, *, max_bytes: int = METADATA_MAX_BYTES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_bytes = max_bytes

    # Read-only on purpose (frozen envelope downstream), where DRF's stubs expect a dict.
    def to_internal_value(self, data: Any) -> Mapping[str, Any]:  # type: ignore[override]
        if not isinstance(data, dict):
            self.fail("not_object")
        if _nesting_depth(data) > METADATA_MAX_DEPTH:
            self.fail("too_deep")
        try:
            size = len(orjson.dumps(data))
        except orjson.JSONEncodeError:
            # An integer beyond 64 bits: no size within the limit holds it, and the envelope could
            # not be written anyway.
            self.fail("too_large", max_bytes=self.max_bytes)
        if size > self.max_bytes:
            self.fail("too_large", max_bytes=self.max_bytes)
        if _holds_nul(data):
            self.fail("nul")
        return MappingProxyType(data)


def _rfc3339_with_offset(field: serializers.DateTimeField, value: Any) -> datetime:
    """The time DRF parses, refused unless written as RFC 3339 with its UTC offset."""
    if not isinstance(value, str):
        field.fail("invalid", format="RFC 3339")
    moment = serializers.DateTimeField.to_internal_value(field, value)
    if not _RFC3339_OFFSET.search(value.strip()):
        field.fail("no_offset")
    return moment


class SendAtField(serializers.DateTimeField):
    """An RFC 3339 time with its UTC offset, from now to SEND_AT_MAX_DAYS ahead."""

    default_error_messages = {
        "no_offset": "Give the time with its UTC offset (RFC 3339), e.g. 2026-12-01T09:00:00Z.",
        "past": "Must not be in the past.",
        "too_far": f"Must be at most {SEND_AT_MAX_DAYS} days ahead.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        moment = _rfc3339_with_offset(self, value)
        now = django_timezone.now()
        if moment < now:
            self.fail("past")
        if moment > now + timedelta(days=SEND_AT_MAX_DAYS):
            self.fail("too_far")
        return moment.astimezone(UTC)


class ExpiresAtField(serializers.DateTimeField):
    """An RFC 3339 time with its UTC offset, still ahead (and, checked with the other fields, after
    `sendAt`)."""

    default_error_messages = {
        "no_offset": SendAtField.default_error_messages["no_offset"],
        "past": "Must be in the future.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        moment = _rfc3339_with_offset(self, value)
        if moment <= django_timezone.now():
            self.fail("past")
        return moment.astimezone(UTC)


PRIORITIES = ", ".join(priority.value for priority in Priority)


class PriorityField(serializers.ChoiceField):
    default_error_messages = {"invalid_choice": f"{{input}} is not a valid priority; allowed values: {PRIORITIES}."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[priority.value for priority in Priority], **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or data not in self.choices:  # not `true` or 1 read as text either
            self.fail("invalid_choice", input=_excerpt(data))
        return data


class StrictSerializer(serializers.Serializer):
    """Unknown fields are an error (a typo in `subjet` must not silently drop the subject)."""

    def to_internal_value(self, data: Any) -> Any:
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, Mapping) else []
        errors: dict[str, Any] = {name: ["Unknown field."] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if not isinstance(error.detail, dict):
                raise
            errors = {**error.detail, **errors}
        if errors:
            raise serializers.ValidationError(errors)
        return value


def _channel_field(channel: Channel) -> serializers.ChoiceField:
    """Each channel's serializer takes only its own channel, so the schema's `oneOf` has exactly
    one branch per request (an SMS request is not also a valid WhatsApp request)."""
    return serializers.ChoiceField(choices=[(channel.value, channel.name.title())])


class _MessageSerializer(StrictSerializer):
    channel = serializers.ChoiceField(choices=CHANNEL_CHOICES)
    to = StrictCharField(max_length=320)
    body = StrictCharField(trim_whitespace=False, required=False)
    metadata = JsonObjectField(required=False, help_text=f"Any JSON object, at most {METADATA_MAX_BYTES} bytes.")
    sendAt = SendAtField(
        required=False,
        help_text=f"RFC 3339 time to send it at, from now to {SEND_AT_MAX_DAYS} days ahead; the message is "
        "`scheduled` until then and may be canceled.",
    )
    expiresAt = ExpiresAtField(
        required=False,
        help_text="RFC 3339 time after which the message is not handed to a provider any more: it ends `expired`, "
        "unsent. After `sendAt` when both are given. Default: `sendAt` (else the time of acceptance) plus the "
        "channel's default TTL (email 24 h, SMS and WhatsApp 4 h unless configured).",
    )
    priority = PriorityField(
        required=False,
        help_text="`high` messages never wait behind `normal` or `low` ones of their channel. Default `normal`.",
    )
    # Taken out and rendered by MessageRequestValidator before the rest is validated; declared for the
    # schema (and so that `data` without `template` is caught).
    template = StrictCharField(
        max_length=100, required=False, help_text="A template's name: it gives the subject, body (and html)."
    )
    # DRF's metaclass pops declared fields off the class, so this does not shadow `Serializer.data`.
    data = serializers.JSONField(  # type: ignore[assignment]
        required=False, help_text="The template's variables (a JSON object)."
    )

    # The fields a template gives; without one, those the channel requires.
    content_fields: tuple[str, ...] = ("body",)
    required_content: tuple[str, ...] = ("body",)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "data" in attrs:
            raise serializers.ValidationError({"data": ["Only together with `template`."]})
        missing = {name: ["This field is required."] for name in self.required_content if name not in attrs}
        if missing:
            raise serializers.ValidationError(missing)
        if "sendAt" in attrs and "expiresAt" in attrs and attrs["expiresAt"] <= attrs["sendAt"]:
            raise serializers.ValidationError({"expiresAt": ["Must be after `sendAt`."]})
        return attrs


class EmailMessageSerializer(_MessageSerializer):
    channel = _channel_field(Channel.EMAIL)
    to = serializers.EmailField(max_length=320, help_text="An email address.")  # type: ignore[assignment]  # narrower
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
    content_fields = ("subject", "body", "html")
    required_content = ("subject", "body")

    def validate_to(self, value: str) -> str:
        EmailValidator()(value)  # Django's validator, as DESIGN §7 names it (EmailField uses it too)
        try:
            # What Django's email backends do with the address before sending: refused here, it is
            # refused at the door instead of dead-lettered later.
            sanitize_address(value, "utf-8")
        except ValueError as error:
            raise serializers.ValidationError(f"This address cannot be sent to: {error}") from None
        return value

    def validate_body(self, value: str) -> str:
        if len(value.encode()) > EMAIL_BODY_MAX_BYTES:
            raise serializers.ValidationError(f"Ensure this field has no more than {EMAIL_BODY_MAX_BYTES} bytes.")
        return value

    def validate_html(self, value: str) -> str:
        return self.validate_body(value)


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


CHANNEL_SERIALIZERS: dict[Channel, type[_MessageSerializer]] = {
    Channel.EMAIL: EmailMessageSerializer,
    Channel.SMS: SmsMessageSerializer,
    Channel.WHATSAPP: WhatsAppMessageSerializer,
}


def _excerpt(value: object, limit: int = 40) -> str:
    """The caller's value quoted back in an error, cut short: a 1 MB `channel` is not echoed whole."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# A client's templates by name (None: no such template); per request, so a batch looks each up once.
TemplateSource = Callable[[str], Template | None]


def _no_templates(name: str) -> Template | None:
    return None


class MessageRequestValidator:
    """Validates message requests with one serializer per channel, bound once and reused for every
    item: a DRF serializer deep-copies its declared fields when it is created, which for a batch of
    1000 items was most of the request's CPU. Validation itself keeps no state between items.
    Not for sharing between threads: one per request, or one per thread (message_request_validate)."""

    def __init__(self) -> None:
        self._serializers: dict[Channel, _MessageSerializer] = {}

    def validate(self, data: Any, *, templates: TemplateSource = _no_templates) -> MessageRequest:
        """Validate one message request; raises ValidationError in DRF's field-level format. A
        request naming a template is rendered first (router.rendering) and its result validated like
        literal content, so the channel's limits hold for it too."""
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        channel = data.get("channel")
        # isinstance first: a JSON object or array as `channel` is unhashable.
        if not isinstance(channel, str) or channel not in {channel.value for channel in Channel}:
            message = (
                "This field is required."
                if channel is None
                else f"{_excerpt(channel)} is not a valid channel; allowed values: {ALLOWED_CHANNELS}."
            )
            # The other fields' rules depend on the channel, so there is nothing more to check.
            raise serializers.ValidationError({"channel": [message]})
        serializer = self._serializers.get(Channel(channel))
        if serializer is None:
            serializer = self._serializers[Channel(channel)] = CHANNEL_SERIALIZERS[Channel(channel)]()
        template_use = None
        if "template" in data:
            data, template_use = _rendered(data, serializer, templates)
            try:
                valid = serializer.run_validation(data)
            except serializers.ValidationError as error:
                raise _blame_template(error, serializer.content_fields) from None
        else:
            valid = serializer.run_validation(data)
        request = MessageRequest(
            channel=Channel(valid["channel"]),
            to=valid["to"],
            body=valid["body"],
            subject=valid.get("subject"),
            metadata=valid.get("metadata", MappingProxyType({})),
            html=valid.get("html"),
            send_at=valid.get("sendAt"),
            expires_at=valid.get("expiresAt"),
            priority=Priority(valid.get("priority", Priority.NORMAL)),
            template=template_use,
        )
        _check_envelope_fits(request)
        return request


_TEMPLATE_DATA = JsonObjectField(max_bytes=TEMPLATE_DATA_MAX_BYTES)


def _rendered(
    data: Mapping[str, Any], serializer: _MessageSerializer, templates: TemplateSource
) -> tuple[dict[str, Any], TemplateUse]:
    """The request with its template's rendering in place of `template` and `data`."""
    name = data["template"]
    given = [field for field in serializer.content_fields if field in data]
    if given:
        raise serializers.ValidationError({field: ["Not together with `template`: it gives this."] for field in given})
    if not isinstance(name, str) or not name:
        raise serializers.ValidationError({"template": ["Must be a template's name."]})
    try:
        variables = _TEMPLATE_DATA.to_internal_value(data.get("data", {}))  # null too: "a JSON object"
    except serializers.ValidationError as error:
        raise serializers.ValidationError({"data": error.detail}) from None
    template = templates(name)
    if template is None:
        raise serializers.ValidationError({"template": [f"No template named {_excerpt(name)}."]})
    channel = data["channel"]
    if template.channel != channel:
        raise serializers.ValidationError(
            {"template": [f"Template {_excerpt(name)} is for {template.channel} messages, not {channel}."]}
        )
    try:
        rendered = template_render(
            name=name,
            body=template.body,
            data=variables,
            subject=template.subject if "subject" in serializer.content_fields else None,
            html=(template.html or None) if "html" in serializer.content_fields else None,
        )
    except RenderError as error:
        raise serializers.ValidationError({error.field: [error.message]}) from None
    literal = {key: value for key, value in data.items() if key not in ("template", "data")}
    literal["body"] = rendered.body
    for field in ("subject", "html"):
        if getattr(rendered, field) is not None:
            literal[field] = getattr(rendered, field)
    return literal, TemplateUse(name=name, version=template.version, data=MappingProxyType(variables))


def _blame_template(error: serializers.ValidationError, content_fields: Sequence[str]) -> serializers.ValidationError:
    """Errors in the rendered content are the template's: the client did not send those fields."""
    if not isinstance(error.detail, dict):
        return error
    detail: dict[str, Any] = dict(error.detail)
    blamed: list[str] = []
    for field in content_fields:
        if field in detail:
            blamed += [f"The rendered {field}: {message}" for message in detail.pop(field)]
    if blamed:
        detail["template"] = [*detail.get("template", []), *blamed]
    return serializers.ValidationError(detail)


# What a message's records add to the request's own fields, generously: ids, trace id, timestamps
# and attempt count in the envelope; the trace and content-type headers; on the way, a retry's due
# time or a dead letter's headers (its error text at most DEAD_LETTER_ERROR_MAX_BYTES); Kafka's
# framing. So the last record of a message that fails for good, its dead letter, fits too.
_RECORD_OVERHEAD_BYTES = 1024 + DEAD_LETTER_ERROR_MAX_BYTES
_PLACEHOLDER_ENVELOPE = {
    "id": uuid.UUID(int=0),
    "trace_id": "0" * 32,
    "created_at": datetime(2000, 1, 1, tzinfo=UTC),
    "expires_at": datetime(2000, 1, 1, tzinfo=UTC),  # always set at accept: given, or the default TTL's
}


def _check_envelope_fits(request: MessageRequest) -> None:
    """The envelope as Kafka will carry it (JSON escaping included: 256 KiB of U+0001 is 1.5 MB as
    JSON) must fit the producer's record limit, or a 202 would promise what Kafka never takes."""
    envelope = MessageEnvelope(
        channel=request.channel,
        to=request.to,
        body=request.body,
        subject=request.subject,
        metadata=request.metadata,
        html=request.html,
        priority=request.priority,
        **_PLACEHOLDER_ENVELOPE,  # type: ignore[arg-type]
    )
    size = len(envelope.to_json()) + _RECORD_OVERHEAD_BYTES
    limit = int(settings.KAFKA_MAX_MESSAGE_BYTES)
    if size <= limit:
        return
    fields = {
        "body": request.body,
        "subject": request.subject or "",
        "html": request.html or "",
        "metadata": dict(request.metadata),
    }
    largest = max(fields, key=lambda name: len(orjson.dumps(fields[name])))
    raise serializers.ValidationError(
        {largest: [f"The message would be {size} bytes as sent (JSON-escaped); the limit is {limit} bytes."]}
    )


_thread_validators = threading.local()


def message_request_validate(data: Any, *, templates: TemplateSource = _no_templates) -> MessageRequest:
    """Validate one message request; raises ValidationError in DRF's field-level format.

    Each thread keeps its validator: binding the serializers (DRF deep-copies their fields) was
    about a tenth of a single POST's CPU, paid again on every request."""
    validator: MessageRequestValidator | None = getattr(_thread_validators, "validator", None)
    if validator is None:
        validator = _thread_validators.validator = MessageRequestValidator()
    return validator.validate(data, templates=templates)


# A message request in the schema: one branch per channel, chosen by `channel`.
MESSAGE_REQUEST_SCHEMA = PolymorphicProxySerializer(
    component_name="Message",
    serializers={channel.value: serializer for channel, serializer in CHANNEL_SERIALIZERS.items()},
    resource_type_field_name="channel",
)


@extend_schema_field(MESSAGE_REQUEST_SCHEMA)
class BatchItemField(serializers.JSONField):
    """A batch item: any JSON value, null included, is taken here and judged on its own by
    MessageRequestValidator (an invalid item is a rejected result in the 202, never failing the whole
    batch); the schema states what a valid item is, so a client generated from it sends valid ones."""


class BatchRequestSerializer(StrictSerializer):
    messages = serializers.ListField(
        child=BatchItemField(allow_null=True),
        min_length=1,
        max_length=BATCH_MAX_MESSAGES,
        help_text="Message requests.",
    )


# An accepted message as the API answers about it: just prepared, or an earlier one (a replay).
AcceptedMessage = PreparedMessage | Message


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


def utc_text(moment: datetime) -> str:
    """A moment as the API writes it: UTC, `Z`."""
    return moment.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


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


class BatchItemResultSerializer(serializers.Serializer):
    """One result per request item, in request order."""

    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=[MessageStatus.ACCEPTED.value, "rejected"])
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
