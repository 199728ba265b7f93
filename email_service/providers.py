"""The email provider: builds a Django EmailMessage and sends it through a Django email backend
(settings.EMAIL_DELIVERY_BACKEND), so SMTP or any anymail ESP backend drops in unchanged. The
default backend is the simulator (email_service.backends.SimulatedEmailBackend)."""

from __future__ import annotations

import contextlib
import re
import smtplib
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend

from delivery.decisions import CallResult
from delivery.errors import PermanentProviderError, ProviderError, ProviderThrottled, TransientProviderError
from delivery.providers import Provider, ProviderPool, SendRequest, SendResult
from delivery.retry_after import retry_after_seconds
from messaging.masking import recipient_for_logs

# anymail's errors, matched by name so that anymail stays an optional dependency.
_PERMANENT_BACKEND_ERRORS = {"AnymailRecipientsRefused", "AnymailInvalidAddress"}
_API_ERRORS = {"AnymailAPIError", "AnymailRequestsAPIError"}
# SMTP replies 5xx are permanent (RFC 5321 §4.2.1); 4xx may succeed later.
_SMTP_PERMANENT_FLOOR = 500
# A server asking us to slow down: 421/451/454 with an enhanced status code 4.7.x (RFC 3463's
# "security or policy status", where SES, Gmail and Microsoft put their rate limits), e.g.
# `454 4.7.0 Throttling failure: Maximum sending rate exceeded.` Without 4.7.x these codes are
# ordinary transient failures (a 421 shutting down, a 451 local error).
_SMTP_THROTTLING_CODES = {421, 451, 454}
_POLICY_STATUS = re.compile(rb"(?:^|\s)4\.7\.\d{1,3}(?=\s|$)")
_ENHANCED_STATUS = re.compile(rb"(?:^|\s)([245]\.\d{1,3}\.\d{1,3})(?=\s|$)")
# An ESP's HTTP answer asking us to slow down (anymail's AnymailAPIError.status_code).
_HTTP_TOO_MANY_REQUESTS = 429


