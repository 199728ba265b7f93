"""The rules of a message request, as plain functions: what the API refuses, field by field, with the
messages its 400 shows (the wording DRF's fields use, so answers stayed the same when the rules left
them). The DRF serializers (router.views.messages, router.views.batch) and any leaner path call these,
so each rule is written once.

`message_fields_check` takes one channel's literal request (a template already rendered into it,
router.accept.rendering) and returns its valid values or raises InvalidMessage. Errors come in the
order of the channel's fields (FIELD_ORDER), then unknown fields; the rules between fields run only
once every field passed.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import orjson
import phonenumbers
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail.message import sanitize_address
from django.core.validators import EmailValidator
from django.utils import timezone as django_timezone
from django.utils.dateparse import parse_datetime

from messaging.channels import Channel
from messaging.priorities import Priority

EMAIL_ADDRESS_MAX_CHARS = 320
EMAIL_SUBJECT_MAX_CHARS = 998  # RFC 5322 line limit
EMAIL_BODY_MAX_BYTES = 256 * 1024
SMS_BODY_MAX_CHARS = 1600  # 10 concatenated segments: what carriers reliably deliver
WHATSAPP_BODY_MAX_CHARS = 4096
METADATA_MAX_BYTES = 4 * 1024
# Objects and arrays inside metadata; the envelope and the log events nest it further, and the JSON
# writer stops at 254 levels, so a limit well below that keeps every copy writable.
METADATA_MAX_DEPTH = 32
SEND_AT_MAX_DAYS = 35
# Template data is rendered, never stored: a size limit keeps one request's work bounded.
TEMPLATE_DATA_MAX_BYTES = 64 * 1024
ALLOWED_CHANNELS = ", ".join(channel.value for channel in Channel)
PRIORITIES = ", ".join(priority.value for priority in Priority)

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
# A header value must not carry line breaks (header injection: "hi\r\nBcc: eve@…", which Django's
# email backends refuse with BadHeaderError at send time) nor any other control character: C0, DEL,
# C1 (NEL, U+0085, is a line break to Unicode) and the Unicode line and paragraph separators, which
# str.splitlines() and so parts of Python's email package treat as line ends too.
CONTROL_CHARACTERS_CLASS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
_CONTROL_CHARACTERS = re.compile(f"[{CONTROL_CHARACTERS_CLASS}]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_RFC3339_OFFSET = re.compile(r"(Z|z|[+-]\d{2}:?\d{2})$")

REQUIRED = "This field is required."
NULL = "This field may not be null."
BLANK = "This field may not be blank."
NOT_A_STRING = "Not a valid string."
INVALID_EMAIL = "Enter a valid email address."
NO_OFFSET = "Give the time with its UTC offset (RFC 3339), e.g. 2026-12-01T09:00:00Z."
_DATETIME_FORMAT = "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]"
_EMAIL_ADDRESS = EmailValidator(message=INVALID_EMAIL)
# Verdicts on addresses and numbers seen lately, by their exact text: parsing them was the largest
# cost of a request's rules (phonenumbers: over half of a batch item's validation), and clients send to
# the same recipients again. Pure functions of the text, so a cached verdict is the verdict.
VERDICT_CACHE_SIZE = 8192


class InvalidMessage(Exception):
    """A message request the rules refuse: field name → its messages, as the API's 400 shows them."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = dict(errors)


class FieldError(Exception):
    """One field's value refused, with every message it earned."""

    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = list(messages)


@dataclass(frozen=True)
class ChannelContent:
    """The content fields a channel's message has (what a template gives), and those it requires."""

    fields: tuple[str, ...]
    required: tuple[str, ...]


CHANNEL_CONTENT = {
    Channel.EMAIL: ChannelContent(fields=("subject", "body", "html"), required=("subject", "body")),
    Channel.SMS: ChannelContent(fields=("body",), required=("body",)),
    Channel.WHATSAPP: ChannelContent(fields=("body",), required=("body",)),
}


