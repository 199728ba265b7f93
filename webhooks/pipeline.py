"""The webhooks worker's chain of steps (messaging.consumption), over two kinds of record:

- a log event (`logs.router`, `logs.delivery.<channel>`) that is a status change → fan out: one job
  per subscribed endpoint of the message's client, produced to `webhooks.out` (keyed by endpoint);
- a job (`webhooks.out`, `webhooks.out.retry.<n>`) → POST it, signed (Standard Webhooks), then
  done; or, its failure sorted into a kind (webhooks.failures), retried on the next level's topic after
  its delay when transient, dead-lettered at once when permanent or when attempts run out. A job for
  a disabled endpoint is not posted: dead-lettered.

    decode → fan out → deliver → produce outcomes → (runner) commit offsets

What a step completed is kept on the item (Step contract): a retried step never posts a job again.
At least once: a receiver deduplicates by `webhook-id`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import requests
from confluent_kafka import Producer
from django.conf import settings
from django.db import DatabaseError
from standardwebhooks import Webhook

from config.durations import parse_duration
from delivery.retry_policy import RetryPolicy
from messaging.consumption.items import Item
from messaging.consumption.steps import Step
from messaging.dead_letters import dead_letter_record
from messaging.headers import build_headers
from messaging.lifecycle import Action
from messaging.log_events import LogEmitter, Outcome
from messaging.publisher import KafkaHeaders, OutgoingRecord, publish_all_or_raise
from messaging.retries import retry_record
from messaging.tracing import TRACE_ID, TraceContext
from webhooks.events import WebhookEvent, webhook_event_of
from webhooks.failures import (
    PostFailure,
    endpoint_disabled_failure,
    failure_of_exception,
    failure_of_response,
    retry_delay,
)
from webhooks.models import WebhookEndpoint
from webhooks.owners import message_owners
from webhooks.services import DisabledEndpoint, webhook_endpoints_record_posts

JOB_SCHEMA = "webhook-job/v1"
logger = logging.getLogger(__name__)


@dataclass
class FanOut:
    event: WebhookEvent
    trace_id: str
    produced: bool = False


@dataclass
class Job:
    endpoint_id: str
    webhook_id: str
    message_id: str
    trace_id: str
    payload: bytes  # the JSON body, exactly as signed and sent
    attempt: int
    failure: PostFailure | None = None  # set once posted: None = delivered
    posted: bool = False  # the deliver step is done with it (posted, or skipped: endpoint disabled)
    skipped: bool = False  # not posted: its endpoint is disabled
    produced: bool = False

    def to_json(self, *, attempt: int | None = None) -> bytes:
        return orjson.dumps(
            {
                "schema": JOB_SCHEMA,
                "endpointId": self.endpoint_id,
                "webhookId": self.webhook_id,
                "messageId": self.message_id,
                "traceId": self.trace_id,
                "payload": self.payload.decode(),
                "attempt": attempt or self.attempt,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Job:
        data = orjson.loads(raw)
        if data.get("schema") != JOB_SCHEMA:
            raise ValueError(f"unknown schema {data.get('schema')!r}")
        if not TRACE_ID.match(str(data.get("traceId"))):
            raise ValueError("traceId is not 32 lowercase hex characters")
        return cls(
            endpoint_id=str(data["endpointId"]),
            webhook_id=str(data["webhookId"]),
            message_id=str(data["messageId"]),
            trace_id=str(data["traceId"]),
            payload=str(data["payload"]).encode(),
            attempt=int(data["attempt"]),
        )


def _of_type(items: Iterable[Item], kind: type) -> list[Item]:
    return [item for item in items if isinstance(item.value, kind)]


class DecodeRecords(Step):
    name = "decode"

    def __init__(self, *, job_topics: set[str]) -> None:
        self.job_topics = job_topics

    def run(self, items: list[Item]) -> None:
        for item in items:
            raw = item.record.value() or b""
            if item.record.topic() in self.job_topics:
                try:
                    item.value = Job.from_json(raw)
                except (ValueError, KeyError, TypeError) as error:
                    item.reject("InvalidWebhookJob", str(error))
                continue
            try:
                log_event = orjson.loads(raw)
            except orjson.JSONDecodeError:
                item.finish()  # not ours to judge: the log indexer dead-letters bad log records
                continue
            event = webhook_event_of(log_event) if isinstance(log_event, dict) else None
            if event is None:
                item.finish()
            else:
                item.value = FanOut(event=event, trace_id=_trace_id_of(log_event))


class FanOutEvents(Step):
    """One job per endpoint of the message's client that subscribed to the event type and existed
    when it happened (a new endpoint gets no replay of the past)."""

    name = "fan out"

    def __init__(self, *, producer: Producer, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    def run(self, items: list[Item]) -> None:
        todo = [item for item in _of_type(items, FanOut) if not item.value.produced]
        if not todo:
            return
        ids = {uuid.UUID(item.value.event.message_id) for item in todo}
        clients = message_owners(ids)
        endpoints = list(WebhookEndpoint.objects.filter(client__in=set(clients.values())))
        records = []
        for item in todo:
            fan_out: FanOut = item.value
            event = fan_out.event
            client = clients.get(uuid.UUID(event.message_id))
            happened = _parse_time(event.timestamp)
            for endpoint in endpoints:
                if endpoint.client != client or event.type not in endpoint.events:
                    continue
                if happened is not None and happened < endpoint.created_at:
                    continue
                job = Job(
                    endpoint_id=str(endpoint.id),
                    webhook_id=event.webhook_id,
                    message_id=event.message_id,
                    trace_id=fan_out.trace_id,
                    payload=orjson.dumps(event.payload),
                    attempt=1,
                )
                records.append(OutgoingRecord(self.topic, str(endpoint.id).encode(), job.to_json(), _headers(job)))
        publish_all_or_raise(self.producer, records, what="webhook jobs")
        for item in todo:
            item.value.produced = True
            item.finish()


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _trace_id_of(log_event: dict[str, object]) -> str:
    """The log event's trace id, or a new one when it has none that is valid: a job always carries one."""
    trace = log_event.get("trace")
    trace_id = str(trace.get("id", "")) if isinstance(trace, dict) else ""
    return trace_id if TRACE_ID.match(trace_id) else TraceContext.new().trace_id


