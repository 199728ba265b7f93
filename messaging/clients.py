"""Settings-driven factories for confluent-kafka producers, consumers and the admin client."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from django.conf import settings

logger = logging.getLogger("messaging.kafka")


def _base_config() -> dict[str, Any]:
    return {"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS, "logger": logger}


def build_producer(**overrides: Any) -> Producer:
    """acks=all + idempotence: a record is acknowledged once every in-sync replica has it,
    and librdkafka's retries cannot duplicate or reorder it."""
    config = {
        **_base_config(),
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        "compression.type": "lz4",
        "message.max.bytes": settings.KAFKA_MAX_MESSAGE_BYTES,
        "delivery.timeout.ms": int(settings.KAFKA_DELIVERY_TIMEOUT_SECONDS * 1000),
        **overrides,
    }
    return Producer(config)


def build_consumer(group_id: str, **overrides: Any) -> Consumer:
    """Offsets are stored by the application after a record's effect is durable
    (enable.auto.offset.store=false); librdkafka then commits only stored offsets."""
    config = {
        **_base_config(),
        "group.id": group_id,
        "enable.auto.offset.store": False,
        "enable.auto.commit": True,
        "auto.commit.interval.ms": 1000,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        # A crashed member's partitions move on after this (see settings); heartbeat at a third of it.
        "session.timeout.ms": settings.KAFKA_SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": max(settings.KAFKA_SESSION_TIMEOUT_MS // 3, 500),
        **overrides,
    }
    return Consumer(config)


def build_admin(**overrides: Any) -> AdminClient:
    return AdminClient({**_base_config(), **overrides})
