"""Wires one channel's worker together: `manage.py consume <channel>` runs what this builds."""

from __future__ import annotations

import logging

from confluent_kafka import Consumer, Producer, TopicPartition
from django.conf import settings
from django.db import InterfaceError, OperationalError

from delivery.dead_letters import ChannelDeadLetters
from delivery.decisions import UnknownOutcomePolicy
from delivery.events import DeliveryLog
from delivery.pacing import Pace, Paces, SharedBucket, shared_burst
from delivery.pipeline import DecodeEnvelopes, InFlight, ProduceOutcomes
from delivery.providers import Provider, ProviderPool
from delivery.registry import ChannelSpec, get_channel
from delivery.retry_policy import RetryPolicy
from delivery.waves import DeliverInWaves, send_lane
from messaging.channels import Channel
from messaging.clients import build_consumer, build_producer
from messaging.consumption.due_gate import DueGate
from messaging.consumption.guard import GuardPolicy, StepGuard
from messaging.consumption.lane_gate import LaneGate
from messaging.consumption.runner import BatchLimits, ConsumerRunner, run_then_close
from messaging.consumption.settings import guard_policy
from messaging.consumption.steps import Step
from messaging.errors import PublishError
from messaging.groups import consumer_group
from messaging.log_events import LogEmitter, log_flusher
from messaging.shutdown import GracefulShutdown
from messaging.topics import delivery_log_topic, dlq_topic, lane_topics, retry_topic
from operations.metrics import DLQ_RECORDS, serve_metrics

logger = logging.getLogger(__name__)

# Down, locked, unreachable: wait and try again, never dead-letter. Other database errors (a
# constraint, a value too long) belong to a record and count towards its dead letter.
INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PublishError)


def worker_topics(channel: Channel, policy: RetryPolicy) -> list[str]:
    return [*lane_topics(channel), *(retry_topic(channel, level) for level in range(1, policy.max_attempts))]


def channel_chain(
    *,
    spec: ChannelSpec,
    policy: RetryPolicy,
    provider: Provider,
    log: DeliveryLog,
    producer: Producer,
    pool: ProviderPool,
    guard_settings: GuardPolicy,
    shutdown: GracefulShutdown,
) -> tuple[list[Step], StepGuard]:
    """The channel's steps and the guard that runs them (`consume`, and bench.handler in process)."""
    steps: list[Step] = [
        DecodeEnvelopes(channel=spec.channel, log=log),
        DeliverInWaves(
            spec=spec,
            on_unknown=UnknownOutcomePolicy(settings.DELIVERY_ON_UNKNOWN_OUTCOME[spec.channel.value]),
            provider=provider,
            policy=policy,
            pool=pool,
            paces=channel_paces(spec, wave_size=pool.size),
            log=log,
            in_flight=InFlight(),
            shutdown=shutdown,
        ),
        ProduceOutcomes(spec=spec, producer=producer, log=log),
    ]
    guard = StepGuard(
        policy=guard_settings,
        infrastructure_errors=INFRASTRUCTURE_ERRORS,
        sink=ChannelDeadLetters(channel=spec.channel, producer=producer, log=log),
        shutdown=shutdown,
    )
    return steps, guard


def channel_paces(spec: ChannelSpec, *, wave_size: int) -> Paces:
    """Each provider's pace: its `<CHANNEL>_RATE_LIMIT` shared through the channel database, if set."""
    limits = spec.rate_limits()

    def pace(provider: str) -> Pace:
        cap = limits.get(provider)
        shared = None
        if cap is not None:
            shared = SharedBucket(
                model=spec.pace_model,
                database=spec.database,
                key=f"{spec.channel.value}:{provider}",
                rate=cap,
                burst=shared_burst(cap, wave_size),
            )
        return Pace(cap=cap, shared=shared)

    return Paces(pace)


def _report_dlq_size(consumer: Consumer, channel: Channel) -> None:
    """comms_dlq_records: what the channel's DLQ holds (high minus low watermark of each partition)."""
    topic = dlq_topic(channel)
    partitions = consumer.list_topics(topic, timeout=5).topics[topic].partitions
    size = 0
    for partition in partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=5)
        size += max(high - low, 0)
    DLQ_RECORDS.labels(channel=channel.value).set(size)


def run_channel_worker(channel: Channel, *, max_in_flight: int | None = None) -> None:
    """Consume until SIGTERM/SIGINT, then finish the batch in hand, commit and return."""
    spec = get_channel(channel)
    policy = RetryPolicy.for_channel(channel)
    pool_size = max_in_flight or settings.DELIVERY_MAX_IN_FLIGHT[channel.value]
    emitter = LogEmitter(service=spec.service_name, topic=delivery_log_topic(channel))
    producer = build_producer()
    provider = spec.build_provider()
    consumer = build_consumer(consumer_group(spec.service_name))
    serve_metrics()
    with GracefulShutdown() as shutdown, ProviderPool(pool_size) as pool:
        steps, guard = channel_chain(
            spec=spec,
            policy=policy,
            provider=provider,
            log=DeliveryLog(channel=channel, emitter=emitter),
            producer=producer,
            pool=pool,
            guard_settings=guard_policy(),
            shutdown=shutdown,
        )
        runner = ConsumerRunner(
            name=spec.service_name,
            consumer=consumer,
            topics=worker_topics(channel, policy),
            steps=steps,
            guard=guard,
            batch=BatchLimits(
                max_records=settings.DELIVERY_BATCH_SIZE[channel.value],
                max_wait_seconds=settings.DELIVERY_BATCH_WAIT_MS[channel.value] / 1000,
                records_wanted=next(s for s in steps if isinstance(s, DeliverInWaves)).records_wanted,
            ),
            due_gate=DueGate(consumer, max_delay_seconds=policy.longest_delay + 1.0),
            lane_gate=LaneGate(consumer, lane_of=send_lane),
            before_commit=log_flusher(emitter),
            group=consumer_group(spec.service_name),
            every_few_seconds=lambda: _report_dlq_size(consumer, channel),
        )
        logger.info(
            "%s: provider %s (idempotent: %s), %d sends at a time",
            spec.service_name,
            type(provider).__name__,
            provider.idempotent,
            pool_size,
        )
        run_then_close(runner, emitter=emitter, producer=producer)
    logger.info("%s stopped cleanly", spec.service_name)