def _headers(job: Job) -> KafkaHeaders:
    return build_headers(TraceContext.continuing(job.trace_id))


class DeliverJobs(Step):
    """POST every job of the batch at once (on the pool), signed with its endpoint's secret."""

    name = "deliver"

    def __init__(self, *, pool: ThreadPoolExecutor, session: requests.Session) -> None:
        self.pool = pool
        self.session = session

    def run(self, items: list[Item]) -> None:
        todo = [item for item in _of_type(items, Job) if not item.value.posted]
        if not todo:
            return
        endpoints = {
            str(endpoint.id): endpoint
            for endpoint in WebhookEndpoint.objects.filter(pk__in={uuid.UUID(item.value.endpoint_id) for item in todo})
        }
        calls = []
        for item in todo:
            job, endpoint = item.value, endpoints.get(item.value.endpoint_id)
            if endpoint is None:  # deleted meanwhile: nobody to tell
                job.posted = True
                item.finish()
            elif endpoint.disabled:  # nothing is posted to it: dead-lettered
                job.failure, job.posted, job.skipped = endpoint_disabled_failure(endpoint.disabled_reason), True, True
            else:
                calls.append((job, endpoint))
        for job, failure in zip(
            (job for job, _ in calls), self.pool.map(lambda call: self._post(*call), calls), strict=True
        ):
            job.failure, job.posted = failure, True

    def _post(self, job: Job, endpoint: WebhookEndpoint) -> PostFailure | None:
        """None when the receiver answered 2xx; else what kind of failure it was (webhooks.failures).
        The URL's host is checked again by the session as it connects (a name that now resolves to our
        network: InvalidIPAddress, a permanent failure)."""
        sent_at = datetime.now(UTC)
        body = job.payload.decode()
        headers = {
            "content-type": "application/json",
            "webhook-id": job.webhook_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(endpoint.secret).sign(job.webhook_id, sent_at, body),
        }
        try:
            response = self.session.post(
                endpoint.url,
                data=job.payload,
                headers=headers,
                timeout=settings.WEBHOOKS_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            return failure_of_exception(error)
        return failure_of_response(response)


def webhooks_disable_after() -> timedelta:
    return timedelta(seconds=parse_duration(settings.WEBHOOKS_DISABLE_AFTER))


class ProduceWebhookOutcomes(Step):
    """Where a post's outcome is decided and written (webhooks.failures sorts it first): a transient
    failure goes to the next retry level (due after its delay, or the receiver's `Retry-After`); a
    permanent one, or one out of attempts, to the DLQ with the reason in its headers. Every outcome is
    a `webhook.delivered` / `webhook.failed` log event; each endpoint's health is recorded, and one
    that has failed everything for `disable_after` is disabled (`webhook.endpoint_disabled`)."""

    name = "produce outcomes"

    def __init__(
        self,
        *,
        producer: Producer,
        policy: RetryPolicy,
        log: LogEmitter,
        retry_topic: Callable[[int], str],
        dlq_topic: str,
        disable_after: timedelta | None = None,
    ) -> None:
        self.producer = producer
        self.policy = policy
        self.log = log
        self.retry_topic = retry_topic
        self.dlq_topic = dlq_topic
        self.disable_after = disable_after if disable_after is not None else webhooks_disable_after()

    def run(self, items: list[Item]) -> None:
        todo = [item for item in _of_type(items, Job) if item.value.posted and not item.value.produced]
        records = [self._record(item) for item in todo if item.value.failure is not None]
        publish_all_or_raise(self.producer, records, what="webhook retry records")
        disabled = _record_posts([item.value for item in todo if not item.value.skipped], self.disable_after)
        for item in todo:
            item.value.produced = True
            self._log(item.value)
            item.finish()
        for endpoint in disabled:
            self._log_disabled(endpoint)

    def _retried(self, job: Job) -> bool:
        return job.failure is not None and not job.failure.permanent and self.policy.can_retry(job.attempt)

    def _record(self, item: Item) -> OutgoingRecord:
        job: Job = item.value
        failure = job.failure
        assert failure is not None
        if self._retried(job):
            return retry_record(
                topic=self.retry_topic(job.attempt),
                key=job.endpoint_id.encode(),
                value=job.to_json(attempt=job.attempt + 1),
                trace=TraceContext.continuing(job.trace_id),
                delay_seconds=retry_delay(failure, policy=self.policy, attempt=job.attempt),
            )
        return dead_letter_record(
            item.record,
            topic=self.dlq_topic,
            value=job.to_json(),
            attempts=job.attempt,
            error_type=failure.error_type,
            error_message=f"{failure.reason} ({_why_dead_lettered(failure)})",
            trace=TraceContext.continuing(job.trace_id),
        )

    def _log(self, job: Job) -> None:
        failure = job.failure
        if failure is None:
            said, labels = f"delivered on attempt {job.attempt}", {}
        else:
            then = "retried" if self._retried(job) else f"dead-lettered: {_why_dead_lettered(failure)}"
            said = f"attempt {job.attempt} {'not made' if job.skipped else 'failed'} ({failure.reason}), {then}"
            labels = {"failure_kind": failure.kind.value}
        self.log.emit(
            Action.WEBHOOK_DELIVERED if failure is None else Action.WEBHOOK_FAILED,
            trace_id=job.trace_id,
            message=f"webhook {job.webhook_id} to endpoint {job.endpoint_id}: {said}",
            outcome=Outcome.SUCCESS if failure is None else Outcome.FAILURE,
            level="info" if failure is None else "warning",
            message_id=job.message_id,
            attempt=job.attempt,
            error_type=None if failure is None else failure.error_type,
            error_message=None if failure is None else failure.reason,
            labels={"webhook_id": job.webhook_id, "endpoint_id": job.endpoint_id, **labels},
        )

    def _log_disabled(self, endpoint: DisabledEndpoint) -> None:
        self.log.emit(
            Action.WEBHOOK_ENDPOINT_DISABLED,
            trace_id=TraceContext.new().trace_id,
            message=f"webhook endpoint {endpoint.id} disabled: {endpoint.reason}",
            outcome=Outcome.FAILURE,
            level="warning",
            error_type="WebhookEndpointDisabled",
            error_message=endpoint.reason,
            labels={"endpoint_id": str(endpoint.id), "client": endpoint.client},
        )


def _why_dead_lettered(failure: PostFailure) -> str:
    return "permanent, not retried" if failure.permanent else "out of attempts"


def _record_posts(jobs: list[Job], disable_after: timedelta) -> list[DisabledEndpoint]:
    """Each endpoint's last delivery, last error and failing clock; the endpoints this disabled.
    Bookkeeping only: a database too busy to take it costs a warning, never a delivery (the jobs are
    posted, their outcomes produced) — an endpoint due to be disabled is then disabled a batch later."""
    failed = {uuid.UUID(job.endpoint_id): job.failure.reason for job in jobs if job.failure is not None}
    delivered = {uuid.UUID(job.endpoint_id) for job in jobs if job.failure is None}
    try:
        return webhook_endpoints_record_posts(
            delivered=delivered, failed=failed, at=datetime.now(UTC), disable_after=disable_after
        )
    except DatabaseError as error:
        logger.warning("could not record the last posts of %d endpoint(s): %s", len(delivered | set(failed)), error)
        return []
