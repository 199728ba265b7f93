"""Consumer group names. The topic prefix namespaces groups too: two deployments (or two test runs)
sharing one cluster must not join each other's groups and trigger rebalances across them."""

from __future__ import annotations

from django.conf import settings


def consumer_group(service: str) -> str:
    return f"{settings.KAFKA_TOPIC_PREFIX}{service}"
