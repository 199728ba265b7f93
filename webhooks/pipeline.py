"""The webhooks worker's chain of steps (messaging.consumption), over two kinds of record:

- a log event (`logs.router`, `logs.delivery.<channel>`) that is a status change → fan out: one job
  per subscribed endpoint of the message's client, produced to `webhooks.out` (keyed by endpoint);
- a job (`webhooks.out`, `webhooks.out.retry.<n>`) → POST it, signed (Standard Webhooks), then
  done, or retried on the next level's topic after its delay, or dead-lettered when attempts run out.

    decode → fan out → deliver → produce outcomes → (runner) commit offsets

What a step completed is kept on the item (Step contract): a retried step never posts a job again.
At least once: a receiver deduplicates by `webhook-id`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import requests
from confluent_kafka import Producer
from django.conf import settings
from django.db import DatabaseError
from standardwebhooks import Webhook

from delivery.retry_policy import RetryPolicy
from messaging.consumption.items import Item
from messaging.consumption.steps import Step
from messaging.dead_letters import dead_letter_record
from messaging.due_time import due_at_headers
from messaging.headers import build_headers
from messaging.lifecycle import Action
from messaging.log_events import LogEmitter, Outcome
from messaging.publisher import KafkaHeaders, OutgoingRecord, publish_all_or_raise
from messaging.tracing import TRACE_ID, TraceContext
from router.models import Message
from webhooks.events import WebhookEvent, webhook_event_of
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoints_record_posts

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
    error: str | None = None  # set once posted: None = delivered
    posted: bool = False
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
        clients = dict(Message.objects.filter(pk__in=ids).values_list("id", "client"))
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


def _headers(job: Job, extra: dict[str, str] | None = None) -> KafkaHeaders:
    return build_headers(TraceContext.continuing(job.trace_id), extra)


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
            endpoint = endpoints.get(item.value.endpoint_id)
            if endpoint is None:  # deleted meanwhile: nobody to tell
                item.value.posted = True
                item.finish()
            else:
                calls.append((item.value, endpoint))
        for job, error in zip(
            (job for job, _ in calls), self.pool.map(lambda call: self._post(*call), calls), strict=True
        ):
            job.error, job.posted = error, True
        _record_posts([job for job, _ in calls])

    def _post(self, job: Job, endpoint: WebhookEndpoint) -> str | None:
        """None when the receiver answered 2xx; else why not. The URL's host is checked again by the
        session as it connects (a name that now resolves to our network: InvalidIPAddress)."""
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
            return f"{type(error).__name__}: {error}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"


def _record_posts(jobs: list[Job]) -> None:
    """Each endpoint's last delivery and last error, for the admin. Bookkeeping only: a database too
    busy to take it costs a warning, never a delivery (the jobs are posted already)."""
    failed = {uuid.UUID(job.endpoint_id): job.error for job in jobs if job.error is not None}
    delivered = {uuid.UUID(job.endpoint_id) for job in jobs if job.error is None}
    try:
        webhook_endpoints_record_posts(delivered=delivered, failed=failed, at=datetime.now(UTC))
    except DatabaseError as error:
        logger.warning("could not record the last posts of %d endpoint(s): %s", len(delivered | set(failed)), error)


class ProduceWebhookOutcomes(Step):
    """A failed job goes to the next retry level (due after its delay) or, out of attempts, to the
    DLQ with the error in its headers; every outcome is a `webhook.delivered` / `webhook.failed`
    log event."""

    name = "produce outcomes"

    def __init__(
        self,
        *,
        producer: Producer,
        policy: RetryPolicy,
        log: LogEmitter,
        retry_topic: Callable[[int], str],
        dlq_topic: str,
    ) -> None:
        self.producer = producer
        self.policy = policy
        self.log = log
        self.retry_topic = retry_topic
        self.dlq_topic = dlq_topic

    def run(self, items: list[Item]) -> None:
        todo = [item for item in _of_type(items, Job) if item.value.posted and not item.value.produced]
        records, failed = [], []
        for item in todo:
            job: Job = item.value
            if job.error is None:
                continue
            failed.append(item)
            if self.policy.can_retry(job.attempt):
                due = due_at_headers(time.time() + self.policy.delay(job.attempt))
                key = job.endpoint_id.encode()
                value = job.to_json(attempt=job.attempt + 1)
                records.append(OutgoingRecord(self.retry_topic(job.attempt), key, value, _headers(job, due)))
            else:
                records.append(
                    dead_letter_record(
                        item.record,
                        topic=self.dlq_topic,
                        value=job.to_json(),
                        attempts=job.attempt,
                        error_type="WebhookDeliveryFailed",
                        error_message=job.error,
                        trace=TraceContext.continuing(job.trace_id),
                    )
                )
        publish_all_or_raise(self.producer, records, what="webhook retry records")
        for item in todo:
            job = item.value
            job.produced = True
            self._log(job)
            item.finish()

    def _log(self, job: Job) -> None:
        delivered = job.error is None
        self.log.emit(
            Action.WEBHOOK_DELIVERED if delivered else Action.WEBHOOK_FAILED,
            trace_id=job.trace_id,
            message=f"webhook {job.webhook_id} to endpoint {job.endpoint_id}: "
            + (f"delivered on attempt {job.attempt}" if delivered else f"attempt {job.attempt} failed"),
            outcome=Outcome.SUCCESS if delivered else Outcome.FAILURE,
            level="info" if delivered else "warning",
            message_id=job.message_id,
            attempt=job.attempt,
            error_type=None if delivered else "WebhookDeliveryFailed",
            error_message=job.error,
            labels={"webhook_id": job.webhook_id, "endpoint_id": job.endpoint_id},
        )
