"""Create the topics of docs/architecture.md; safe to run any number of times, also concurrently."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from django.conf import settings


@dataclass(frozen=True)
class TopicReport:
    created: tuple[str, ...]
    existing: tuple[str, ...]


def ensure_topics(
    admin: AdminClient,
    names: Iterable[str],
    *,
    partitions: int | None = None,
    replication_factor: int | None = None,
    timeout: float = 30.0,
) -> TopicReport:
    wanted = list(dict.fromkeys(names))
    present = set(admin.list_topics(timeout=timeout).topics)
    missing = [name for name in wanted if name not in present]
    created: list[str] = []
    existing = [name for name in wanted if name in present]
    if missing:
        new_topics = [
            NewTopic(
                name,
                num_partitions=partitions or settings.KAFKA_TOPIC_PARTITIONS,
                replication_factor=replication_factor or settings.KAFKA_REPLICATION_FACTOR,
            )
            for name in missing
        ]
        for name, future in admin.create_topics(new_topics, request_timeout=timeout).items():
            try:
                future.result(timeout=timeout)
                created.append(name)
            except KafkaException as error:
                # Another process created it between our listing and our request: that is success.
                if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
                existing.append(name)
    return TopicReport(created=tuple(created), existing=tuple(existing))
