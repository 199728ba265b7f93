"""Unit tests of the framework's pure parts: retry policy, DLQ headers, recipients."""

from datetime import UTC, datetime

import pytest

from config.durations import parse_duration
from delivery.errors import InvalidRecipient
from delivery.recipients import validate_e164_phone_number, validate_email_address
from delivery.retry_policy import RetryPolicy
from messaging.dead_letters import DeadLetterInfo


@pytest.mark.parametrize(
    ("text", "seconds"), [("2s", 2.0), ("500ms", 0.5), ("1m", 60.0), ("0.5s", 0.5), ("3", 3.0), ("5d", 432000.0)]
)
def test_durations_parse(text, seconds):
    assert parse_duration(text) == seconds


def test_bad_duration_is_refused():
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_retry_delays_are_jittered_upwards_only_and_the_last_delay_repeats():
    policy = RetryPolicy(max_attempts=6, delays=(2.0, 10.0), jitter=0.1)
    for _ in range(100):
        assert 2.0 <= policy.delay(1) <= 2.2
        assert 10.0 <= policy.delay(4) <= 11.0
    assert policy.can_retry(5) and not policy.can_retry(6)
    assert policy.longest_delay == pytest.approx(11.0)


def test_policy_comes_from_settings(settings):
    settings.DELIVERY_MAX_ATTEMPTS = {**settings.DELIVERY_MAX_ATTEMPTS, "sms": 3}
    settings.DELIVERY_RETRY_DELAYS = {**settings.DELIVERY_RETRY_DELAYS, "sms": ["1s", "250ms"]}
    from messaging.channels import Channel

    assert RetryPolicy.for_channel(Channel.SMS) == RetryPolicy(max_attempts=3, delays=(1.0, 0.25))


def test_dead_letter_headers_round_trip():
    info = DeadLetterInfo(
        original_topic="send.sms",
        original_partition=1,
        original_offset=42,
        attempts=4,
        error_type="TransientProviderError",
        error_message="timeout",
        failed_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    )
    headers = info.to_headers()
    assert set(headers) == {
        "dlq-original-topic",
        "dlq-original-partition",
        "dlq-original-offset",
        "dlq-attempts",
        "dlq-error-type",
        "dlq-error-message",
        "dlq-failed-at",
    }
    assert DeadLetterInfo.from_headers(headers) == info
    assert DeadLetterInfo.from_headers({"traceparent": "x"}) is None


@pytest.mark.parametrize("to", ["ada@example.com", "a.b+c@sub.example.org"])
def test_valid_email_addresses(to):
    validate_email_address(to)


@pytest.mark.parametrize("to", ["ada", "ada@", "+14155552671"])
def test_invalid_email_addresses(to):
    with pytest.raises(InvalidRecipient):
        validate_email_address(to)


@pytest.mark.parametrize("to", ["+14155552671", "+447911123456"])
def test_valid_phone_numbers(to):
    validate_e164_phone_number(to)


@pytest.mark.parametrize("to", ["14155552671", "+1 415 555 2671", "+1415", "ada@example.com"])
def test_invalid_phone_numbers(to):
    with pytest.raises(InvalidRecipient):
        validate_e164_phone_number(to)
