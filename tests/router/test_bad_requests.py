"""Every kind of bad request gets its documented status and field message, and publishes nothing."""

import orjson
import pytest

from tests.router.factories import ApiKeyFactory, EmailRequestFactory, SmsRequestFactory, WhatsAppRequestFactory
from tests.router.kafka import send_watermarks

pytestmark = pytest.mark.django_db(databases=["default"])
URL = "/api/v1/messages"
JSON = "application/json"


def email(**fields):
    return EmailRequestFactory(**fields)


def sms(**fields):
    return SmsRequestFactory(**fields)


def whatsapp(**fields):
    return WhatsAppRequestFactory(**fields)


def nested(depth):
    value = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def without(payload, name):
    return {key: value for key, value in payload.items() if key != name}


# (id, request body, content type, auth, extra headers, status, error field, message fragment)
CASES = [
    ("email-invalid", email(to="not-an-email"), JSON, "key", {}, 400, "to", "valid email address"),
    ("email-no-dot-domain", email(to="ada@example"), JSON, "key", {}, 400, "to", "valid email address"),
    # Django's validator takes it; its backends could never send to it (the IDNA label is too long).
    ("email-unsendable", email(to="ada@ünïcodé-" + "a" * 50 + ".com"), JSON, "key", {}, 400, "to", "cannot be sent"),
    ("email-double-at", email(to="ada@@example.com"), JSON, "key", {}, 400, "to", "valid email address"),
    ("email-no-subject", without(email(), "subject"), JSON, "key", {}, 400, "subject", "required"),
    ("email-long-subject", email(subject="s" * 999), JSON, "key", {}, 400, "subject", "998 characters"),
    # Header injection: a second header smuggled through the subject.
    ("email-subject-crlf", email(subject="hi\r\nBcc: eve@example.com"), JSON, "key", {}, 400, "subject", "line breaks"),
    ("email-subject-lf", email(subject="hi\nthere"), JSON, "key", {}, 400, "subject", "line breaks"),
    ("email-subject-escape", email(subject="hi\x1b[31m"), JSON, "key", {}, 400, "subject", "control characters"),
    # Line breaks outside ASCII: NEL (a C1 control) and the Unicode line and paragraph separators.
    ("email-subject-nel", email(subject="hi\x85Bcc: eve@example.com"), JSON, "key", {}, 400, "subject", "line breaks"),
    ("email-subject-u2028", email(subject="hi\u2028there"), JSON, "key", {}, 400, "subject", "line breaks"),
    ("email-subject-u2029", email(subject="hi\u2029there"), JSON, "key", {}, 400, "subject", "line breaks"),
    ("email-subject-trailing-lf", email(subject="hi\n"), JSON, "key", {}, 400, "subject", "line breaks"),
    ("email-body-256k", email(body="b" * (256 * 1024 + 1)), JSON, "key", {}, 400, "body", "262144 bytes"),
    ("email-body-multibyte", email(body="é" * (128 * 1024 + 1)), JSON, "key", {}, 400, "body", "262144 bytes"),
    # Within the body's limit and the request's (1 MiB), but six bytes a character once JSON-escaped:
    # its record would be over Kafka's limit, so it could never be sent.
    ("email-body-escaped", email(body="\x01" * 170_000), JSON, "key", {}, 400, "body", "JSON-escaped"),
    ("sms-no-plus", sms(to="14155552671"), JSON, "key", {}, 400, "to", "E.164"),
    ("sms-spaces", sms(to="+1 415 555 2671"), JSON, "key", {}, 400, "to", "E.164"),
    ("sms-too-short", sms(to="+1415555267"), JSON, "key", {}, 400, "to", "not a valid phone number"),
    ("sms-unknown-country", sms(to="+99912345678"), JSON, "key", {}, 400, "to", "not a valid phone number"),
    ("sms-body-1601", sms(body="x" * 1601), JSON, "key", {}, 400, "body", "1600 characters"),
    ("sms-subject", sms(subject="hi"), JSON, "key", {}, 400, "subject", "Unknown field"),
    ("sms-to-number", sms(to=14155552671), JSON, "key", {}, 400, "to", "Not a valid string"),
    ("whatsapp-body-4097", whatsapp(body="x" * 4097), JSON, "key", {}, 400, "body", "4096 characters"),
    ("whatsapp-email-to", whatsapp(to="ada@example.com"), JSON, "key", {}, 400, "to", "E.164"),
    ("unknown-field", sms(urgency="high"), JSON, "key", {}, 400, "urgency", "Unknown field"),
    ("unknown-channel", sms(channel="fax"), JSON, "key", {}, 400, "channel", "allowed values: email, sms, whatsapp"),
    ("channel-number", sms(channel=5), JSON, "key", {}, 400, "channel", "allowed values"),
    ("no-channel", without(sms(), "channel"), JSON, "key", {}, 400, "channel", "required"),
    ("no-to", without(sms(), "to"), JSON, "key", {}, 400, "to", "required"),
    ("no-body", without(sms(), "body"), JSON, "key", {}, 400, "body", "required"),
    ("blank-body", sms(body=""), JSON, "key", {}, 400, "body", "may not be blank"),
    ("body-number", sms(body=123), JSON, "key", {}, 400, "body", "Not a valid string"),
    ("metadata-list", sms(metadata=["a"]), JSON, "key", {}, 400, "metadata", "JSON object"),
    ("metadata-4k", sms(metadata={"k": "v" * 4096}), JSON, "key", {}, 400, "metadata", "4096 bytes"),
    # PostgreSQL's jsonb cannot store it (a 500 there, found by schemathesis on bin/test --postgres).
    ("metadata-nul", sms(metadata={"k\u0000": "v"}), JSON, "key", {}, 400, "metadata", "NUL character"),
    ("metadata-nul-value", sms(metadata={"k": ["\u0000"]}), JSON, "key", {}, 400, "metadata", "NUL character"),
    # Within 4 KiB and within what the JSON writer takes alone, but too deep once inside the envelope.
    ("metadata-deep", sms(metadata=nested(253)), JSON, "key", {}, 400, "metadata", "at most 32 levels"),
    ("top-level-array", [sms()], JSON, "key", {}, 400, "non_field_errors", "JSON object"),
    ("malformed-json", b'{"channel": "sms",', JSON, "key", {}, 400, "detail", "JSON parse error"),
    ("text-plain", b"hello", "text/plain", "key", {}, 415, "detail", "Unsupported media type"),
    ("form-encoded", b"channel=sms", "application/x-www-form-urlencoded", "key", {}, 415, "detail", "Unsupported"),
    ("over-1mib", email(body="b" * (1024 * 1024)), JSON, "key", {}, 413, "detail", "larger than"),
    ("long-idempotency-key", sms(), JSON, "key", {"HTTP_IDEMPOTENCY_KEY": "k" * 256}, 400, "Idempotency-Key", "255"),
    ("no-key", sms(), JSON, "none", {}, 401, "detail", "credentials were not provided"),
    ("invalid-key", sms(), JSON, "invalid", {}, 401, "detail", "Invalid or revoked"),
    ("revoked-key", sms(), JSON, "revoked", {}, 401, "detail", "Invalid or revoked"),
    ("empty-key", sms(), JSON, "empty", {}, 401, "detail", "No API key"),
]


def authorization(auth: str, client) -> dict[str, str]:
    if auth == "none":
        return {}
    if auth == "invalid":
        return {"HTTP_AUTHORIZATION": "Api-Key abcdefgh.notarealkey"}
    if auth == "empty":
        return {"HTTP_AUTHORIZATION": "Api-Key "}
    key = ApiKeyFactory()
    if auth == "revoked":
        key.revoked = True
        key.save()
    return {"HTTP_AUTHORIZATION": f"Api-Key {key.raw_key}"}


@pytest.mark.parametrize(
    ("payload", "content_type", "auth", "headers", "status", "field", "fragment"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_request_is_refused_and_nothing_is_published(
    client, payload, content_type, auth, headers, status, field, fragment
):
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    before = send_watermarks()

    response = client.post(URL, data=raw, content_type=content_type, **authorization(auth, client), **headers)

    assert response.status_code == status, response.content
    errors = response.json()
    message = errors[field] if isinstance(errors[field], str) else " ".join(errors[field])
    assert fragment in message
    if status == 401:
        assert response["WWW-Authenticate"] == "Api-Key"
    assert send_watermarks() == before


def test_the_table_covers_at_least_25_cases():
    assert len(CASES) >= 25