class EmailBackendProvider(Provider):
    def __init__(self, backend: str | None = None, *, connection: Mapping[str, Any] | None = None) -> None:
        """`connection`: the backend's keyword arguments (host, port, username, … of one EMAIL_URL),
        else the backend reads Django's settings (EMAIL_HOST, …)."""
        self.backend = backend or settings.EMAIL_DELIVERY_BACKEND
        self.connection = dict(connection or {})
        probe = self._connect()
        self.idempotent = bool(getattr(probe, "idempotent", False))
        # The simulator answers a whole batch in one call; other backends send one message at a time.
        self._batch_backend = bool(getattr(probe, "reports_each_message", False))

    def send(self, request: SendRequest) -> SendResult:
        (result,) = self._send_group([self.build_message(request)])
        if result.error is not None:
            raise result.error
        return SendResult(provider_message_id=result.provider_message_id)

    def send_many(self, requests: Sequence[SendRequest], pool: ProviderPool) -> list[CallResult]:
        """SMTP and ESP backends: the batch is split into one group per pool thread, and each group
        goes over one connection (one SMTP session for many messages, as Django's backends allow)."""
        messages = [self.build_message(request) for request in requests]
        if self._batch_backend:
            self._connect(fail_silently=True, concurrency=pool.size).send_messages(messages)
            return [replace(message.call_result, provider=self.name) for message in messages]  # type: ignore[attr-defined]
        size = -(-len(messages) // pool.size)  # ceil: at most pool.size groups
        groups = [messages[start : start + size] for start in range(0, len(messages), size)]
        if len(groups) == 1:
            return self._send_group(groups[0])
        return [result for group in pool.map(self._send_group, groups) for result in group]

    def _send_group(self, messages: Sequence[EmailMessage]) -> list[CallResult]:
        # One connection per group: backends are not thread-safe, and each group runs on its own thread.
        connection = self._connect(fail_silently=False)
        results: list[CallResult] = []
        try:
            for message in messages:
                results.append(self._send_one(connection, message))
        finally:
            with contextlib.suppress(Exception):  # a broken connection has nothing left to close
                connection.close()
        return results

    def _connect(self, **kwargs: Any) -> BaseEmailBackend:
        return get_connection(self.backend, **self.connection, **kwargs)

    def _send_one(self, connection: BaseEmailBackend, message: EmailMessage) -> CallResult:
        started_at, clock = datetime.now(UTC), time.perf_counter_ns()
        try:
            sent = connection.send_messages([message])
            if not sent:
                raise TransientProviderError("the email backend reported nothing sent")
        except Exception as error:
            return CallResult(started_at, time.perf_counter_ns() - clock, error=classify(error), provider=self.name)
        return CallResult(started_at, time.perf_counter_ns() - clock, provider_message_id(message), provider=self.name)

    @staticmethod
    def build_message(request: SendRequest) -> EmailMessage:
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip("> ") or "localhost"
        # A text part always; with `html`, multipart/alternative with the HTML part after it.
        message = EmailMultiAlternatives(
            subject=request.subject or "",
            body=request.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[request.to],
            # A Message-ID derived from the message id: receivers that deduplicate on it see a
            # resent email as the same one.
            headers={"Message-ID": f"<{request.message_id}@{domain}>", "X-Trace-Id": request.trace_id},
        )
        if request.html is not None:
            message.attach_alternative(request.html, "text/html")
        # anymail reads `metadata` (passed to the ESP as custom data) and `esp_extra`; the
        # simulator reads the whole request. Other backends ignore unknown attributes.
        message.metadata = {"message_id": str(request.message_id), "trace_id": request.trace_id}  # type: ignore[attr-defined]
        message.esp_extra = {"idempotency_key": request.idempotency_key}  # type: ignore[attr-defined]
        message.send_request = request  # type: ignore[attr-defined]
        return message


def classify(error: Exception) -> ProviderError:
    """A backend's exception as a provider error: a slow-down answer (SMTP 4.7.x, HTTP 429) is
    ProviderThrottled; SMTP 5xx and recipients refused with a 5xx are permanent; other 4xx transient."""
    if isinstance(error, ProviderError):
        return error
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        # The text reaches log events: addresses masked as they are there, and the server's words
        # (which may repeat the address) reduced to its codes.
        refused = ", ".join(recipient_for_logs(address) for address in error.recipients)
        answers = [(code, _as_bytes(text)) for code, text in error.recipients.values()]
        codes = ", ".join(sorted({_smtp_codes(code, text) for code, text in answers}))
        if answers and all(_smtp_throttling(code, text) for code, text in answers):
            return ProviderThrottled(f"recipient deferred for the sending rate: {refused} ({codes})")
        if answers and all(code < _SMTP_PERMANENT_FLOOR for code, _ in answers):
            return TransientProviderError(f"recipient deferred: {refused} ({codes})")
        return PermanentProviderError(f"recipient refused: {refused}")
    if isinstance(error, smtplib.SMTPResponseException):
        text = _as_bytes(error.smtp_error)
        if _smtp_throttling(error.smtp_code, text):
            return ProviderThrottled(_smtp_answer(error.smtp_code, text))
        kind = PermanentProviderError if error.smtp_code >= _SMTP_PERMANENT_FLOOR else TransientProviderError
        return kind(f"SMTP {error.smtp_code}: {error.smtp_error!r}")
    if type(error).__name__ in _PERMANENT_BACKEND_ERRORS:
        return PermanentProviderError(str(error))
    if type(error).__name__ in _API_ERRORS and getattr(error, "status_code", None) == _HTTP_TOO_MANY_REQUESTS:
        response = getattr(error, "response", None)
        headers = getattr(response, "headers", None) or {}
        return ProviderThrottled(
            f"{type(error).__name__}: {error}", retry_after=retry_after_seconds(headers.get("Retry-After"))
        )
    return TransientProviderError(f"{type(error).__name__}: {error}")


def _smtp_throttling(code: int, text: bytes) -> bool:
    return code in _SMTP_THROTTLING_CODES and _POLICY_STATUS.search(text) is not None


def _smtp_codes(code: int, text: bytes) -> str:
    """`SMTP 454 4.7.0`: the reply code and its enhanced status code, if any."""
    enhanced = _ENHANCED_STATUS.search(text)
    return f"SMTP {code} {enhanced.group(1).decode()}" if enhanced else f"SMTP {code}"


def _as_bytes(text: bytes | str) -> bytes:
    return text if isinstance(text, bytes) else str(text).encode()


def _smtp_answer(code: int, text: bytes) -> str:
    """The server's own words (they reach the timeline): `SMTP 454 4.7.0 Throttling failure: …`."""
    return f"SMTP {code} {text.decode(errors='replace')}"


def provider_message_id(message: EmailMessage) -> str:
    """anymail reports the ESP's id in `anymail_status`; the simulator answers in `call_result`; for
    plain SMTP the Message-ID header is the only id there is."""
    status = getattr(message, "anymail_status", None)
    if status is not None and getattr(status, "message_id", None):
        return str(status.message_id)
    simulated = getattr(message, "call_result", None)
    if simulated is not None and simulated.provider_message_id:
        return str(simulated.provider_message_id)
    return str(message.extra_headers.get("Message-ID", ""))
