"""The channel worker: what happens to one record of `send.<channel>` or its retry topics.

Decode → check the delivery record (already sent → skip) → validate → provider → outcome:
sent (record it) | transient (retry topic, due later) | permanent or exhausted (DLQ, `failed`).
Every outcome that leaves through Kafka (retry, DLQ) is acknowledged *before* the database says so:
if the process dies in between, the record is redelivered and redone, where the other order could
mark a message failed that never reached the DLQ. The loop stores the offset only after this returns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from confluent_kafka import Message, Producer
from django.db import close_old_connections

from delivery.errors import PermanentProviderError
from delivery.events import DeliveryLog, Failure
from delivery.models import AttemptOutcome, DeliveryStatus
from delivery.providers import Provider, SendRequest
from delivery.registry import ChannelSpec
from delivery.retry_policy import RetryPolicy
from delivery.services import (
    AttemptReport,
    delivery_mark_attempt_failed,
    delivery_mark_sent,
    delivery_receive,
)
from messaging.dead_letters import DeadLetterInfo
from messaging.due_time import due_at_headers
from messaging.envelope import MessageEnvelope
from messaging.errors import InvalidMessage
from messaging.headers import KafkaHeaders, build_headers, decode_headers
from messaging.publisher import OutgoingRecord, publish
from messaging.topics import dlq_topic, retry_topic
from messaging.tracing import TraceContext

logger = logging.getLogger(__name__)


class DeliveryHandler:
    """Called on the worker's pool threads, concurrently for different message ids. Raises only
    when the outcome could not be made durable (DB or broker down): the loop then retries it."""

    def __init__(
        self, *, spec: ChannelSpec, provider: Provider, policy: RetryPolicy, log: DeliveryLog, producer: Producer
    ) -> None:
        self.spec = spec
        self.channel = spec.channel
        self.provider = provider
        self.policy = policy
        self.log = log
        self.producer = producer

    def __call__(self, record: Message) -> None:
        try:
            self._handle(record)
        finally:
            # No request cycle closes a worker thread's DB connection: drop it when CONN_MAX_AGE
            # says so or when it broke (a restarted Postgres), as Django does after a request.
            close_old_connections()

    def _handle(self, record: Message) -> None:
        try:
            envelope = self._decode(record)
        except InvalidMessage as error:
            self._dead_letter_poison(record, error)
            return
        self.log.received(envelope)
        delivery = delivery_receive(spec=self.spec, envelope=envelope)
        if delivery.status != DeliveryStatus.PENDING:
            # Redelivery (offsets reset, re-published envelope, a retry racing a replay): the
            # record's state decides, so nothing is sent twice.
            self.log.duplicate_skipped(envelope, status=delivery.status)
            return
        self._attempt(record, envelope, delivery.pk)

    def _decode(self, record: Message) -> MessageEnvelope:
        envelope = MessageEnvelope.from_json(record.value())
        if envelope.channel != self.channel:
            raise InvalidMessage(f"a {envelope.channel} envelope on a {self.channel} topic")
        return envelope

    def _attempt(self, record: Message, envelope: MessageEnvelope, delivery_id: int) -> None:
        started_at = datetime.now(UTC)
        clock = time.perf_counter_ns()
        try:
            self.spec.validate_recipient(envelope.to)
            result = self.provider.send(SendRequest.from_envelope(envelope))
        except PermanentProviderError as error:
            duration_ns = time.perf_counter_ns() - clock
            self._fail(record, envelope, delivery_id, error, started_at, duration_ns, permanent=True)
            return
        except Exception as error:  # the provider contract: anything else is transient
            duration_ns = time.perf_counter_ns() - clock
            self._fail(record, envelope, delivery_id, error, started_at, duration_ns, permanent=False)
            return
        duration_ns = time.perf_counter_ns() - clock
        attempt = AttemptReport(
            number=envelope.attempt,
            outcome=AttemptOutcome.SENT,
            started_at=started_at,
            duration_ns=duration_ns,
            provider_message_id=result.provider_message_id,
        )
        delivery_mark_sent(spec=self.spec, delivery_id=delivery_id, attempt=attempt)
        self.log.sent(envelope, duration_ns=duration_ns, provider_message_id=result.provider_message_id)

    def _fail(
        self,
        record: Message,
        envelope: MessageEnvelope,
        delivery_id: int,
        error: Exception,
        started_at: datetime,
        duration_ns: int,
        *,
        permanent: bool,
    ) -> None:
        failure = Failure.of(error)
        retry = not permanent and self.policy.can_retry(envelope.attempt)
        if permanent:
            outcome = AttemptOutcome.PERMANENT_FAILURE
        else:
            outcome = AttemptOutcome.TRANSIENT_FAILURE if retry else AttemptOutcome.EXHAUSTED
        attempt = AttemptReport(
            number=envelope.attempt,
            outcome=outcome,
            started_at=started_at,
            duration_ns=duration_ns,
            error_type=failure.type,
            error_message=failure.message,
        )
        self.log.failed(envelope, duration_ns=duration_ns, failure=failure)
        if retry:
            delay = self._publish_retry(envelope)
            delivery_mark_attempt_failed(spec=self.spec, delivery_id=delivery_id, attempt=attempt)
            self.log.retry_scheduled(envelope, delay=delay, failure=failure)
        else:
            self._publish_dead_letter(record, envelope.to_json(), envelope.attempt, failure, envelope.trace_id)
            delivery_mark_attempt_failed(spec=self.spec, delivery_id=delivery_id, attempt=attempt)
            self.log.dead_lettered(envelope, failure=failure)

    def _publish_retry(self, envelope: MessageEnvelope) -> float:
        """Attempt n failed → `retry.n` carries attempt n+1, due after that level's delay."""
        level = envelope.attempt
        delay = self.policy.delay(level)
        headers = build_headers(TraceContext.continuing(envelope.trace_id), due_at_headers(time.time() + delay))
        retry = envelope.with_attempt(envelope.attempt + 1)
        publish(self.producer, OutgoingRecord(retry_topic(self.channel, level), envelope.key, retry.to_json(), headers))
        return delay

    def _publish_dead_letter(
        self, record: Message, value: bytes | None, attempts: int, failure: Failure, trace_id: str
    ) -> None:
        info = DeadLetterInfo.for_record(
            record, attempts=attempts, error_type=failure.type, error_message=failure.message
        )
        headers: KafkaHeaders = build_headers(TraceContext.continuing(trace_id), info.to_headers())
        publish(self.producer, OutgoingRecord(dlq_topic(self.channel), record.key() or b"", value or b"", headers))

    def _dead_letter_poison(self, record: Message, error: InvalidMessage) -> None:
        """Never retried: the same bytes will never decode. Kept verbatim for the operator."""
        failure = Failure(type=type(error).__name__, message=error.reason)
        trace = TraceContext.parse(decode_headers(record.headers()).get("traceparent")) or TraceContext.new()
        self._publish_dead_letter(record, record.value(), 1, failure, trace.trace_id)
        key = record.key()
        message_id = key.decode("utf-8", errors="replace") if key else None
        self.log.poison_dead_lettered(trace_id=trace.trace_id, message_id=message_id, failure=failure)
        logger.warning("dead-lettered poison record %s[%d]@%d: %s", *_position(record), error.reason)


def _position(record: Message) -> Sequence[object]:
    return (record.topic(), record.partition(), record.offset())
