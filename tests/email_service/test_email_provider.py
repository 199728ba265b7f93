"""The email provider speaks Django's email backend API: any backend drops in, errors map to types."""

import smtplib
import uuid

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from delivery.errors import PermanentProviderError, TransientProviderError
from delivery.providers import ProviderPool, SendRequest
from email_service.models import EmailSimulatedSend
from email_service.providers import EmailBackendProvider
from tests.delivery.support import CHANNEL_DBS


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
    ],
)
def test_backend_errors_map_to_transient_or_permanent(error, expected):
    RefusingBackend.error = error
    with pytest.raises(expected):
        EmailBackendProvider(f"{__name__}.RefusingBackend").send(request())