def excerpt(value: object, limit: int = 40) -> str:
    """The caller's value quoted back in an error, cut short: a 1 MB `channel` is not echoed whole."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(value: Any, *, trim: bool, strict: bool = True, invalid: str = NOT_A_STRING) -> str:
    """A string field's value: refused when blank (after trimming, if it trims), not text (`strict`:
    numbers and booleans are not quietly turned into text), trimmed if it trims."""
    if value == "" or (trim and str(value).strip() == ""):
        raise FieldError(BLANK)
    if (strict and not isinstance(value, str)) or isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FieldError(invalid)
    text = str(value)
    return text.strip() if trim else text


def _text_checks(text: str, *, max_chars: int | None = None) -> list[str]:
    """What every string field refuses: too many characters, NUL, a lone surrogate (all reported)."""
    messages = []
    if max_chars is not None and len(text) > max_chars:
        messages.append(f"Ensure this field has no more than {max_chars} characters.")
    if "\x00" in text:
        messages.append("Null characters are not allowed.")
    surrogate = None if text.isascii() else _SURROGATE.search(text)  # C-speed scans, not a loop per character
    if surrogate is not None:
        messages.append(f"Surrogate characters are not allowed: U+{ord(surrogate.group()):X}.")
    return messages


def _checked(text: str, messages: list[str]) -> str:
    if messages:
        raise FieldError(*messages)
    return text


def email_address_check(value: Any) -> str:
    """An address Django's email backends will send to (refused here rather than dead-lettered later)."""
    address = _text(value, trim=True, strict=False, invalid=INVALID_EMAIL)
    messages = _text_checks(address, max_chars=EMAIL_ADDRESS_MAX_CHARS)
    fits = len(address) <= EMAIL_ADDRESS_MAX_CHARS  # only addresses of a sane size are kept
    if not (_email_address_valid(address) if fits else _email_address_valid.__wrapped__(address)):
        messages.append(INVALID_EMAIL)
    _checked(address, messages)
    unsendable = _email_address_unsendable(address)
    if unsendable is not None:
        raise FieldError(f"This address cannot be sent to: {unsendable}")
    return address


@functools.lru_cache(maxsize=VERDICT_CACHE_SIZE)
def _email_address_valid(address: str) -> bool:
    try:
        _EMAIL_ADDRESS(address)
    except DjangoValidationError:
        return False
    return True


@functools.lru_cache(maxsize=VERDICT_CACHE_SIZE)
def _email_address_unsendable(address: str) -> str | None:
    """Why the backends could not send to it, None when they can (what they do with it first)."""
    try:
        sanitize_address(address, "utf-8")
    except ValueError as error:
        return str(error)
    return None


def phone_number_check(value: Any) -> str:
    """An E.164 number that phonenumbers knows as valid."""
    number = _text(value, trim=True)
    if not E164.match(number):
        raise FieldError("Enter the number in E.164 format, e.g. +14155552671.")
    if not _phone_number_valid(number):
        raise FieldError("This is not a valid phone number.")
    return _checked(number, _text_checks(number))


