"""`manage.py consume webhooks`: the status webhooks worker (webhooks.pipeline), on the one consumption
framework: consumer group `webhooks`, the status log topics and the job topics, retry levels paused by
the due gate until due, poison records to `webhooks.out.dlq`."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import InterfaceError, OperationalError

from delivery.retry_policy import RetryPolicy, parse_duration
from messaging.channels import Channel
from messaging.clients import build_consumer, build_producer
from messaging.consumption.due_gate import DueGate
from messaging.consumption.guard import StepGuard
from messaging.consumption.runner import BatchLimits, ConsumerRunner, run_then_close
from messaging.consumption.settings import guard_policy
from messaging.dead_letters import TopicDeadLetters
from messaging.errors import PublishError
from messaging.groups import consumer_group
from messaging.log_events import LogEmitter, log_flusher
from messaging.metrics import serve_metrics
from messaging.shutdown import GracefulShutdown
from messaging.topics import (
    delivery_log_topic,
    router_log_topic,
    webhooks_dlq_topic,
    webhooks_log_topic,
    webhooks_retry_topic,
    webhooks_topic,
)
from webhooks.addresses import webhook_session
from webhooks.pipeline import DecodeRecords, DeliverJobs, FanOutEvents, ProduceWebhookOutcomes

logger = logging.getLogger(__name__)

SERVICE_NAME = "webhooks"
INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PublishError)


def webhooks_policy() -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.WEBHOOKS_MAX_ATTEMPTS,
        delays=tuple(parse_duration(text) for text in settings.WEBHOOKS_RETRY_DELAYS),
    )


def run_webhooks_worker(**options: object) -> None:
    """Consume until SIGTERM/SIGINT, then finish the batch in hand, commit and return."""
    policy = webhooks_policy()
    producer = build_producer()
    emitter = LogEmitter(service=SERVICE_NAME, topic=webhooks_log_topic())
    consumer = build_consumer(consumer_group(SERVICE_NAME))
    job_topics = [webhooks_topic(), *(webhooks_retry_topic(level) for level in range(1, policy.max_attempts))]
    status_topics = [router_log_topic(), *(delivery_log_topic(channel) for channel in Channel)]
    serve_metrics()
    with (
        GracefulShutdown() as shutdown,
        ThreadPoolExecutor(settings.WEBHOOKS_MAX_IN_FLIGHT, thread_name_prefix="webhook") as pool,
        webhook_session(allow_private=settings.WEBHOOKS_ALLOW_PRIVATE) as session,
    ):
        steps = [
            DecodeRecords(job_topics=set(job_topics)),
            FanOutEvents(producer=producer, topic=webhooks_topic()),
            DeliverJobs(pool=pool, session=session),
            ProduceWebhookOutcomes(
                producer=producer,
                policy=policy,
                log=emitter,
                retry_topic=webhooks_retry_topic,
                dlq_topic=webhooks_dlq_topic(),
            ),
        ]
        guard = StepGuard(
            policy=guard_policy(),
            infrastructure_errors=INFRASTRUCTURE_ERRORS,
            sink=TopicDeadLetters(producer=producer, topic=webhooks_dlq_topic()),
            shutdown=shutdown,
        )
        runner = ConsumerRunner(
            name=SERVICE_NAME,
            consumer=consumer,
            topics=[*status_topics, *job_topics],
            steps=steps,
            guard=guard,
            batch=BatchLimits(max_records=500, max_wait_seconds=0.05),
            due_gate=DueGate(consumer, max_delay_seconds=policy.longest_delay + 1.0),
            before_commit=log_flusher(emitter),
            group=consumer_group(SERVICE_NAME),
        )
        run_then_close(runner, emitter=emitter, producer=producer)
    logger.info("webhooks worker stopped cleanly")
