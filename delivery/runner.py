"""A channel's worker as a consumer definition (`manage.py consume <channel>`): its send lanes and
retry levels in its service's consumer group, decode → deliver in waves → produce outcomes, poison to
the channel's DLQ, lower lanes held back while a higher one has records, retries held until due."""

from __future__ import annotations

import logging

from confluent_kafka import Consumer, Producer, TopicPartition
from django.conf import settings

from delivery.dead_letters import ChannelDeadLetters
from delivery.decisions import UnknownOutcomePolicy
from delivery.events import DeliveryLog
from delivery.pacing import Pace, Paces, SharedBucket, shared_burst
from delivery.pipeline import DecodeEnvelopes, InFlight, ProduceOutcomes
from delivery.providers import Provider, ProviderPool
from delivery.registry import ChannelSpec, register
from delivery.retry_policy import RetryPolicy
from delivery.waves import DeliverInWaves, send_lane
from messaging.channels import Channel
from messaging.consumption.definitions import ConsumerContext, ConsumerDefinition
from messaging.consumption.failures import DATABASE_OR_BROKER_DOWN
from messaging.consumption.registry import consumer_register
from messaging.consumption.runner import BatchLimits
from messaging.consumption.steps import Step
from messaging.metrics import DLQ_RECORDS
from messaging.shutdown import GracefulShutdown
from messaging.topics import delivery_log_topic, dlq_topic, lane_topics, retry_topic

logger = logging.getLogger(__name__)


def worker_topics(channel: Channel, policy: RetryPolicy) -> list[str]:
    return [*lane_topics(channel), *(retry_topic(channel, level) for level in range(1, policy.max_attempts))]


def channel_steps(
    *,
    spec: ChannelSpec,
    policy: RetryPolicy,
    provider: Provider,
    log: DeliveryLog,
    producer: Producer,
    pool: ProviderPool,
    shutdown: GracefulShutdown,
) -> list[Step]:
    """The channel's steps as `consume` builds them; bench.handler and the tests run them in process
    with a provider of their own."""
    return [
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


def _worker_steps(spec: ChannelSpec, context: ConsumerContext) -> list[Step]:
    """The worker's steps, on its configured provider and a pool of `--max-in-flight` (default
    <CHANNEL>_MAX_IN_FLIGHT) provider calls at a time."""
    pool_size = context.options.get("max_in_flight") or settings.DELIVERY_MAX_IN_FLIGHT[spec.channel.value]
    provider = spec.build_provider()
    pool = context.resources.enter_context(ProviderPool(pool_size))
    logger.info(
        "%s: provider %s (idempotent: %s), %d sends at a time",
        spec.service_name,
        type(provider).__name__,
        provider.idempotent,
        pool_size,
    )
    return channel_steps(
        spec=spec,
        policy=RetryPolicy.for_channel(spec.channel),
        provider=provider,
        log=DeliveryLog(channel=spec.channel, emitter=context.emitter),
        producer=context.producer,
        pool=pool,
        shutdown=context.shutdown,
    )


def _worker_batch(spec: ChannelSpec, context: ConsumerContext) -> BatchLimits:
    """The channel's batch settings, never more records than the paced deliver step can take now."""
    return BatchLimits(
        max_records=settings.DELIVERY_BATCH_SIZE[spec.channel.value],
        max_wait_seconds=settings.DELIVERY_BATCH_WAIT_MS[spec.channel.value] / 1000,
        records_wanted=context.step(DeliverInWaves).records_wanted,
    )


def channel_consumer(spec: ChannelSpec) -> ConsumerDefinition:
    channel = spec.channel
    return ConsumerDefinition(
        name=channel.value,
        description=f"deliver {channel} messages",
        service=spec.service_name,
        topics=lambda: worker_topics(channel, RetryPolicy.for_channel(channel)),
        steps=lambda context: _worker_steps(spec, context),
        dead_letters=lambda context: ChannelDeadLetters(
            channel=channel, producer=context.producer, log=DeliveryLog(channel=channel, emitter=context.emitter)
        ),
        batch=lambda context: _worker_batch(spec, context),
        classifier=DATABASE_OR_BROKER_DOWN,
        log_topic=lambda: delivery_log_topic(channel),
        longest_retry_delay=lambda: RetryPolicy.for_channel(channel).longest_delay,
        lane_of=send_lane,
        report=lambda context: _report_dlq_size(context.consumer, channel),
    )


def channel_register(spec: ChannelSpec) -> None:
    """A channel app's AppConfig.ready(): the channel in delivery's registry (admin, operator
    commands) and its worker in the consumer table (`consume <channel>`)."""
    register(spec)
    consumer_register(channel_consumer(spec))
