"""Requests for the accept parity test (tests/router/test_accept_parity.py): message requests per
channel that are mostly near-valid (a valid request with a few of its fields spoilt), the headers a
caller varies, and batches of such requests; and the schema's edge cases, built from the limits the
rules and settings declare.

A request is data until it is sent (`Post.encoded`): times are `Moment`s, written when the request is,
so a sendAt "a minute ahead" is a minute ahead for both paths however long a run takes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import phonenumbers
from django.conf import settings
from hypothesis import strategies as st

from messaging.channels import Channel
from messaging.priorities import Priority
from router.accept.rules import (
    EMAIL_ADDRESS_MAX_CHARS,
    EMAIL_BODY_MAX_BYTES,
    EMAIL_SUBJECT_MAX_CHARS,
    METADATA_MAX_BYTES,
    METADATA_MAX_DEPTH,
    SEND_AT_MAX_DAYS,
    SMS_BODY_MAX_CHARS,
    TEMPLATE_DATA_MAX_BYTES,
    WHATSAPP_BODY_MAX_CHARS,
)
from router.views.batch import BATCH_MAX_MESSAGES

SINGLE = "/api/v1/messages"
BATCH = "/api/v1/messages/batch"
CHANNELS = tuple(channel.value for channel in Channel)
BODY_MAX_CHARS = {Channel.SMS.value: SMS_BODY_MAX_CHARS, Channel.WHATSAPP.value: WHATSAPP_BODY_MAX_CHARS}
DAY = 86_400
MINUTE = 60  # times stay a minute from any limit: both paths judge them a few milliseconds apart


# --- Times, written when sent ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """`seconds` from when the request is written, as text of `form`: `Z`, an offset (`+05:30`,
    `-0800`), `naive` (no offset), `date` (a date alone) or `space` (a space for the `T`)."""

    seconds: float
    form: str = "Z"

    def text(self, now: datetime) -> str:
        moment = now + timedelta(seconds=self.seconds)
        if self.form == "Z":
            return moment.isoformat().replace("+00:00", "Z")
        if self.form == "naive":
            return moment.replace(tzinfo=None).isoformat()
        if self.form == "date":
            return moment.date().isoformat()
        if self.form == "space":
            return moment.isoformat(sep=" ")
        sign = -1 if self.form.startswith("-") else 1
        hours, minutes = int(self.form[1:3]), int(self.form[-2:])
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
        text = moment.astimezone(zone).isoformat()
        return text if ":" in self.form else text[:-3] + text[-2:]  # `-0800`: no colon


def _written(value: Any, now: datetime) -> Any:
    if isinstance(value, Moment):
        return value.text(now)
    if isinstance(value, dict):
        return {key: _written(item, now) for key, item in value.items()}
    if isinstance(value, list):
        return [_written(item, now) for item in value]
    return value


# --- What is sent -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Headers:
    """What a caller varies besides the body. `idempotency`: none | fresh | at-limit | blank | over-limit
    (the test makes a key of each path's own); `sequence`: once | replay (the same request twice) |
    conflict (then another body with the same key); `auth`: key | none | unknown | other-scheme."""

    content_type: str | None = "application/json"
    accept: str | None = None
    traceparent: str | None = None
    idempotency: str = "none"
    sequence: str = "once"
    auth: str = "key"
    host: str = "127.0.0.1"
    query: str = ""
    content_length: bool = True


@dataclass(frozen=True)
class Post:
    """One request: `body` is a JSON value (with Moments) or raw bytes; `ascii` writes JSON with
    \\u escapes; `edit` spoils the written bytes; `size` pads the JSON with spaces to exactly so many bytes."""

    path: str
    body: Any
    headers: Headers = field(default_factory=Headers)
    ascii: bool = False
    edit: str | None = None
    size: int | None = None

    def encoded(self, now: datetime | None = None) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        value = _written(self.body, now or datetime.now(UTC))
        try:
            text = json.dumps(value, ensure_ascii=self.ascii, separators=(",", ":"))
            raw = text.encode()
        except UnicodeEncodeError:  # a lone surrogate: only as a \\u escape
            raw = json.dumps(value, separators=(",", ":")).encode()
        if self.size is not None:
            raw = raw[:-1] + b" " * (self.size - len(raw)) + raw[-1:] if raw[-1:] in (b"}", b"]") else raw
        return _edited(raw, self.edit)


def _edited(raw: bytes, edit: str | None) -> bytes:
    """The written JSON spoilt as a careless or hostile client would."""
    if edit is None:
        return raw
    if edit == "truncated":
        return raw[: max(len(raw) // 2, 1)]
    if edit == "bom":
        return b"\xef\xbb\xbf" + raw
    if edit == "trailing":
        return raw + b" x"
    if edit == "latin-1":
        return raw.replace(b"}", b',"n":"\xe9"}', 1)
    if edit == "duplicate-channel" and raw.startswith(b"{"):  # two `channel`s: which one counts?
        return b'{"channel":"email",' + raw[1:]
    if edit == "nan":
        return raw.replace(b"}", b',"metadata":{"n":NaN}}', 1)
    return raw


# --- Values -------------------------------------------------------------------------------------------


def _mobile_numbers() -> list[str]:
    numbers = (
        phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        for region in sorted(phonenumbers.SUPPORTED_REGIONS)
    )
    return [phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) for number in numbers if number]


NUMBERS = _mobile_numbers()
BAD_NUMBERS = [
    "+1",
    "14155552671",
    "+0123456789",
    "+1415555267a",
    "+1 415 555 2671",
    "+1-415-555-2671",
    "+99912345678",
    "+1415555267",
    "+1234567890123456",
    "\uff0b14155552671",  # a fullwidth plus
    " +14155552671 ",
    "+14155552671\n",
]
ADDRESSES = [
    "ada@example.com",
    "a.b+tag@sub.example.org",
    "ADA@EXAMPLE.COM",
    "ada@xn--bcher-kva.example",
    "ada@bücher.de",
]
BAD_ADDRESSES = [
    "ada",
    "ada@",
    "@example.com",
    "ada@example",
    "ada@@example.com",
    "ada example@example.com",
    "ada@-example.com",
    "ada@example.com\n",
    "ada@example.com\r\nBcc: eve@example.com",
    "Ada <ada@example.com>",
    "ada@[127.0.0.1]",
    " ada@example.com ",
    "ädä@example.com",
]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENTS = [
    None,
    f"00-{TRACE_ID}-00f067aa0ba902b7-01",
    f"00-{TRACE_ID.upper()}-00F067AA0BA902B7-00",
    f"00-{'0' * 32}-00f067aa0ba902b7-01",
    f"ff-{TRACE_ID}-00f067aa0ba902b7-01",
    f"00-{TRACE_ID}-{'0' * 16}-01",
    "00-abc-def-01",
    "garbage",
    "",
]
ACCEPTS = [  # the JSON ones first: the lane may take those
    None,
    "application/json",
    "*/*",
    "application/*",
    "",
    "application/json; charset=utf-8",
    "application/json; indent=4",
    "application/json, ",
    " , ",
    "application/json;q=0",
    "application/json, text/plain;q=0.5",
    "text/html",
    "text/html;q=0.9, application/json",
    "application/xml",
    "text/plain",
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
    "text/plain",
    "application/x-www-form-urlencoded",
    None,
]
MOMENT_FORMS = ["Z", "Z", "Z", "+05:30", "-08:00", "-0800", "+00:00"]
BAD_MOMENTS: list[Any] = [
    Moment(-MINUTE),
    Moment(-DAY, "+02:00"),
    Moment(SEND_AT_MAX_DAYS * DAY + MINUTE),
    Moment(DAY, "naive"),
    Moment(DAY, "date"),
    Moment(DAY, "space"),
    "tomorrow",
    "2026-13-01T00:00:00Z",
    "2026-12-01T25:00:00Z",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+01:00",
    "",
    " ",
    1764580000,
    True,
]
WRONG_TYPES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(min_value=0, max_value=9), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(min_value=0, max_value=9), max_size=2),
)
BLANKS = st.sampled_from(["", " ", "\t", "\n", "\u00a0", "\u3000"])
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
TEXT = st.text(max_size=40)
LINE = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40)
UNKNOWN_FIELDS = st.sampled_from(["cc", "from", "Subject", "to ", "callbackUrl", "id", ""]) | st.text(max_size=8)


def address_of_length(length: int) -> str:
    """A well-formed address of exactly `length` characters (labels of at most 63)."""
    local = "a" * 64
    domain_length = length - len(local) - 1 - len(".com")
    labels = [("d" * min(63, domain_length - start))[:63] for start in range(0, domain_length, 64)]
    domain = ".".join(label for label in labels if label)
    address = f"{local}@{domain}.com"
    return address if len(address) == length else f"{'a' * (length - len(address))}{address}"


def nested(depth: int) -> dict[str, Any]:
    """A JSON object `depth` levels deep."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def object_of_bytes(size: int) -> dict[str, str]:
    """A JSON object of exactly `size` bytes as compact JSON."""
    return {"k": "x" * (size - len('{"k":""}'))}


# --- Templates the test creates for its key's client ------------------------------------------------------

TEMPLATES: list[dict[str, str]] = [
    {
        "name": "parity-email",
        "channel": "email",
        "subject": "Order {{ order }} shipped",
        "body": "Hello {{ name }}",
        "html": "<p>{{ name }}</p>",
    },
    {"name": "parity-email-echo", "channel": "email", "subject": "{{ subject }}", "body": "{{ text }}"},
    {"name": "parity-sms", "channel": "sms", "body": "Your code is {{ code }}"},
    {"name": "parity-sms-echo", "channel": "sms", "body": "{{ text }}"},
    {"name": "parity-whatsapp", "channel": "whatsapp", "body": "Table for {{ name }}"},
    {"name": "parity-whatsapp-echo", "channel": "whatsapp", "body": "{{ text }}"},
]
TEMPLATE_NAMES = [template["name"] for template in TEMPLATES] + ["no-such-template", "", "x" * 101]


def template_data() -> st.SearchStrategy[Any]:
    text = st.one_of(
        TEXT,
        st.sampled_from([SMS_BODY_MAX_CHARS, SMS_BODY_MAX_CHARS + 1, EMAIL_SUBJECT_MAX_CHARS + 1]).map("t".__mul__),
    )
    known = st.fixed_dictionaries(
        {},
        optional={"name": TEXT, "order": st.integers(), "code": st.integers(0, 999_999), "text": text, "subject": LINE},
    )
    over = st.just({"text": "x" * TEMPLATE_DATA_MAX_BYTES})
    return st.one_of(known, known, known, over, JSON_VALUES)


# --- Message requests ------------------------------------------------------------------------------------


def _at_and_over(limit: int, unit: str = "x") -> st.SearchStrategy[str]:
    return st.sampled_from([limit, limit + 1]).map(unit.__mul__)


@functools.cache
def valid_message(channel: str) -> st.SearchStrategy[dict[str, Any]]:
    """A request the rules accept (but for what a template's rendering or a moment's form decides)."""
    common: dict[str, st.SearchStrategy[Any]] = {
        "metadata": st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3),
        "sendAt": st.builds(
            Moment, st.integers(MINUTE, SEND_AT_MAX_DAYS * DAY - MINUTE), st.sampled_from(MOMENT_FORMS)
        ),
        "expiresAt": st.builds(Moment, st.integers(SEND_AT_MAX_DAYS * DAY, 40 * DAY), st.sampled_from(MOMENT_FORMS)),
        "priority": st.sampled_from([priority.value for priority in Priority]),
    }
    if channel == Channel.EMAIL.value:
        required = {"channel": st.just(channel), "to": st.sampled_from(ADDRESSES), "subject": LINE, "body": TEXT}
        optional = {**common, "html": TEXT}
    else:
        required = {"channel": st.just(channel), "to": st.sampled_from(NUMBERS), "body": TEXT}
        optional = common
    return st.fixed_dictionaries(required, optional=optional)


