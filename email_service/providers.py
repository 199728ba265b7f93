"""The email provider: builds a Django EmailMessage and sends it through a Django email backend
(settings.EMAIL_DELIVERY_BACKEND), so SMTP or any anymail ESP backend drops in unchanged. The
default backend is the simulator (email_service.backends.SimulatedEmailBackend)."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from delivery.errors import PermanentProviderError, ProviderError, TransientProviderError
from delivery.providers import Provider, SendRequest, SendResult
from messaging.masking import recipient_for_logs

# anymail's errors, matched by name so that anymail stays an optional dependency.
_PERMANENT_BACKEND_ERRORS = {"AnymailRecipientsRefused", "AnymailInvalidAddress"}
# SMTP replies 5xx are permanent (RFC 5321 §4.2.1); 4xx may succeed later.
_SMTP_PERMANENT_FLOOR = 500


class EmailBackendProvider(Provider):
    def __init__(self, backend: str | None = None) -> None:
        self.backend = backend or settings.EMAIL_DELIVERY_BACKEND

    def send(self, request: SendRequest) -> SendResult:
        message = self.build_message(request)
        try:
            # One connection per send: backends are not thread-safe, and the worker sends from
            # many threads. An SMTP pool would hold one connection per thread instead.
            sent = get_connection(self.backend, fail_silently=False).send_messages([message])
        except ProviderError:
            raise
        except smtplib.SMTPRecipientsRefused as error:
            # The text reaches log events: addresses masked as they are there.
            refused = ", ".join(recipient_for_logs(address) for address in error.recipients)
            raise PermanentProviderError(f"recipient refused: {refused}") from error
        except smtplib.SMTPResponseException as error:
            kind = PermanentProviderError if error.smtp_code >= _SMTP_PERMANENT_FLOOR else TransientProviderError
            raise kind(f"SMTP {error.smtp_code}: {error.smtp_error!r}") from error
        except Exception as error:
            if type(error).__name__ in _PERMANENT_BACKEND_ERRORS:
                raise PermanentProviderError(str(error)) from error
            raise TransientProviderError(f"{type(error).__name__}: {error}") from error
        if not sent:
            raise TransientProviderError("the email backend reported nothing sent")
        return SendResult(provider_message_id=provider_message_id(message))

    @staticmethod
    def build_message(request: SendRequest) -> EmailMessage:
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip("> ") or "localhost"
        message = EmailMessage(
            subject=request.subject or "",
            body=request.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[request.to],
            # A Message-ID derived from the message id: receivers that deduplicate on it see a
            # resent email as the same one.
            headers={"Message-ID": f"<{request.message_id}@{domain}>", "X-Trace-Id": request.trace_id},
        )
        # anymail reads `metadata` (passed to the ESP as custom data) and `esp_extra`; the
        # simulator reads the whole request. Other backends ignore unknown attributes.
        message.metadata = {"message_id": str(request.message_id), "trace_id": request.trace_id}  # type: ignore[attr-defined]
        message.esp_extra = {"idempotency_key": request.idempotency_key}  # type: ignore[attr-defined]
        message.send_request = request  # type: ignore[attr-defined]
        return message


def provider_message_id(message: EmailMessage) -> str:
    """anymail reports the ESP's id in `anymail_status`; the simulator sets `provider_message_id`;
    for plain SMTP the Message-ID header is the only id there is."""
    status = getattr(message, "anymail_status", None)
    if status is not None and getattr(status, "message_id", None):
        return str(status.message_id)
    return str(getattr(message, "provider_message_id", None) or message.extra_headers.get("Message-ID", ""))