@functools.lru_cache(maxsize=VERDICT_CACHE_SIZE)
def _phone_number_valid(number: str) -> bool:
    """phonenumbers' verdict on an E.164 text (at most 16 characters: E164 matched it)."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(parsed))


def subject_check(value: Any) -> str:
    """One line of at most EMAIL_SUBJECT_MAX_CHARS: no line breaks or other control characters, at its
    ends included (checked before trimming, which would quietly drop a "\\n" or "\\t" there)."""
    if value == "" or str(value).strip() == "":
        raise FieldError(BLANK)
    if isinstance(value, str) and _CONTROL_CHARACTERS.search(value):
        raise FieldError("Must not contain line breaks or other control characters.")
    subject = _text(value, trim=True)
    return _checked(subject, _text_checks(subject, max_chars=EMAIL_SUBJECT_MAX_CHARS))


def _body_check(max_chars: int | None = None, max_bytes: int | None = None) -> Callable[[Any], str]:
    """A body (or html) kept as given, within `max_chars` characters or `max_bytes` bytes of UTF-8."""

    def check(value: Any) -> str:
        body = _text(value, trim=False)
        _checked(body, _text_checks(body, max_chars=max_chars))
        if max_bytes is not None and len(body.encode()) > max_bytes:
            raise FieldError(f"Ensure this field has no more than {max_bytes} bytes.")
        return body

    return check


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


def json_object_check(value: Any, *, max_bytes: int = METADATA_MAX_BYTES) -> Mapping[str, Any]:
    """A JSON object within `max_bytes` (as compact JSON), METADATA_MAX_DEPTH levels and without NUL
    (PostgreSQL's jsonb cannot hold U+0000; refused everywhere, so no database decides it): a message's
    `metadata`, a template's `data`. Read-only: the envelope downstream is frozen."""
    if not isinstance(value, dict):
        raise FieldError("Must be a JSON object.")
    try:
        encoded: bytes | None = orjson.dumps(value)
    except orjson.JSONEncodeError:
        encoded = None  # an integer beyond 64 bits, or deeper than orjson goes: the walk below decides
    # Every level opens a bracket, so a JSON with few of them (those inside strings counted too) is
    # known to be shallow enough without walking it in Python.
    shallow = encoded is not None and encoded.count(b"{") + encoded.count(b"[") <= METADATA_MAX_DEPTH
    if not shallow and _nesting_depth(value) > METADATA_MAX_DEPTH:
        raise FieldError(f"Must be nested at most {METADATA_MAX_DEPTH} levels deep.")
    if encoded is None or len(encoded) > max_bytes:
        raise FieldError(f"Must be at most {max_bytes} bytes as JSON.")
    # orjson writes a NUL as \u0000, so without that text there is none; with it, look closer (a
    # backslash the caller wrote before "u0000" reads alike).
    if b"\\u0000" in encoded and _holds_nul(value):
        raise FieldError("Must not contain the NUL character (U+0000).")
    return MappingProxyType(value)


def _moment(value: Any) -> datetime:
    """An RFC 3339 time with its UTC offset, in UTC."""
    if not isinstance(value, str):
        raise FieldError("Datetime has wrong format. Use one of these formats instead: RFC 3339.")
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise FieldError(f"Datetime has wrong format. Use one of these formats instead: {_DATETIME_FORMAT}.")
    if django_timezone.is_aware(parsed):
        try:
            parsed = parsed.astimezone(UTC)
        except OverflowError:
            raise FieldError("Datetime value out of range.") from None
    else:
        parsed = parsed.replace(tzinfo=UTC)  # as DRF made it aware: refused just below all the same
    if not _RFC3339_OFFSET.search(value.strip()):
        raise FieldError(NO_OFFSET)
    return parsed.astimezone(UTC)


def send_at_check(value: Any) -> datetime:
    """From now to SEND_AT_MAX_DAYS ahead."""
    moment = _moment(value)
    now = django_timezone.now()
    if moment < now:
        raise FieldError("Must not be in the past.")
    if moment > now + timedelta(days=SEND_AT_MAX_DAYS):
        raise FieldError(f"Must be at most {SEND_AT_MAX_DAYS} days ahead.")
    return moment


def expires_at_check(value: Any) -> datetime:
    """Still ahead (and, checked with the other fields, after `sendAt`)."""
    moment = _moment(value)
    if moment <= django_timezone.now():
        raise FieldError("Must be in the future.")
    return moment


def priority_check(value: Any) -> Priority:
    if not isinstance(value, str) or value not in {priority.value for priority in Priority}:
        raise FieldError(f"{excerpt(value)} is not a valid priority; allowed values: {PRIORITIES}.")
    return Priority(value)


def _loose_data_check(value: Any) -> Any:
    """`data` without `template`: taken as any JSON here, refused by the rules between fields."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise FieldError("Value must be valid JSON.") from None
    return value


def _channel_check(value: Any) -> str:
    return str(value)  # chosen, and so checked, before these rules run (router.accept.requests)


# Each channel's fields in the order their errors are listed; None: declared (the schema shows it)
# but taken out before these rules run (`template`, rendered by router.accept.rendering).
_Rule = Callable[[Any], Any] | None
_COMMON: dict[str, _Rule] = {
    "metadata": json_object_check,
    "sendAt": send_at_check,
    "expiresAt": expires_at_check,
    "priority": priority_check,
    "template": None,
    "data": _loose_data_check,
}
FIELD_RULES: dict[Channel, dict[str, _Rule]] = {
    Channel.EMAIL: {
        "channel": _channel_check,
        "to": email_address_check,
        "body": _body_check(max_bytes=EMAIL_BODY_MAX_BYTES),
        **_COMMON,
        "subject": subject_check,
        "html": _body_check(max_bytes=EMAIL_BODY_MAX_BYTES),
    },
    Channel.SMS: {
        "channel": _channel_check,
        "to": phone_number_check,
        "body": _body_check(SMS_BODY_MAX_CHARS),
        **_COMMON,
    },
    Channel.WHATSAPP: {
        "channel": _channel_check,
        "to": phone_number_check,
        "body": _body_check(WHATSAPP_BODY_MAX_CHARS),
        **_COMMON,
    },
}
_OPTIONAL = frozenset({"body", "subject", "html", "metadata", "sendAt", "expiresAt", "priority", "template", "data"})


def message_fields_check(channel: Channel, data: Mapping[str, Any]) -> dict[str, Any]:
    """One channel's literal request → its valid values by field name; raises InvalidMessage."""
    rules = FIELD_RULES[channel]
    valid: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, rule in rules.items():
        if name not in data:
            if name not in _OPTIONAL:
                errors[name] = [REQUIRED]
            continue
        if rule is None:
            continue
        value = data[name]
        try:
            if value is None:
                raise FieldError(NULL)
            valid[name] = rule(value)
        except FieldError as error:
            errors[name] = error.messages
    errors.update({name: ["Unknown field."] for name in sorted(set(data) - set(rules))})
    if errors:
        raise InvalidMessage(errors)
    _between_fields_check(channel, valid)
    return valid


def _between_fields_check(channel: Channel, valid: Mapping[str, Any]) -> None:
    if "data" in valid:
        raise InvalidMessage({"data": ["Only together with `template`."]})
    missing = {name: [REQUIRED] for name in CHANNEL_CONTENT[channel].required if name not in valid}
    if missing:
        raise InvalidMessage(missing)
    if "sendAt" in valid and "expiresAt" in valid and valid["expiresAt"] <= valid["sendAt"]:
        raise InvalidMessage({"expiresAt": ["Must be after `sendAt`."]})
