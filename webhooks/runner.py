"""`manage.py consume webhooks`: the status webhooks worker (webhooks.pipeline) as a consumer
definition: consumer group `webhooks`, the status log topics and the job topics, retry levels paused by
the due gate until due, poison records to `webhooks.out.dlq`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from config.durations import parse_duration
from delivery.retry_policy import RetryPolicy
from messaging.channels import Channel
from messaging.consumption.definitions import ConsumerContext, ConsumerDefinition
from messaging.consumption.failures import DATABASE_OR_BROKER_DOWN
from messaging.consumption.runner import BatchLimits
from messaging.consumption.steps import Step
from messaging.dead_letters import TopicDeadLetters
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

SERVICE_NAME = "webhooks"


def webhooks_policy() -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.WEBHOOKS_MAX_ATTEMPTS,
        delays=tuple(parse_duration(text) for text in settings.WEBHOOKS_RETRY_DELAYS),
    )


def _job_topics() -> list[str]:
    return [webhooks_topic(), *(webhooks_retry_topic(level) for level in range(1, webhooks_policy().max_attempts))]


def _status_topics() -> list[str]:
    return [router_log_topic(), *(delivery_log_topic(channel) for channel in Channel)]


def _steps(context: ConsumerContext) -> list[Step]:
    """Posts go out on a pool of WEBHOOKS_MAX_IN_FLIGHT threads, through one HTTP session."""
    pool = context.resources.enter_context(
        ThreadPoolExecutor(settings.WEBHOOKS_MAX_IN_FLIGHT, thread_name_prefix="webhook")
    )
    session = context.resources.enter_context(webhook_session(allow_private=settings.WEBHOOKS_ALLOW_PRIVATE))
    return [
        DecodeRecords(job_topics=set(_job_topics())),
        FanOutEvents(producer=context.producer, topic=webhooks_topic()),
        DeliverJobs(pool=pool, session=session),
        ProduceWebhookOutcomes(
            producer=context.producer,
            policy=webhooks_policy(),
            log=context.emitter,
            retry_topic=webhooks_retry_topic,
            dlq_topic=webhooks_dlq_topic(),
        ),
    ]


WEBHOOKS_CONSUMER = ConsumerDefinition(
    name="webhooks",
    description="deliver signed status webhooks to clients' endpoints",
    service=SERVICE_NAME,
    topics=lambda: [*_status_topics(), *_job_topics()],
    steps=_steps,
    dead_letters=lambda context: TopicDeadLetters(producer=context.producer, topic=webhooks_dlq_topic()),
    batch=lambda context: BatchLimits(max_records=500, max_wait_seconds=0.05),
    classifier=DATABASE_OR_BROKER_DOWN,
    log_topic=webhooks_log_topic,
    longest_retry_delay=lambda: webhooks_policy().longest_delay,
)
