"""Non-blocking retries, dead-lettering and poison records, on the real Kafka with real workers."""

import orjson
import pytest

from delivery.models import AttemptOutcome, CallOutcome, DeliveryStatus
from messaging.channels import Channel
from messaging.clients import build_producer
from messaging.dead_letters import DeadLetterInfo, dead_letter_record
from messaging.due_time import DUE_AT_HEADER
from messaging.envelope import MessageEnvelope
from messaging.headers import decode_headers
from messaging.publisher import publish_all_or_raise
from messaging.topics import delivery_log_topic, dlq_topic, retry_topic, send_topic
from messaging.tracing import TraceContext
from router.accept.requests import message_request_validate
from router.accept.rules import EMAIL_BODY_MAX_BYTES, InvalidMessage
from router.domain import MessageRequest
from tests.delivery.support import (
    CHANNEL_DBS,
    actions,
    log_events,
    make_envelope,
    provider_calls,
    publish_envelopes,
    publish_raw,
    records,
    records_with_key,
    sends,
    wait_for_status,
    worker,
)


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_transient_failures_retry_through_retry_topics_without_blocking_healthy_messages():
    failing = make_envelope(Channel.EMAIL, simulate={"failTimes": 2})
    healthy = make_envelope(Channel.EMAIL)

    with worker(Channel.EMAIL, EMAIL_RETRY_DELAYS="1s,1s,1s") as process:
        publish_envelopes([failing])
        publish_envelopes([healthy])
        wait_for_status(Channel.EMAIL, [healthy.id, failing.id], DeliveryStatus.SENT)
        assert process.stop() == 0, process.output()

    (record,) = records(Channel.EMAIL, [failing.id])
    attempts = list(record.attempts.all())
    assert [(a.number, a.outcome) for a in attempts] == [
        (1, AttemptOutcome.TRANSIENT_FAILURE),
        (2, AttemptOutcome.TRANSIENT_FAILURE),
        (3, AttemptOutcome.SENT),
    ]
    assert record.attempt_count == 3
    (sent,) = sends(Channel.EMAIL, [failing.id])
    assert sent.attempt == 3

    # Via retry topics 1 and 2, each carrying the next attempt and a due time.
    key = failing.key
    for level in (1, 2):
        (retry,) = records_with_key(retry_topic(Channel.EMAIL, level), key)
        assert MessageEnvelope.from_json(retry.value()).attempt == level + 1
        assert DUE_AT_HEADER in decode_headers(retry.headers())
    assert records_with_key(retry_topic(Channel.EMAIL, 3), key) == []

    # Non-blocking: the healthy message went out while the failing one waited for its first retry.
    (healthy_record,) = records(Channel.EMAIL, [healthy.id])
    assert healthy_record.sent_at < attempts[1].started_at
    assert (attempts[1].started_at - attempts[0].started_at).total_seconds() >= 1.0

    events = log_events(delivery_log_topic(Channel.EMAIL), failing.id)
    assert actions(events) == [
        "delivery.received",
        "delivery.failed",
        "delivery.retry_scheduled",
        "delivery.received",
        "delivery.failed",
        "delivery.retry_scheduled",
        "delivery.received",
        "delivery.sent",
    ]
    assert [e["labels"]["attempt"] for e in events] == [1, 1, 1, 2, 2, 2, 3, 3]
    assert events[1]["error"]["type"] == "TransientProviderError"


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_exhausted_and_permanent_failures_are_dead_lettered_with_error_headers():
    exhausted = make_envelope(Channel.SMS, simulate={"failTimes": 9})
    permanent = make_envelope(Channel.SMS, simulate={"permanent": True})
    bad_number = make_envelope(Channel.SMS, to="not-a-phone-number")

    with worker(Channel.SMS, SMS_RETRY_DELAYS="0.2s,0.2s,0.2s") as process:
        publish_envelopes([exhausted, permanent, bad_number])
        wait_for_status(Channel.SMS, [exhausted.id, permanent.id, bad_number.id], DeliveryStatus.FAILED)
        assert process.stop() == 0, process.output()

    by_id = {r.message_id: r for r in records(Channel.SMS, [exhausted.id, permanent.id, bad_number.id])}
    assert by_id[exhausted.id].attempt_count == 4  # SMS_MAX_ATTEMPTS default
    assert [a.outcome for a in by_id[exhausted.id].attempts.all()][-1] == AttemptOutcome.EXHAUSTED
    assert by_id[permanent.id].attempt_count == 1
    assert by_id[bad_number.id].attempt_count == 1
    assert sends(Channel.SMS, by_id) == []
    calls = provider_calls(Channel.SMS, by_id)
    assert [c.outcome for c in calls if c.idempotency_key == str(exhausted.id)] == [CallOutcome.TRANSIENT_FAILURE] * 4
    assert [c.outcome for c in calls if c.idempotency_key == str(permanent.id)] == [CallOutcome.PERMANENT_FAILURE]
    assert [c for c in calls if c.idempotency_key == str(bad_number.id)] == []  # refused before any call

    expected = {
        exhausted.id: (4, "TransientProviderError", send_topic(Channel.SMS) + ".retry.3"),
        permanent.id: (1, "PermanentProviderError", send_topic(Channel.SMS)),
        bad_number.id: (1, "InvalidRecipient", send_topic(Channel.SMS)),
    }
    for envelope in (exhausted, permanent, bad_number):
        (dead,) = records_with_key(dlq_topic(Channel.SMS), envelope.key)
        headers = decode_headers(dead.headers())
        info = DeadLetterInfo.from_headers(headers)
        attempts, error_type, original_topic = expected[envelope.id]
        assert info is not None, headers
        assert (info.attempts, info.error_type, info.original_topic) == (attempts, error_type, original_topic)
        assert info.original_partition >= 0 and info.original_offset >= 0
        assert info.error_message
        assert headers["traceparent"].split("-")[1] == envelope.trace_id
        assert MessageEnvelope.from_json(dead.value()).id == envelope.id

    assert actions(log_events(delivery_log_topic(Channel.SMS), permanent.id)) == [
        "delivery.received",
        "delivery.failed",
        "delivery.dead_lettered",
    ]


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_poison_records_are_dead_lettered_and_the_next_record_is_still_sent():
    topic = send_topic(Channel.WHATSAPP)
    good = make_envelope(Channel.WHATSAPP)
    unknown_schema = orjson.dumps({**orjson.loads(make_envelope(Channel.WHATSAPP).to_json()), "schema": "message/v9"})

    with worker(Channel.WHATSAPP) as process:
        publish_raw(topic, b"poison-json", b"{not json")
        publish_raw(topic, b"poison-schema", unknown_schema)
        publish_envelopes([good])
        wait_for_status(Channel.WHATSAPP, [good.id], DeliveryStatus.SENT)
        assert process.popen.poll() is None, "the worker must survive poison records"
        assert process.stop() == 0, process.output()

    for key, reason in ((b"poison-json", "not JSON"), (b"poison-schema", "unknown schema 'message/v9'")):
        (dead,) = records_with_key(dlq_topic(Channel.WHATSAPP), key)
        info = DeadLetterInfo.from_headers(decode_headers(dead.headers()))
        assert info is not None
        assert info.error_type == "InvalidMessage"
        assert reason in info.error_message
        assert info.original_topic == topic
    assert records_with_key(dlq_topic(Channel.WHATSAPP), good.key) == []


