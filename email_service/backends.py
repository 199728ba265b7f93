"""A Django email backend that simulates an email provider: each message it "sends" is a row in the
email ledger (EmailSimulatedSend), with the simulator's latency and failure controls."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from delivery.errors import ProviderError
from delivery.providers import SendRequest
from delivery.simulator import SimulatedLedger, SimulatorSettings
from email_service.models import EmailSimulatedSend
from messaging.channels import Channel
from messaging.tracing import TraceContext


class SimulatedEmailBackend(BaseEmailBackend):
    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.ledger = SimulatedLedger(EmailSimulatedSend, SimulatorSettings.for_channel(Channel.EMAIL))

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            try:
                result = self.ledger.send(self._request(message))
            except ProviderError:
                if self.fail_silently:
                    continue
                raise
            message.provider_message_id = result.provider_message_id  # type: ignore[attr-defined]
            sent += 1
        return sent

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
