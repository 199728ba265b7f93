"""Recipients in log events are masked by default, in one shared place, and LOG_MASK_RECIPIENTS=false turns it off."""

import pytest

from delivery.errors import InvalidRecipient
from delivery.recipients import validate_e164_phone_number, validate_email_address
from messaging.log_events import LogEvent
from messaging.masking import mask_recipient


@pytest.mark.parametrize(
    ("recipient", "masked"),
    [
        ("user@example.com", "u***@example.com"),
        ("ada.lovelace+news@mail.example.org", "a***@mail.example.org"),
        ("+447700900123", "+4477*****123"),
        ("+14155552671", "+141*****671"),
        ("+4915123456789", "+4915******789"),
        ("+12345", "+1****"),
        ("not-a-recipient", "n***"),
        # Digits Python's isdigit() knows but int() does not: an envelope may carry anything.
        ("+4477\u00b2\u00b3", "+***"),
        ("", "***"),
    ],
)
def test_mask_recipient(recipient, masked):
    assert mask_recipient(recipient) == masked


def event(recipient: str) -> LogEvent:
    return LogEvent(action="message.accepted", service="router", trace_id="a" * 32, message="ok", recipient=recipient)


def test_log_events_carry_the_recipient_masked_by_default():
    assert event("user@example.com").to_ecs()["labels"] == {"recipient": "u***@example.com"}
    assert "+447700900123" not in event("+447700900123").to_json().decode()


def test_masking_can_be_turned_off(settings):
    settings.LOG_MASK_RECIPIENTS = False
    assert event("user@example.com").to_ecs()["labels"] == {"recipient": "user@example.com"}


def test_an_event_without_a_recipient_has_no_recipient_label():
    document = LogEvent(action="a", service="s", trace_id="a" * 32, message="m").to_ecs()
    assert "recipient" not in document["labels"]


@pytest.mark.parametrize(
    ("validate", "recipient", "masked"),
    [
        (validate_email_address, "ada@@example.com", "a***@example.com"),
        (validate_e164_phone_number, "+4477009001234567", "+4477*********567"),
        (validate_e164_phone_number, "+44 7700 900123", "+***"),
    ],
)
def test_invalid_recipient_errors_reach_logs_masked(validate, recipient, masked):
    with pytest.raises(InvalidRecipient) as error:
        validate(recipient)
    assert recipient not in str(error.value)
    assert masked in str(error.value)
