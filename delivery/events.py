"""The delivery log events (messaging.lifecycle.Action), emitted through the shared LogEmitter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from delivery.decisions import Failure
from messaging.channels import Channel
from messaging.envelope import MessageEnvelope
from messaging.lifecycle import Action, MessageStatus
from messaging.log_events import LogEmitter, Outcome

if TYPE_CHECKING:
    from delivery.models import DeliveryRecord


class DeliveryLog:
    """One method per action; every event carries trace id, message id, channel, attempt and the
    recipient (masked by the LogEvent, never the body)."""

    def __init__(self, *, channel: Channel, emitter: LogEmitter) -> None:
        self.channel = channel
        self.emitter = emitter

    def _emit(
        self,
        action: Action,
        envelope: MessageEnvelope,
        message: str,
        *,
        outcome: Outcome = Outcome.UNKNOWN,
        level: str = "info",
        duration_ns: int | None = None,
        failure: Failure | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        self.emitter.emit(
            action,
            trace_id=envelope.trace_id,
            message=message,
            outcome=outcome,
            level=level,
            message_id=envelope.id,
            channel=self.channel.value,
            attempt=envelope.attempt,
            recipient=envelope.to,
            duration_ns=duration_ns,
            error_type=failure.type if failure else None,
            error_message=failure.message if failure else None,
            labels=labels or {},
        )

    def received(self, envelope: MessageEnvelope) -> None:
        self._emit(Action.DELIVERY_RECEIVED, envelope, f"{self.channel} message received (attempt {envelope.attempt})")

    def sent(
        self, envelope: MessageEnvelope, *, duration_ns: int, provider_message_id: str, provider: str = ""
    ) -> None:
        """`labels.provider`: which of the channel's providers took it (it may fail over)."""
        self._emit(
            Action.DELIVERY_SENT,
            envelope,
            f"{self.channel} message sent to provider {provider + ' ' if provider else ''}as {provider_message_id}",
            outcome=Outcome.SUCCESS,
            duration_ns=duration_ns,
            labels={"provider": provider} if provider else None,
        )

    def resolved_as_sent(self, envelope: MessageEnvelope) -> None:
        """An operator settled a message held as unknown: the provider did get it."""
        self._emit(
            Action.DELIVERY_SENT,
            envelope,
            f"{self.channel} message held as unknown, resolved as sent by an operator",
            outcome=Outcome.SUCCESS,
        )

    def failed(self, envelope: MessageEnvelope, *, duration_ns: int, failure: Failure) -> None:
        self._emit(
            Action.DELIVERY_FAILED,
            envelope,
            f"{self.channel} attempt {envelope.attempt} failed: {failure.type}",
            outcome=Outcome.FAILURE,
            level="warning",
            duration_ns=duration_ns,
            failure=failure,
        )

    def throttled(self, envelope: MessageEnvelope, *, duration_ns: int, failure: Failure) -> None:
        """The provider asked us to slow down: no attempt spent, the message is tried again later."""
        self._emit(
            Action.DELIVERY_THROTTLED,
            envelope,
            f"{self.channel} provider asked to slow down; attempt {envelope.attempt} will be tried again",
            outcome=Outcome.UNKNOWN,
            level="warning",
            duration_ns=duration_ns,
            failure=failure,
        )

    def retry_scheduled(self, envelope: MessageEnvelope, *, delay: float, failure: Failure) -> None:
        self._emit(
            Action.DELIVERY_RETRY_SCHEDULED,
            envelope,
            f"attempt {envelope.attempt + 1} scheduled in {delay:.1f}s",
            outcome=Outcome.FAILURE,
            level="warning",
            failure=failure,
        )

    def dead_lettered(self, envelope: MessageEnvelope, *, failure: Failure) -> None:
        self._emit(
            Action.DELIVERY_DEAD_LETTERED,
            envelope,
            f"{self.channel} message dead-lettered after attempt {envelope.attempt}",
            outcome=Outcome.FAILURE,
            level="error",
            failure=failure,
        )

    def poison_dead_lettered(self, *, trace_id: str, message_id: str | None, failure: Failure) -> None:
        """A record that is no envelope has no attempt; its key (if any) stands in as message id."""
        self.emitter.emit(
            Action.DELIVERY_DEAD_LETTERED,
            trace_id=trace_id,
            message=f"undecodable {self.channel} record dead-lettered: {failure.message}",
            outcome=Outcome.FAILURE,
            level="error",
            message_id=message_id,
            channel=self.channel.value,
            error_type=failure.type,
            error_message=failure.message,
        )

    def unknown_outcome(self, envelope: MessageEnvelope, *, resent: bool) -> None:
        """A redelivered record whose attempt an earlier process claimed and never finished."""
        if resent:
            action, text, level = Action.DELIVERY_UNKNOWN_OUTCOME_RESENT, "outcome unknown; sending again", "warning"
        else:
            action, text, level = Action.DELIVERY_UNKNOWN_OUTCOME_HELD, "outcome unknown; held for an operator", "error"
        self._emit(
            action,
            envelope,
            f"{self.channel} attempt {envelope.attempt} was interrupted mid-send: {text}",
            outcome=Outcome.UNKNOWN,
            level=level,
        )

    def suppressed(self, envelope: MessageEnvelope) -> None:
        self._emit(
            Action.DELIVERY_SUPPRESSED,
            envelope,
            f"{self.channel} recipient is suppressed (bounced, complained or unsubscribed); nothing sent",
            outcome=Outcome.SUCCESS,
        )

    def expired(self, envelope: MessageEnvelope) -> None:
        expires_at = envelope.expires_at.isoformat() if envelope.expires_at else "its expiry"
        self._emit(
            Action.DELIVERY_EXPIRED,
            envelope,
            f"{self.channel} message not handed to a provider by {expires_at}: expired; nothing sent",
            outcome=Outcome.FAILURE,
            level="warning",
        )

    def duplicate_skipped(self, envelope: MessageEnvelope, *, status: str) -> None:
        """Carries the record's status (`labels.delivery_status`): a worker killed after writing
        `sent` but before its `delivery.sent` event left the process loses that event, and this
        redelivery's event is then the only one that tells the timeline the message was sent."""
        self.emitter.emit(
            Action.DELIVERY_DUPLICATE_SKIPPED,
            trace_id=envelope.trace_id,
            message=f"{self.channel} message already {status}; nothing sent",
            outcome=Outcome.SUCCESS,
            message_id=envelope.id,
            channel=self.channel.value,
            attempt=envelope.attempt,
            labels={"delivery_status": str(status)},
        )

    def status_reported(self, record: DeliveryRecord, *, status: str, error: str) -> None:
        """The provider's receipt for a message it took (delivery.receipts): `labels.delivery_status`."""
        failed = status != MessageStatus.DELIVERED
        self.emitter.emit(
            Action.DELIVERY_STATUS_REPORTED,
            trace_id=record.trace_id,
            message=f"the provider reports the {self.channel} message {status}",
            outcome=Outcome.FAILURE if failed else Outcome.SUCCESS,
            level="warning" if failed else "info",
            message_id=record.message_id,
            channel=self.channel.value,
            attempt=record.current_attempt,
            recipient=record.recipient,
            error_type="ProviderReceipt" if failed and error else None,
            error_message=error or None,
            labels={"delivery_status": status},
        )
