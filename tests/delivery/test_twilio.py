"""SMS and WhatsApp through Twilio's official library, against a local server process that speaks its
API (tests/peers/fake_twilio.py), reached through the library's HTTP-client hook: what the server
receives, the SIDs the records keep, and Twilio's errors as retries and dead letters."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import pytest
from twilio.base.exceptions import TwilioRestException

from delivery.errors import PermanentProviderError, ProviderThrottled, RecipientUnsubscribed, TransientProviderError
from delivery.models import DeliveryStatus
from delivery.providers import SendRequest
from delivery.registry import get_channel
from delivery.twilio import classify
from messaging.channels import Channel
from messaging.groups import consumer_group
from messaging.topics import delivery_log_topic, dlq_topic, retry_topic, send_topic
from sms_service.providers import TwilioSmsProvider
from tests.delivery.support import (
    CHANNEL_DBS,
    actions,
    log_events,
    make_envelope,
    own_run_topics,
    publish_envelopes,
    records,
    topic_records,
    wait_for_status,
    worker,
)
from tests.factories import SmsDeliveryFactory
from tests.faults.system import FaultSystem
from tests.peers.twilio import ACCOUNT, TOKEN, FakeTwilioServer
from tests.peers.twilio_webhooks import FORM, post_signed
from tests.processes import group_caught_up, wait_for

SMS, WHATSAPP = Channel.SMS, Channel.WHATSAPP


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
def test_sms_and_whatsapp_go_through_twilio_and_its_receipts_come_back(tmp_path, settings):
    server = FakeTwilioServer(tmp_path, fail_first=1)  # the first send meets a 503 and is retried
    topics = own_run_topics(settings, "twilio")
    twilio = {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_API_BASE_URL": server.url,
        "TWILIO_SMS_FROM": "+15017122661",
        "TWILIO_WHATSAPP_FROM": "+14155238886",
        **topics,
    }
    sms = make_envelope(SMS, to="+14155552671", body="Hi by SMS")
    invalid = make_envelope(SMS, to="+15005550001", body="never")  # Twilio's magic number: error 21211
    unreachable = make_envelope(SMS, to="+15005550010", body="lost")  # accepted, then undelivered (30003)
    unsubscribed = make_envelope(SMS, to="+15005550004", body="no")  # 21610: suppressed from then on
    later = make_envelope(SMS, to="+15005550004", body="again")
    whatsapp = make_envelope(WHATSAPP, to="+447911123456", body="Hi on WhatsApp")
    api = FaultSystem(name="twilio")  # the API (gunicorn) takes Twilio's signed status callbacks
    try:
        api.start_api(TWILIO_AUTH_TOKEN=TOKEN, **topics)
        twilio["TWILIO_STATUS_CALLBACK_URL"] = f"{api.api_url}/api/v1/providers/twilio/status"
        with worker(SMS, SMS_PROVIDER="twilio", **twilio), worker(WHATSAPP, WHATSAPP_PROVIDER="twilio", **twilio):
            publish_envelopes([sms, invalid, unreachable, unsubscribed, whatsapp])
            wait_for_status(SMS, [sms.id], DeliveryStatus.DELIVERED, timeout=60)
            wait_for_status(WHATSAPP, [whatsapp.id], DeliveryStatus.DELIVERED, timeout=60)
            wait_for_status(SMS, [unreachable.id], DeliveryStatus.UNDELIVERED, timeout=60)
            wait_for_status(SMS, [invalid.id, unsubscribed.id], DeliveryStatus.FAILED, timeout=60)
            publish_envelopes([later])
            wait_for_status(SMS, [later.id], DeliveryStatus.SUPPRESSED, timeout=60)
    finally:
        server.process.stop()
        assert not api.close()

    assert server.calls("+14155552671")[-1] == {"To": "+14155552671", "From": "+15017122661", "Body": "Hi by SMS"}
    assert server.calls("whatsapp:+447911123456")[-1] == {
        "To": "whatsapp:+447911123456",
        "From": "whatsapp:+14155238886",
        "Body": "Hi on WhatsApp",
    }
    (sent_sms,), (sent_whatsapp,) = records(SMS, [sms.id]), records(WHATSAPP, [whatsapp.id])
    for record in (sent_sms, sent_whatsapp):
        assert record.provider_message_id.startswith("SM") and len(record.provider_message_id) == 34
    (failed,) = records(SMS, [invalid.id])
    assert "21211" in failed.last_error and failed.last_error.startswith("PermanentProviderError")
    # A permanent error is not retried: one call, or two when it was the one that met the 503.
    assert len(server.calls("+15005550001")) == failed.attempt_count
    numbers = ("+14155552671", "+15005550001", "+15005550010", "+15005550004", "whatsapp:+447911123456")
    assert sorted(len(server.calls(to)) for to in numbers) == [1, 1, 1, 1, 2], "one send met the 503, retried"
    assert (
        get_channel(SMS).suppression_model.objects.using("sms").get(recipient="+15005550004").reason == "unsubscribed"
    )
    # Every signed callback was taken (204): sent (no change) and the final receipt, per accepted send.
    assert [callback["answer"] for callback in server.callbacks()] == [204] * 6
    (lost,) = records(SMS, [unreachable.id])
    assert lost.last_error == "Twilio error 30003"
    reported = [
        e
        for e in log_events(delivery_log_topic(SMS), unreachable.id)
        if e["event"]["action"] == "delivery.status_reported"
    ]
    assert [(e["labels"]["delivery_status"], e["event"]["outcome"]) for e in reported] == [("undelivered", "failure")]


@pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)
@pytest.mark.parametrize(
    ("receipts_first", "answer_delay", "outcome"),
    [
        (True, 0.0, "delivery.sent"),
        (True, 3.0, "delivery.failed"),  # its only attempt: a dead letter, were it not delivered
        (False, 3.0, "delivery.retry_scheduled"),
    ],
    ids=[
        "the receipt, then the answer",
        "the receipt, then the worker's timeout",
        "the worker's timeout, then the receipt",
    ],
)
def test_a_receipt_before_the_workers_outcome_is_kept(tmp_path, settings, receipts_first, answer_delay, outcome):
    """The worker has not written Twilio's SID when the receipt comes: Twilio posted `delivered` before
    its answer reached the worker (the record is still `sending`), or the worker's call timed out
    although Twilio took the message (the record waits for its retry). The receipt finds the record by
    the message id in the callback URL; the worker's outcome leaves it `delivered`, and the retry finds
    it delivered and sends nothing again; a failure the receipt came before is neither retried nor
    dead-lettered."""
    server = FakeTwilioServer(tmp_path, receipts_first=receipts_first, answer_delay=answer_delay)
    topics = own_run_topics(settings, "twilio-early")
    sms = make_envelope(SMS, to="+14155552671", body="overtaken")
    api = FaultSystem(name="twilio-early")
    try:
        api.start_api(TWILIO_AUTH_TOKEN=TOKEN, **topics)
        twilio = {
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_API_BASE_URL": server.url,
            "TWILIO_SMS_FROM": "+15017122661",
            "TWILIO_STATUS_CALLBACK_URL": f"{api.api_url}/api/v1/providers/twilio/status",
            "TWILIO_TIMEOUT_SECONDS": "1",
            **topics,
        }
        # The retry comes after the receipt (a few seconds), as Twilio's come within seconds of a send.
        attempts = "1" if outcome == "delivery.failed" else "4"
        with worker(SMS, SMS_PROVIDER="twilio", SMS_RETRY_DELAYS="6s,6s,6s", SMS_MAX_ATTEMPTS=attempts, **twilio):
            publish_envelopes([sms])
            wait_for(lambda: len(server.callbacks()) == 2, timeout=60, what="both receipts")
            wait_for_status(SMS, [sms.id], DeliveryStatus.DELIVERED, timeout=60)
            wait_for(
                lambda: outcome in actions(log_events(delivery_log_topic(SMS), sms.id)),
                timeout=60,
                what=f"the worker's {outcome}",
            )
            if outcome == "delivery.retry_scheduled":  # the worker has read the retry's record (and skipped it)
                topics_read = [send_topic(SMS), retry_topic(SMS, 1)]
                wait_for(
                    lambda: group_caught_up(consumer_group("sms_service"), topics_read),
                    timeout=60,
                    what="the worker to read the retry",
                )
    finally:
        server.process.stop()
        assert not api.close()

    assert [callback["answer"] for callback in server.callbacks()] == [204, 204]
    assert f"messageId={sms.id}" in server.callbacks()[0]["callback"]
    assert len(server.calls("+14155552671")) == 1, "sent once, whatever the worker saw"
    if outcome == "delivery.failed":
        assert topic_records(dlq_topic(SMS)) == [] and topic_records(retry_topic(SMS, 1)) == []
    (record,) = records(SMS, [sms.id])
    assert record.status == DeliveryStatus.DELIVERED, "the worker's outcome must not undo the receipt"
    assert record.provider_message_id == server.callbacks()[0]["params"]["MessageSid"]
    assert record.attempt_count == 1


def _callback(client, params: dict[str, str], *, token: str = TOKEN):
    return post_signed(client, "/api/v1/providers/twilio/status", params, token=token)


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_a_status_callback_is_taken_only_with_twilios_signature(client, settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    record = SmsDeliveryFactory(status=DeliveryStatus.SENT, provider_message_id="SM" + "a" * 32)
    params = {"MessageSid": record.provider_message_id, "MessageStatus": "delivered", "To": record.recipient}
    assert _callback(client, params, token="someone else's token").status_code == 403
    assert client.post("/api/v1/providers/twilio/status", urlencode(params), content_type=FORM).status_code == 403
    record.refresh_from_db()
    assert record.status == DeliveryStatus.SENT
    assert _callback(client, params).status_code == 204
    record.refresh_from_db()
    assert record.status == DeliveryStatus.DELIVERED
    # Receipts come out of order and twice: a late `sent` never moves a delivered message back.
    assert _callback(client, {**params, "MessageStatus": "sent"}).status_code == 204
    record.refresh_from_db()
    assert record.status == DeliveryStatus.DELIVERED


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, 21211, PermanentProviderError),
        (400, 21610, RecipientUnsubscribed),  # and the recipient is suppressed
        (400, 63016, PermanentProviderError),
        (401, 20003, PermanentProviderError),  # bad credentials: no retry fixes them
        (429, 20429, ProviderThrottled),  # slow down: not a failed attempt
        (429, None, ProviderThrottled),
        (400, 14107, ProviderThrottled),  # the message rate limit
        (400, 30001, TransientProviderError),
        (500, 20500, TransientProviderError),
        (503, None, TransientProviderError),
    ],
)
def test_twilio_errors_are_throttled_transient_or_permanent(status, code, expected):
    error = classify(TwilioRestException(status, "https://api.twilio.com/…", msg="boom", code=code))
    assert type(error) is expected
    assert str(status) in str(error)


def sms_request(*, to: str, body: str) -> SendRequest:
    return SendRequest(
        message_id=uuid.uuid4(), trace_id="c" * 32, to=to, body=body, subject=None, metadata={}, attempt=1
    )


def test_a_throttling_answer_carries_its_retry_after():
    error = classify(
        TwilioRestException(429, "https://api.twilio.com/…", msg="Too Many Requests", code=20429), retry_after="3"
    )
    assert isinstance(error, ProviderThrottled) and error.retry_after == 3.0
    assert "too many requests" in str(error)
    unreadable = classify(TwilioRestException(429, "https://api.twilio.com/…", code=20429), retry_after="soon")
    assert isinstance(unreadable, ProviderThrottled) and unreadable.retry_after is None


def test_the_provider_answers_a_capped_twilio_with_throttled_sends_that_were_not_accepted(tmp_path, settings):
    server = FakeTwilioServer(tmp_path, rate_limit="3/s")
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT, TOKEN
    settings.TWILIO_SMS_FROM, settings.TWILIO_API_BASE_URL = "+15005550006", server.url
    settings.TWILIO_STATUS_CALLBACK_URL = ""
    provider = TwilioSmsProvider()
    outcomes: dict[str, ProviderThrottled | None] = {}
    try:
        for n in range(12):
            body = f"burst {n}"
            try:
                provider.send(sms_request(to=f"+1555010{n:04d}", body=body))
                outcomes[body] = None
            except ProviderThrottled as error:
                outcomes[body] = error
    finally:
        server.stop()
    throttled = {body for body, error in outcomes.items() if error is not None}
    assert throttled and len(throttled) < 12
    assert all(outcomes[body].retry_after == 1.0 for body in throttled)  # type: ignore[union-attr]
    assert {sent["body"] for sent in server.accepted()} == set(outcomes) - throttled
    assert {refused["body"] for refused in server.refusals()} == throttled
