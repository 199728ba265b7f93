"""The email provider speaks Django's email backend API: any backend drops in, errors map to types."""

import smtplib
import uuid

import pytest
import requests
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.base import BaseEmailBackend

from delivery.errors import PermanentProviderError, ProviderThrottled, TransientProviderError
from delivery.providers import ProviderPool, SendRequest
from email_service.models import EmailSimulatedSend
from email_service.providers import EmailBackendProvider, classify
from tests.delivery.support import CHANNEL_DBS
from tests.peers.smtp import SmtpSink


def request(**overrides) -> SendRequest:
    fields = {
        "message_id": uuid.uuid4(),
        "trace_id": "b" * 32,
        "to": "ada@example.com",
        "body": "Hi Ada",
        "subject": "Hello",
        "metadata": {},
        "attempt": 1,
    }
    return SendRequest(**{**fields, **overrides})


def test_sends_through_any_django_backend():
    provider = EmailBackendProvider("django.core.mail.backends.locmem.EmailBackend")
    sent = request()
    result = provider.send(sent)
    (message,) = mail.outbox
    assert (message.to, message.subject, message.body) == (["ada@example.com"], "Hello", "Hi Ada")
    assert message.extra_headers["Message-ID"] == f"<{sent.message_id}@comms.local>"
    assert result.provider_message_id == message.extra_headers["Message-ID"]


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_the_simulated_backend_logs_every_call_and_like_smtp_sends_a_repeat_again():
    provider = EmailBackendProvider("email_service.backends.SimulatedEmailBackend")
    assert not provider.idempotent
    sent = request()
    first = provider.send(sent)
    assert provider.send(sent) != first
    rows = list(EmailSimulatedSend.objects.order_by("id"))
    assert [(row.idempotency_key, row.subject, row.recipient) for row in rows] == [
        (str(sent.message_id), "Hello", "ada@example.com")
    ] * 2
    assert rows[0].provider_message_id == first.provider_message_id


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_a_batch_goes_to_the_simulated_backend_in_one_call_with_an_answer_per_message(settings):
    settings.DELIVERY_SIMULATOR = {
        **settings.DELIVERY_SIMULATOR,
        "email": {"latency_ms": 0, "failure_rate": 0, "idempotent": True},
    }
    provider = EmailBackendProvider("email_service.backends.SimulatedEmailBackend")
    assert provider.idempotent
    ok, refused = request(), request(metadata={"simulate": {"permanent": True}})
    with ProviderPool(4) as pool:
        results = provider.send_many([ok, refused, ok], pool)
    assert results[0].error is None and results[2].provider_message_id == results[0].provider_message_id
    assert isinstance(results[1].error, PermanentProviderError)
    assert EmailSimulatedSend.objects.count() == 3


@pytest.mark.django_db(databases=CHANNEL_DBS)
def test_simulate_controls_pass_through_the_backend():
    provider = EmailBackendProvider("email_service.backends.SimulatedEmailBackend")
    with pytest.raises(TransientProviderError):
        provider.send(request(metadata={"simulate": {"failTimes": 1}}))
    with pytest.raises(PermanentProviderError):
        provider.send(request(metadata={"simulate": {"permanent": True}}))


