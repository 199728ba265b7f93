"""Create the topics of docs/architecture.md; safe to run any number of times, also concurrently.

Every topic is created with `KAFKA_REPLICATION_FACTOR` replicas and `min.insync.replicas` = min(2, RF):
with the producers' acks=all, a record acknowledged on a three-broker cluster is on at least two
brokers, and a partition that has lost all but one replica refuses writes rather than keep a record on
one disk only. A topic that already exists is left as it is, but a setting of it that differs from what
would be created is reported (`TopicReport.mismatches`), never silently kept.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigEntry, ConfigResource, NewTopic, ResourceType, TopicMetadata
from django.conf import settings

MIN_INSYNC_REPLICAS = "min.insync.replicas"


@dataclass(frozen=True)
class TopicMismatch:
    """An existing topic whose `setting` is `actual` where a topic created now would have `wanted`."""

    topic: str
    setting: str
    actual: str
    wanted: str

    def __str__(self) -> str:
        return f"topic {self.topic}: {self.setting} is {self.actual}, not {self.wanted} (left as it is)"


@dataclass(frozen=True)
class TopicReport:
    created: tuple[str, ...]
    existing: tuple[str, ...]
    mismatches: tuple[TopicMismatch, ...] = ()


@dataclass(frozen=True)
class TopicShape:
    """What a topic is created with."""

    partitions: int
    replication_factor: int

    @property
    def min_insync_replicas(self) -> int:
        return min(2, self.replication_factor)

    def new_topic(self, name: str) -> NewTopic:
        return NewTopic(
            name,
            num_partitions=self.partitions,
            replication_factor=self.replication_factor,
            config={MIN_INSYNC_REPLICAS: str(self.min_insync_replicas)},
        )


def ensure_topics(
    admin: AdminClient,
    names: Iterable[str],
    *,
    partitions: int | None = None,
    replication_factor: int | None = None,
    timeout: float = 30.0,
) -> TopicReport:
    shape = TopicShape(
        partitions=partitions or settings.KAFKA_TOPIC_PARTITIONS,
        replication_factor=replication_factor or settings.KAFKA_REPLICATION_FACTOR,
    )
    wanted = list(dict.fromkeys(names))
    present = set(admin.list_topics(timeout=timeout).topics)
    missing = [name for name in wanted if name not in present]
    created: list[str] = []
    existing = [name for name in wanted if name in present]
    if missing:
        futures = admin.create_topics([shape.new_topic(name) for name in missing], request_timeout=timeout)
        for name, future in futures.items():
            try:
                future.result(timeout=timeout)
                created.append(name)
            except KafkaException as error:
                # Another process created it between our listing and our request: that is success.
                if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
                existing.append(name)
    mismatches = topic_mismatches(admin, existing, shape, timeout=timeout) if existing else []
    return TopicReport(created=tuple(created), existing=tuple(existing), mismatches=tuple(mismatches))


def topic_mismatches(admin: AdminClient, names: list[str], shape: TopicShape, *, timeout: float) -> list[TopicMismatch]:
    """The settings of existing topics that differ from `shape`: partitions, replication factor,
    min.insync.replicas. Fewer partitions or replicas than wanted is worth a warning, and so is more."""
    topics = _topic_metadata(admin, names, timeout=timeout)
    configs = _topic_configs(admin, names, timeout=timeout)
    found: list[TopicMismatch] = []
    for name in names:
        if (
            name not in topics or name not in configs
        ):  # created by another process a moment ago: not yet in this broker's metadata
            continue
        partitions = topics[name].partitions
        replicas = max((len(partition.replicas) for partition in partitions.values()), default=0)
        insync = configs[name][MIN_INSYNC_REPLICAS].value
        for setting, actual, wanted in (
            ("partitions", len(partitions), shape.partitions),
            ("replication factor", replicas, shape.replication_factor),
            (MIN_INSYNC_REPLICAS, insync, shape.min_insync_replicas),
        ):
            if str(actual) != str(wanted):
                found.append(TopicMismatch(name, setting, str(actual), str(wanted)))
    return found


def _topic_metadata(admin: AdminClient, names: list[str], *, timeout: float) -> dict[str, TopicMetadata]:
    """The topics' metadata. One created a moment ago (here, or by another process) reaches the brokers'
    metadata a little later than its creation is acknowledged: listed again until all are there or
    `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        topics = admin.list_topics(timeout=timeout).topics
        if all(name in topics for name in names) or time.monotonic() > deadline:
            return topics
        time.sleep(0.5)


def _topic_configs(admin: AdminClient, names: list[str], *, timeout: float) -> dict[str, dict[str, ConfigEntry]]:
    """Each topic's configuration. A topic created a moment ago may be unknown to the broker asked for
    a while (its metadata has not reached it yet): asked again until `timeout`, then left out."""
    configs: dict[str, dict[str, ConfigEntry]] = {}
    pending = list(names)
    deadline = time.monotonic() + timeout
    while pending:
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in pending]
        pending = []
        for resource, future in admin.describe_configs(resources).items():
            try:
                configs[resource.name] = future.result(timeout=timeout)
            except KafkaException as error:
                if error.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise
                pending.append(resource.name)
        if pending and time.monotonic() > deadline:
            break
        if pending:
            time.sleep(0.5)
    return configs
