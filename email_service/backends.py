"""A Django email backend that simulates an email provider: each message it is handed is a call in the
email call log (EmailSimulatedSend), with the simulator's latency, failure and idempotency controls."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from delivery.providers import SendRequest
from delivery.simulator import SimulatedLedger, SimulatorSettings
from email_service.models import EmailSimulatedSend
from messaging.channels import Channel
from messaging.tracing import TraceContext


class SimulatedEmailBackend(BaseEmailBackend):
    # Every message handed to send_messages gets its own answer (`message.call_result`), and a failed
    # one never stops the others: the email provider hands it a whole batch in one call.
    reports_each_message = True

    def __init__(self, fail_silently: bool = False, *, concurrency: int = 1, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.ledger = SimulatedLedger(EmailSimulatedSend, SimulatorSettings.for_channel(Channel.EMAIL))
        # Sends the caller makes at a time (its pool): the simulated latency is waited in rounds.
        self.concurrency = concurrency

    @property
    def idempotent(self) -> bool:
        return self.ledger.config.idempotent

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Returns how many were accepted. Failures are on each message's `call_result`; with
        fail_silently off, a single message's failure is also raised, as Django backends do."""
        results = self.ledger.call_many(
            [self._request(message) for message in email_messages], concurrency=self.concurrency
        )
        for message, result in zip(email_messages, results, strict=True):
            message.call_result = result  # type: ignore[attr-defined]
        if len(results) == 1 and results[0].error is not None and not self.fail_silently:
            raise results[0].error
        return sum(1 for result in results if result.error is None)

    @staticmethod
    def _request(message: EmailMessage) -> SendRequest:
        """The email provider attaches its SendRequest; any other sender (e.g. `send_mail` with this
        backend) gets a fresh idempotency key and no simulate controls."""
        request = getattr(message, "send_request", None)
        if isinstance(request, SendRequest):
            return request
        return SendRequest(
            message_id=uuid.uuid4(),
            trace_id=TraceContext.new().trace_id,
            to=", ".join(message.to),
            body=str(message.body),
            subject=str(message.subject),
            metadata={},
            attempt=1,
        )
