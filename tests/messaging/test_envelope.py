import uuid
from datetime import UTC, datetime

import orjson
import pytest

from messaging.channels import Channel
from messaging.envelope import MessageEnvelope
from messaging.errors import InvalidMessage
from messaging.priorities import Priority
from messaging.tracing import TraceContext


def make_envelope(**overrides) -> MessageEnvelope:
    fields = {
        "id": uuid.uuid4(),
        "trace_id": TraceContext.new().trace_id,
        "channel": Channel.EMAIL,
        "to": "ada@example.com",
        "subject": "Hello",
        "body": "Hi Ada",
        "metadata": {"campaign": "launch"},
        "created_at": datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    }
    return MessageEnvelope(**{**fields, **overrides})


def test_envelope_round_trips_through_json_in_design_shape():
    envelope = make_envelope()
    data = orjson.loads(envelope.to_json())
    assert data["schema"] == "message/v1"
    assert data["createdAt"] == "2026-11-25T12:00:00Z"
    assert data["attempt"] == 1
    assert MessageEnvelope.from_json(envelope.to_json()) == envelope


def test_expiry_and_priority_round_trip_and_old_envelopes_without_them_still_decode():
    envelope = make_envelope(expires_at=datetime(2026, 11, 25, 16, 0, tzinfo=UTC), priority=Priority.HIGH)
    data = orjson.loads(envelope.to_json())
    assert (data["expiresAt"], data["priority"]) == ("2026-11-25T16:00:00Z", "high")
    assert MessageEnvelope.from_json(envelope.to_json()) == envelope
    old = {key: value for key, value in data.items() if key not in ("expiresAt", "priority")}
    decoded = MessageEnvelope.from_json(orjson.dumps(old))
    assert (decoded.expires_at, decoded.priority) == (None, Priority.NORMAL)


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"priority": "urgent"}, "invalid field value"), ({"expiresAt": "2026-11-25T16:00:00"}, "UTC offset")],
)
def test_a_bad_priority_or_expiry_is_an_invalid_message(change, reason):
    data = {**make_envelope().to_dict(), **change}
    with pytest.raises(InvalidMessage, match=reason):
        MessageEnvelope.from_json(orjson.dumps(data))


def test_sms_envelope_has_no_subject_field():
    data = orjson.loads(make_envelope(channel=Channel.SMS, to="+14155550100", subject=None).to_json())
    assert "subject" not in data


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"\xff\xfe not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"schema": "message/v9"}', "unknown schema"),
        (b'{"schema": "message/v1", "id": "x"}', "invalid field value"),
    ],
)
def test_undecodable_records_raise_invalid_message_with_reason(raw, reason):
    with pytest.raises(InvalidMessage, match=reason):
        MessageEnvelope.from_json(raw)


def test_missing_field_is_named():
    data = make_envelope().to_dict()
    del data["to"]
    with pytest.raises(InvalidMessage, match="'to'"):
        MessageEnvelope.from_json(orjson.dumps(data))


def test_with_attempt_keeps_everything_else():
    envelope = make_envelope()
    retried = envelope.with_attempt(3)
    assert retried.attempt == 3
    assert retried.id == envelope.id and retried.body == envelope.body