class RefusingBackend(BaseEmailBackend):
    error: Exception = OSError("connection refused")

    def send_messages(self, email_messages):
        raise type(self).error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (smtplib.SMTPRecipientsRefused({"ada@example.com": (550, b"no such user")}), PermanentProviderError),
        (smtplib.SMTPDataError(554, b"rejected"), PermanentProviderError),
        (smtplib.SMTPDataError(451, b"try later"), TransientProviderError),
        (OSError("connection refused"), TransientProviderError),
        # Slow-down answers: 421/451/454 with an enhanced code 4.7.x.
        (smtplib.SMTPDataError(454, b"4.7.0 Throttling failure: Maximum sending rate exceeded."), ProviderThrottled),
        (
            smtplib.SMTPSenderRefused(421, b"4.7.0 Too many messages, slow down", "no-reply@comms.local"),
            ProviderThrottled,
        ),
        (smtplib.SMTPDataError(451, b"4.7.1 Rate limited, try again later"), ProviderThrottled),
        (
            smtplib.SMTPConnectError(421, b"mx.example.com 4.7.28 Our system has detected an unusual rate"),
            ProviderThrottled,
        ),
        (smtplib.SMTPDataError(421, b"4.4.2 Connection dropped"), TransientProviderError),  # not a policy code
        (smtplib.SMTPDataError(450, b"4.7.1 Greylisted"), TransientProviderError),  # 4.7.x but not a rate code
        (smtplib.SMTPDataError(554, b"5.7.1 Message rejected"), PermanentProviderError),
        (smtplib.SMTPDataError(454, b"Throttling 14.7.0"), TransientProviderError),  # no enhanced code
        (smtplib.SMTPRecipientsRefused({"ada@example.com": (454, b"4.7.0 Throttling failure")}), ProviderThrottled),
        (smtplib.SMTPRecipientsRefused({"ada@example.com": (450, b"4.2.1 Mailbox busy")}), TransientProviderError),
    ],
)
def test_backend_errors_map_to_throttled_transient_or_permanent(error, expected):
    RefusingBackend.error = error
    with pytest.raises(expected):
        EmailBackendProvider(f"{__name__}.RefusingBackend").send(request())


def anymail_error(status: int, headers: dict[str, str] | None = None) -> Exception:
    from anymail.exceptions import AnymailAPIError

    response = requests.Response()
    response.status_code, response.headers = status, requests.structures.CaseInsensitiveDict(headers or {})
    return AnymailAPIError("ESP API response 429: rate limit", status_code=status, response=response, esp_name="Test")


@pytest.mark.parametrize(
    ("error", "expected", "retry_after"),
    [
        (anymail_error(429, {"Retry-After": "7"}), ProviderThrottled, 7.0),
        (anymail_error(429), ProviderThrottled, None),
        (anymail_error(503, {"Retry-After": "7"}), TransientProviderError, None),
    ],
)
def test_an_esps_429_is_a_slow_down_with_its_retry_after(error, expected, retry_after):
    classified = classify(error)
    assert type(classified) is expected
    assert getattr(classified, "retry_after", None) == retry_after


def test_the_servers_words_stay_in_a_throttled_answer():
    classified = classify(smtplib.SMTPDataError(454, b"4.7.0 Throttling failure: Maximum sending rate exceeded."))
    assert str(classified) == "SMTP 454 4.7.0 Throttling failure: Maximum sending rate exceeded."
    assert classified.retry_after is None  # type: ignore[attr-defined]


def test_a_burst_at_a_capped_smtp_server_comes_back_throttled_for_exactly_what_did_not_arrive(tmp_path, settings):
    sink = SmtpSink(tmp_path, rate_limit="10/s")
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    provider = EmailBackendProvider("django.core.mail.backends.smtp.EmailBackend")
    requests_ = [request(to=f"user{n}@example.com") for n in range(40)]
    try:
        with ProviderPool(4) as pool:  # four connections, one bucket
            results = provider.send_many(requests_, pool)
    finally:
        sink.stop()
    throttled = {str(sent.message_id) for sent, result in zip(requests_, results, strict=True) if result.error}
    assert all(isinstance(result.error, ProviderThrottled) for result in results if result.error)
    assert throttled and len(throttled) < 40
    # Throttled is exactly what the server refused, and none of it arrived.
    assert sink.refusals() == dict.fromkeys(throttled, 1)
    assert sink.arrivals() == dict.fromkeys({str(sent.message_id) for sent in requests_} - throttled, 1)


def test_the_email_simulator_refuses_a_rate_limit_that_does_not_parse_naming_the_setting(settings):
    settings.DELIVERY_SIMULATOR = {**settings.DELIVERY_SIMULATOR, "email": {"rate_limit": "lots/s"}}
    with pytest.raises(ImproperlyConfigured, match="EMAIL_SIMULATOR_RATE_LIMIT"):
        EmailBackendProvider("email_service.backends.SimulatedEmailBackend")


def test_a_recipient_deferred_for_the_rate_is_logged_with_codes_not_the_servers_words():
    refusal = smtplib.SMTPRecipientsRefused({"ada@example.com": (451, b"4.7.1 <ada@example.com>: slow down")})
    classified = classify(refusal)
    assert isinstance(classified, ProviderThrottled)
    assert "ada@example.com" not in str(classified) and "SMTP 451 4.7.1" in str(classified)