# Far more attempts than any retry policy makes: the attempt count is written into the envelope.
EMAIL_MAX_ATTEMPTS_CEILING = 999


def _largest_accepted_email() -> MessageRequest:
    """The largest email the API accepts: a body of control characters (six bytes each once JSON
    escapes them), grown until the envelope check at the door refuses it."""
    low, high, largest = 1, EMAIL_BODY_MAX_BYTES, None
    while low <= high:
        middle = (low + high) // 2
        try:
            largest = message_request_validate(
                {"channel": "email", "to": "ada@example.com", "subject": "Hello", "body": "\x01" * middle}
            )
            low = middle + 1
        except InvalidMessage:
            high = middle - 1
    assert largest is not None
    return largest


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_the_largest_message_the_api_accepts_fits_its_dead_letter_with_the_longest_error():
    # A 202 promises a final status: a message that fails for good must fit on its DLQ, whatever
    # the provider's error text (kept in a header) and however many attempts it took.
    request = _largest_accepted_email()
    envelope = make_envelope(
        Channel.EMAIL, to=request.to, subject=request.subject, body=request.body, attempt=EMAIL_MAX_ATTEMPTS_CEILING
    )
    publish_envelopes([envelope])
    (record,) = records_with_key(send_topic(Channel.EMAIL), envelope.key)

    dead_letter = dead_letter_record(
        record,
        topic=dlq_topic(Channel.EMAIL),
        value=envelope.to_json(),
        attempts=envelope.attempt,
        error_type="SMTPDataError",
        error_message="550 Mailbox unavailable: " + "é" * 10_000,  # a provider's long, non-ASCII answer
        trace=TraceContext.continuing(envelope.trace_id),
    )
    publish_all_or_raise(build_producer(), [dead_letter], what="dead letters")

    (kept,) = records_with_key(dlq_topic(Channel.EMAIL), envelope.key)
    assert kept.value() == envelope.to_json()
    assert DeadLetterInfo.from_headers(decode_headers(kept.headers())).error_message.startswith("550 Mailbox")
