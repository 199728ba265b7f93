"""The router process's clients, one of each per process: the producer of accepted messages with its
delivery-report thread (router.kafka_acks), the group inserter of its rows, and the log
emitter.

Built lazily on first use, so gunicorn workers each create their own after the fork (librdkafka's
threads, and ours, do not survive a fork); keyed by process id so a client inherited from a parent
is never used, and by the bootstrap servers so a settings override (tests point the API at an
unreachable broker) gets its own clients.
"""

from __future__ import annotations

import atexit
import os
import threading

from confluent_kafka import Producer
from django.conf import settings
from django.db import router as db_router

from config.db_bulk import GroupInserter
from delivery.events import DeliveryLog
from messaging.channels import Channel
from messaging.clients import build_producer
from messaging.log_events import LogEmitter, build_log_producer
from messaging.topics import delivery_log_topic, router_log_topic
from router.kafka_acks import KafkaAcks
from router.models import Message

SERVICE_NAME = "router"
EXIT_FLUSH_SECONDS = 5.0
# A request waits for its record's acknowledgement: batches of concurrent requests are made within
# this (the default 5 ms would add to every request's latency for no gain in CPU).
API_LINGER_MS = 1

_acks: dict[tuple[int, str], KafkaAcks] = {}
_inserters: dict[tuple[int, str], GroupInserter] = {}
_emitters: dict[tuple[str, str], LogEmitter] = {}
_emitter_producers: list[Producer] = []
_guard = threading.Lock()  # gthread workers: two first requests must not start two of anything


def api_acks() -> KafkaAcks:
    """The producer requests hand their messages' records to, with its delivery-report thread."""
    key = (os.getpid(), settings.KAFKA_BOOTSTRAP_SERVERS)
    acks = _acks.get(key)
    if acks is None:
        with _guard:
            acks = _acks.get(key)
            if acks is None:
                # librdkafka gives a record up when the request stops waiting for it: the relay
                # publishes the outbox copy, and nothing of this producer's races it for long.
                timeout_ms = max(int(settings.ROUTER_PUBLISH_TIMEOUT_SECONDS * 1000), 100)
                producer = build_producer(**{"delivery.timeout.ms": timeout_ms, "linger.ms": API_LINGER_MS})
                acks = _acks[key] = KafkaAcks(producer)
    return acks


def router_rows() -> GroupInserter:
    """The thread that commits the router rows of this process's concurrent requests together."""
    alias = db_router.db_for_write(Message)
    key = (os.getpid(), alias)
    inserter = _inserters.get(key)
    if inserter is None:
        with _guard:
            inserter = _inserters.get(key)
            if inserter is None:
                inserter = _inserters[key] = GroupInserter(alias, name=f"router-rows-{alias}")
    return inserter


def router_log() -> LogEmitter:
    """The emitter for `logs.router`."""
    return _emitter(SERVICE_NAME, router_log_topic())


def channel_log(channel: Channel) -> DeliveryLog:
    """The channel's delivery log (`logs.delivery.<channel>`), for what the API learns on a channel's
    behalf (a provider's delivery receipt): logged as that channel's service."""
    return DeliveryLog(channel=channel, emitter=_emitter(f"{channel.value}_service", delivery_log_topic(channel)))


def _emitter(service: str, topic: str) -> LogEmitter:
    key = (settings.KAFKA_BOOTSTRAP_SERVERS, topic)
    if key not in _emitters:
        producer = build_log_producer()
        _emitter_producers.append(producer)
        _emitters[key] = LogEmitter(service=service, topic=topic, producer=producer)
    return _emitters[key]


def clients_reset() -> None:
    """Drop this process's Kafka clients and whatever they still queue (tests that used a dead broker)."""
    for (pid, _), acks in list(_acks.items()):
        if pid == os.getpid():
            acks.producer.purge()
            acks.close(0)
    for producer in _emitter_producers:
        producer.purge()
    _acks.clear()
    _emitters.clear()
    _emitter_producers.clear()


@atexit.register
def _flush_at_exit() -> None:
    """Queued records and log events leave before the process exits."""
    for (pid, _), acks in list(_acks.items()):
        if pid == os.getpid():
            acks.close(EXIT_FLUSH_SECONDS)
    for emitter in _emitters.values():
        emitter.flush(EXIT_FLUSH_SECONDS)
