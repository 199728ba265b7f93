"""Settings-driven factories for confluent-kafka producers, consumers and the admin client."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
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


def build_consumer(group_id: str, **overrides: Any) -> RebuildableConsumer:
    """Offsets are stored by the application after a record's effect is durable
    (enable.auto.offset.store=false); librdkafka then commits only stored offsets. Rebuildable, so
    the runner's rejoin watchdog can replace a client stuck outside its group."""
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
    return RebuildableConsumer(config)


# How often librdkafka reports a consumer's group state (served by consume/poll); the watchdog's
# timeout is a minute, so this is fine-grained enough and costs one small JSON document.
STATS_INTERVAL_MS = 5000


@dataclass(frozen=True)
class GroupState:
    """A consumer's place in its group, as librdkafka's statistics last reported it (`cgrp`)."""

    state: str  # the coordinator: "up" once known and connected (else query-coord, wait-coord, …)
    join_state: str  # "steady" once joined with an assignment settled (else wait-join, wait-sync, …)
    # Assigned partitions with a fetch position ("active"): one whose committed offset could not be
    # fetched (the coordinator moved) sits in offset-query and is never read, though assigned.
    fetching: int = 0

    @property
    def member(self) -> bool:
        return self.state == "up" and self.join_state == "steady"


class RebuildableConsumer(Consumer):
    """A Consumer whose librdkafka client can be replaced by a fresh one from the same configuration
    (`rebuild`) while whatever holds this object (the runner, its gates, a report's closure) keeps
    using it. Every Consumer method goes to the current client (`client`); the base class's own
    handle is never opened, so a method not forwarded fails loudly ("Consumer closed").

    It also keeps the group state librdkafka last reported (statistics), the one way to learn
    whether the client is a member of its group: no method of the client says so."""

    def __init__(self, config: dict[str, Any]) -> None:  # the base's __init__ would open a second client
        self._config = {**config, "statistics.interval.ms": STATS_INTERVAL_MS, "stats_cb": self._on_stats}
        self.group_state: GroupState | None = None
        self.client = Consumer(self._config)

    def rebuild(self) -> None:
        """A new client from the same configuration, not yet subscribed. The caller has closed the
        old one, or given up waiting for it to close."""
        self.group_state = None
        self.client = Consumer(self._config)

    @property
    def bootstrap_servers(self) -> str:
        return str(self._config["bootstrap.servers"])

    def _on_stats(self, stats: str) -> None:
        try:
            report = json.loads(stats)
        except ValueError:
            return
        group = report.get("cgrp")
        if group:
            fetching = sum(
                1
                for topic in report.get("topics", {}).values()
                for partition in topic.get("partitions", {}).values()
                if partition.get("desired") and partition.get("fetch_state") == "active"
            )
            self.group_state = GroupState(
                state=group.get("state", ""), join_state=group.get("join_state", ""), fetching=fetching
            )


def _forward(name: str) -> Callable[..., Any]:
    def method(self: RebuildableConsumer, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.client, name)(*args, **kwargs)

    method.__name__ = name
    return method


for _name in (
    "subscribe", "unsubscribe", "poll", "consume", "assign", "unassign", "incremental_assign",
    "incremental_unassign", "assignment", "commit", "committed", "position", "pause", "resume", "seek",
    "store_offsets", "get_watermark_offsets", "offsets_for_times", "list_topics", "cluster_id", "close",
    "consumer_group_metadata", "memberid", "set_sasl_credentials",
):  # fmt: skip
    setattr(RebuildableConsumer, _name, _forward(_name))


def build_admin(**overrides: Any) -> AdminClient:
    return AdminClient({**_base_config(), **overrides})