def _templated(channel: str) -> st.SearchStrategy[dict[str, Any]]:
    names = st.sampled_from([name for name in TEMPLATE_NAMES if channel in name] * 3 + TEMPLATE_NAMES)
    return valid_message(channel).flatmap(
        lambda message: st.fixed_dictionaries({"template": names}, optional={"data": template_data()}).map(
            lambda use: {k: v for k, v in message.items() if k not in ("subject", "body", "html")} | use
        )
    )


@functools.cache
def _field_values(channel: str) -> dict[str, st.SearchStrategy[Any]]:
    """Per field, the values that spoil it (and a few edge values that do not)."""
    body_limit = (
        st.sampled_from([EMAIL_BODY_MAX_BYTES, EMAIL_BODY_MAX_BYTES + 1]).map("b".__mul__)
        | st.sampled_from([EMAIL_BODY_MAX_BYTES // 2, EMAIL_BODY_MAX_BYTES // 2 + 1]).map("é".__mul__)
        if channel == Channel.EMAIL.value
        else _at_and_over(BODY_MAX_CHARS[channel]) | _at_and_over(BODY_MAX_CHARS[channel], "é")
    )
    body = st.one_of(WRONG_TYPES, BLANKS, body_limit, st.sampled_from(["nul\x00", "\ud800", "\n", " padded "]), TEXT)
    to = (
        st.one_of(st.sampled_from(BAD_ADDRESSES), _address_limits(), st.sampled_from(NUMBERS))
        if channel == Channel.EMAIL.value
        else st.one_of(
            st.sampled_from(BAD_NUMBERS), st.sampled_from(ADDRESSES), st.from_regex(r"\+[0-9]{1,16}", fullmatch=True)
        )
    )
    moment = st.one_of(st.sampled_from(BAD_MOMENTS), WRONG_TYPES, st.builds(Moment, st.integers(-2 * DAY, 40 * DAY)))
    values: dict[str, st.SearchStrategy[Any]] = {
        "channel": st.one_of(st.sampled_from([*CHANNELS, "SMS", "fax", ""]), WRONG_TYPES),
        "to": st.one_of(to, WRONG_TYPES, BLANKS, TEXT),
        "body": body,
        "metadata": st.one_of(WRONG_TYPES, JSON_VALUES, _metadata_limits()),
        "sendAt": moment,
        "expiresAt": moment,
        "priority": st.one_of(st.sampled_from(["HIGH", "urgent", " high", ""]), WRONG_TYPES, TEXT),
        "template": st.one_of(st.sampled_from(TEMPLATE_NAMES), WRONG_TYPES),
        "data": st.one_of(template_data(), WRONG_TYPES),
        "html": st.one_of(TEXT, body),  # for SMS and WhatsApp any html is an unknown field
    }
    if channel == Channel.EMAIL.value:
        values["subject"] = st.one_of(
            WRONG_TYPES,
            BLANKS,
            _at_and_over(EMAIL_SUBJECT_MAX_CHARS),
            st.just(" " + "s" * EMAIL_SUBJECT_MAX_CHARS),
            st.sampled_from(["line\nbreak", "tab\there", "nul\x00", "nel\x85", "sep\u2028", " ok "]),
            TEXT,
        )
    return values


def _address_limits() -> st.SearchStrategy[str]:
    return st.sampled_from([EMAIL_ADDRESS_MAX_CHARS, EMAIL_ADDRESS_MAX_CHARS + 1]).map(address_of_length)


def _metadata_limits() -> st.SearchStrategy[Any]:
    return st.sampled_from(
        [
            object_of_bytes(METADATA_MAX_BYTES),
            object_of_bytes(METADATA_MAX_BYTES + 1),
            nested(METADATA_MAX_DEPTH),
            nested(METADATA_MAX_DEPTH + 1),
            {"k\x00": 1},
            {"k": "nul\x00"},
            {"big": 2**64},
        ]
    )


Mutation = Callable[[dict[str, Any]], dict[str, Any]]


@st.composite
def _mutation(draw: st.DrawFn, channel: str) -> Mutation:
    values = _field_values(channel)
    kind = draw(st.sampled_from(["set", "set", "set", "drop", "unknown", "order"]))
    if kind == "set":
        name = draw(st.sampled_from(sorted(values)))
        value = draw(values[name])
        return lambda message: {**message, name: value}
    if kind == "drop":
        name = draw(st.sampled_from(["channel", "to", "body", "subject"]))
        return lambda message: {key: item for key, item in message.items() if key != name}
    if kind == "unknown":
        name, value = draw(UNKNOWN_FIELDS), draw(JSON_VALUES)
        return lambda message: {**message, name: value}
    send_at = draw(st.integers(MINUTE, 10 * DAY))  # expiresAt before, at or after sendAt
    expires_at = send_at + draw(st.sampled_from([-MINUTE, 0, MINUTE]))
    return lambda message: {**message, "sendAt": Moment(send_at), "expiresAt": Moment(max(expires_at, MINUTE))}


@st.composite
def near_valid_message(draw: st.DrawFn, channel: str) -> Any:
    """Mostly a valid request with up to three fields spoilt; now and then not a request at all."""
    shape = draw(st.sampled_from(["literal"] * 6 + ["template"] * 2 + ["other"]))
    if shape == "other":
        return draw(st.one_of(JSON_VALUES, st.just({}), st.just({"channel": channel})))
    base = draw(valid_message(channel) if shape == "literal" else _templated(channel))
    for mutation in draw(st.lists(_mutation(channel), max_size=3)):
        base = mutation(base)
    return base


# --- Whole requests ----------------------------------------------------------------------------------------


def _mostly(plain: list[Any], others: list[Any], times: int = 8) -> st.SearchStrategy[Any]:
    """One of `plain` (each `times` as likely as one of `others`): most requests are a plain client's."""
    return st.sampled_from(plain * times + others)


@st.composite
def headers(draw: st.DrawFn) -> Headers:
    """Mostly what a well-behaved client sends; every other header now and then."""
    return Headers(
        content_type=draw(_mostly(CONTENT_TYPES[:2], CONTENT_TYPES[2:], times=20)),
        accept=draw(_mostly(ACCEPTS[:6], ACCEPTS[6:], times=10)),
        traceparent=draw(_mostly([None], TRACEPARENTS[1:], times=12)),
        idempotency=draw(_mostly(["none", "fresh"], ["at-limit", "blank", "over-limit"], times=6)),
        sequence=draw(_mostly(["once"], ["replay", "conflict"], times=12)),
        auth=draw(_mostly(["key"], ["none", "unknown", "other-scheme"], times=40)),
        host=draw(_mostly(["127.0.0.1"], ["localhost:8000", "evil.example"], times=40)),
        query=draw(_mostly([""], ["format=json", "format=api"], times=40)),
        content_length=draw(_mostly([True], [False], times=60)),
    )


def single_posts(channel: str) -> st.SearchStrategy[Post]:
    return st.builds(
        Post,
        path=st.just(SINGLE),
        body=near_valid_message(channel),
        headers=headers(),
        ascii=st.booleans(),
        edit=st.sampled_from([None] * 12 + ["truncated", "bom", "trailing", "latin-1", "duplicate-channel", "nan"]),
    )


@st.composite
def _batch_body(draw: st.DrawFn) -> Any:
    items = st.sampled_from(CHANNELS).flatmap(near_valid_message)
    messages = draw(st.lists(items | st.none(), max_size=5))
    shape = draw(st.sampled_from(["list"] * 8 + ["empty", "not-a-list", "missing", "extra"]))
    if shape == "empty":
        return {"messages": []}
    if shape == "not-a-list":
        return {"messages": draw(JSON_VALUES)}
    if shape == "missing":
        return {}
    if shape == "extra":
        return {"messages": messages, draw(UNKNOWN_FIELDS): draw(JSON_VALUES)}
    return {"messages": messages}


def batch_posts() -> st.SearchStrategy[Post]:
    return st.builds(
        Post,
        path=st.just(BATCH),
        body=_batch_body(),
        headers=headers().map(lambda given: replace(given, traceparent=None)),
        ascii=st.booleans(),
        edit=st.sampled_from([None] * 12 + ["truncated", "bom", "duplicate-channel"]),
    )


# --- The schema's edge cases (limits exactly at and one over) ---------------------------------------------

VALID = {
    "email": {"channel": "email", "to": "ada@example.com", "subject": "Hello", "body": "Hi Ada"},
    "sms": {"channel": "sms", "to": "+14155552671", "body": "Your code is 123456"},
    "whatsapp": {"channel": "whatsapp", "to": "+447911123456", "body": "Table booked"},
}
CONFLICTING = {channel: {**message, "body": "another body"} for channel, message in VALID.items()}


def edge_cases(channel: str) -> list[Post]:
    """The limits the rules and settings declare, each exactly at and one over, for one channel."""
    valid = VALID[channel]
    bodies: list[Mapping[str, Any]] = [
        {**valid, "metadata": object_of_bytes(METADATA_MAX_BYTES)},
        {**valid, "metadata": object_of_bytes(METADATA_MAX_BYTES + 1)},
        {**valid, "metadata": nested(METADATA_MAX_DEPTH)},
        {**valid, "metadata": nested(METADATA_MAX_DEPTH + 1)},
        {**valid, "sendAt": Moment(SEND_AT_MAX_DAYS * DAY - MINUTE)},
        {**valid, "sendAt": Moment(SEND_AT_MAX_DAYS * DAY + MINUTE)},
        {**valid, "sendAt": Moment(-MINUTE)},
        {**valid, "sendAt": Moment(DAY), "expiresAt": Moment(DAY)},
        {**valid, "expiresAt": Moment(-MINUTE)},
        {**valid, "template": f"parity-{channel}-echo", "data": {"text": "x" * (TEMPLATE_DATA_MAX_BYTES - 20)}},
        {**valid, "priority": "high", "sendAt": Moment(DAY, "+05:30")},
    ]
    if channel == Channel.EMAIL.value:
        bodies += [
            {**valid, "to": address_of_length(EMAIL_ADDRESS_MAX_CHARS)},
            {**valid, "to": address_of_length(EMAIL_ADDRESS_MAX_CHARS + 1)},
            {**valid, "subject": "s" * EMAIL_SUBJECT_MAX_CHARS},
            {**valid, "subject": "s" * (EMAIL_SUBJECT_MAX_CHARS + 1)},
            {**valid, "body": "é" * (EMAIL_BODY_MAX_BYTES // 2)},
            {**valid, "body": "é" * (EMAIL_BODY_MAX_BYTES // 2) + "x"},
            {**valid, "html": "h" * EMAIL_BODY_MAX_BYTES},
            {**valid, "html": "h" * (EMAIL_BODY_MAX_BYTES + 1)},
        ]
    else:
        limit = BODY_MAX_CHARS[channel]
        bodies += [
            {**valid, "body": "é" * limit},
            {**valid, "body": "é" * (limit + 1)},
            {**valid, "html": "<p>hi</p>"},
            {k: v for k, v in valid.items() if k != "body"}
            | {"template": f"parity-{channel}-echo", "data": {"text": "t" * limit}},
            {k: v for k, v in valid.items() if k != "body"}
            | {"template": f"parity-{channel}-echo", "data": {"text": "t" * (limit + 1)}},
        ]
    posts = [Post(SINGLE, dict(body)) for body in bodies]
    limit = settings.ROUTER_MAX_REQUEST_BYTES
    posts += [Post(SINGLE, valid, size=limit), Post(SINGLE, valid, size=limit + 1)]
    posts += [Post(SINGLE, valid, Headers(idempotency=kind, sequence=sequence)) for kind, sequence in _KEY_CASES]
    return posts


_KEY_CASES = [("at-limit", "replay"), ("over-limit", "once"), ("blank", "once"), ("fresh", "conflict")]


def batch_edge_cases() -> list[Post]:
    valid = list(VALID.values())
    full = [valid[index % len(valid)] for index in range(BATCH_MAX_MESSAGES)]
    limit = settings.ROUTER_MAX_BATCH_REQUEST_BYTES
    return [
        Post(BATCH, {"messages": []}),
        Post(BATCH, {"messages": full}),
        Post(BATCH, {"messages": [*full, valid[0]]}),
        Post(BATCH, {"messages": valid}, size=limit),
        Post(BATCH, {"messages": valid}, size=limit + 1),
        Post(BATCH, {"messages": valid}, Headers(idempotency="fresh", sequence="replay")),
        Post(BATCH, {"messages": valid}, Headers(idempotency="fresh", sequence="conflict")),
        # The browsable API's page with a blank key: once a false difference (the key named in the page).
        Post(BATCH, {"messages": []}, Headers(accept="text/html", idempotency="blank")),
    ]
