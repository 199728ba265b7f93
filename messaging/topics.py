"""Topic names of docs/architecture.md, all behind the optional KAFKA_TOPIC_PREFIX."""

from __future__ import annotations

from django.conf import settings

from messaging.channels import Channel
from messaging.priorities import Priority


def topic(name: str) -> str:
    return f"{settings.KAFKA_TOPIC_PREFIX}{name}"


def send_topic(channel: Channel, priority: Priority = Priority.NORMAL) -> str:
    """The channel's lane for `priority`: `send.<channel>.high`, `send.<channel>` (normal, the topic
    from before lanes existed, so records already on it are still read), `send.<channel>.low`."""
    if priority is Priority.NORMAL:
        return topic(f"send.{channel}")
    return topic(f"send.{channel}.{priority}")


def lane_topics(channel: Channel) -> list[str]:
    """Every send lane of the channel, highest priority first."""
    return [send_topic(channel, priority) for priority in Priority]


def retry_topic(channel: Channel, level: int) -> str:
    """Retry level n carries attempt n+1; levels run 1..max_attempts-1."""
    return topic(f"send.{channel}.retry.{level}")


def dlq_topic(channel: Channel) -> str:
    return topic(f"send.{channel}.dlq")


def router_log_topic() -> str:
    return topic("logs.router")


def delivery_log_topic(channel: Channel) -> str:
    return topic(f"logs.delivery.{channel}")


def log_topics_pattern() -> str:
    """The indexer's regex subscription: every `logs.*` topic, present and future."""
    return "^" + settings.KAFKA_TOPIC_PREFIX.replace(".", r"\.") + r"logs\..*"


def channel_topics(channel: Channel) -> list[str]:
    max_attempts: int = settings.DELIVERY_MAX_ATTEMPTS[channel.value]
    retries = [retry_topic(channel, level) for level in range(1, max_attempts)]
    return [*lane_topics(channel), *retries, dlq_topic(channel), delivery_log_topic(channel)]


def webhooks_topic() -> str:
    """One event for one endpoint, keyed by the endpoint id (webhooks worker)."""
    return topic("webhooks.out")


def webhooks_retry_topic(level: int) -> str:
    return topic(f"webhooks.out.retry.{level}")


def webhooks_dlq_topic() -> str:
    return topic("webhooks.out.dlq")


def webhooks_log_topic() -> str:
    return topic("logs.webhooks")


def webhooks_topics() -> list[str]:
    max_attempts: int = settings.WEBHOOKS_MAX_ATTEMPTS
    retries = [webhooks_retry_topic(level) for level in range(1, max_attempts)]
    return [webhooks_topic(), *retries, webhooks_dlq_topic(), webhooks_log_topic()]


def all_topics() -> list[str]:
    names = [router_log_topic()]
    for channel in Channel:
        names += channel_topics(channel)
    return names + webhooks_topics()
