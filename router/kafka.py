"""The router process's Kafka clients: the API's outbox publisher and the log emitter, one per process.

Built lazily on first use, so gunicorn workers each create their own after the fork (librdkafka
threads, and the publisher's own, do not survive a fork); the publisher is also keyed by process id,
so a client inherited from a parent is never used. Keyed by the bootstrap servers so a settings
override (tests point the API at an unreachable broker) gets its own clients.
"""

from __future__ import annotations

import atexit
import os
import threading

from confluent_kafka import Producer
from django.conf import settings

from messaging.clients import build_producer
from messaging.log_events import LogEmitter, build_log_producer
from messaging.topics import router_log_topic
from router.outbox_publisher import OutboxPublisher

SERVICE_NAME = "router"
EXIT_FLUSH_SECONDS = 5.0

_publishers: dict[tuple[int, str], OutboxPublisher] = {}
_emitters: dict[tuple[str, str], LogEmitter] = {}
_emitter_producers: list[Producer] = []
_guard = threading.Lock()  # gthread workers: two first requests must not start two publishers


def api_publisher() -> OutboxPublisher:
    """The publisher requests hand their outbox entries to (router.outbox_publisher)."""
    key = (os.getpid(), settings.KAFKA_BOOTSTRAP_SERVERS)
    publisher = _publishers.get(key)
    if publisher is None:
        with _guard:
            publisher = _publishers.get(key)
            if publisher is None:
                # librdkafka gives a record up after ROUTER_PUBLISH_TIMEOUT_SECONDS; the relay's grace
                # period is longer, so it does not publish an entry this producer may still deliver.
                timeout_ms = max(int(settings.ROUTER_PUBLISH_TIMEOUT_SECONDS * 1000), 100)
                producer = build_producer(**{"delivery.timeout.ms": timeout_ms})
                publisher = _publishers[key] = OutboxPublisher(producer=producer, log=router_log)
    return publisher


def router_log() -> LogEmitter:
    """The emitter for `logs.router`."""
    key = (settings.KAFKA_BOOTSTRAP_SERVERS, router_log_topic())
    if key not in _emitters:
        producer = build_log_producer()
        _emitter_producers.append(producer)
        _emitters[key] = LogEmitter(service=SERVICE_NAME, topic=key[1], producer=producer)
    return _emitters[key]


def clients_reset() -> None:
    """Drop this process's clients and whatever they still queue (for tests that used a dead broker)."""
    for (pid, _), publisher in list(_publishers.items()):
        if pid == os.getpid():
            publisher.discard()
    for producer in _emitter_producers:
        producer.purge()
    _publishers.clear()
    _emitters.clear()
    _emitter_producers.clear()


@atexit.register
def _flush_at_exit() -> None:
    """Outstanding acknowledgements are settled, then queued log events (the `message.published`
    events of that settling included) leave before the process exits."""
    for (pid, _), publisher in list(_publishers.items()):
        if pid == os.getpid():
            publisher.close(EXIT_FLUSH_SECONDS)
    for emitter in _emitters.values():
        emitter.flush(EXIT_FLUSH_SECONDS)
