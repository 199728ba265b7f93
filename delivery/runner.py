"""Wires one channel's worker process together: `manage.py consume <channel>` calls run_channel_worker."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connections

from delivery.events import DeliveryLog
from delivery.registry import get_channel
from delivery.retry_policy import RetryPolicy
from delivery.worker import DeliveryHandler
from messaging.channels import Channel
from messaging.clients import build_consumer, build_producer
from messaging.concurrent_consumer import ConcurrentConsumer
from messaging.groups import consumer_group
from messaging.log_events import LogEmitter
from messaging.shutdown import GracefulShutdown
from messaging.topics import delivery_log_topic, retry_topic, send_topic

logger = logging.getLogger(__name__)


def worker_topics(channel: Channel, policy: RetryPolicy) -> list[str]:
    return [send_topic(channel), *(retry_topic(channel, level) for level in range(1, policy.max_attempts))]


def run_channel_worker(channel: Channel, *, max_in_flight: int | None = None) -> None:
    """Consume until SIGTERM/SIGINT, then finish what is in flight, commit and return."""
    spec = get_channel(channel)
    policy = RetryPolicy.for_channel(channel)
    in_flight = max_in_flight or settings.DELIVERY_MAX_IN_FLIGHT[channel.value]
    emitter = LogEmitter(service=spec.service_name, topic=delivery_log_topic(channel))
    producer = build_producer()
    handler = DeliveryHandler(
        spec=spec,
        provider=spec.build_provider(),
        policy=policy,
        log=DeliveryLog(channel=channel, emitter=emitter),
        producer=producer,
    )

    def flush_logs() -> bool:
        unsent = emitter.flush()
        if unsent:
            logger.warning("%d log events not yet acknowledged: offsets stay unstored until they are", unsent)
        return unsent == 0

    topics = worker_topics(channel, policy)
    loop = ConcurrentConsumer(
        consumer=build_consumer(consumer_group(spec.service_name)),
        topics=topics,
        handler=handler,
        max_in_flight=in_flight,
        before_store=flush_logs,
        name=spec.service_name,
    )
    logger.info("%s consuming %s with up to %d in flight", spec.service_name, ", ".join(topics), in_flight)
    try:
        with GracefulShutdown() as shutdown:
            loop.run(shutdown)
    finally:
        flush_logs()
        producer.flush(10)
        connections.close_all()
    logger.info("%s stopped cleanly", spec.service_name)
