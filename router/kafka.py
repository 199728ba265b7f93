"""The router process's Kafka clients: one producer and one log emitter per process.

Built lazily on first use, so gunicorn workers each create their own after the fork (librdkafka
threads do not survive a fork). Keyed by the bootstrap servers so a settings override (tests point
the API at an unreachable broker) gets its own clients; the factories read the servers from settings.
"""

from __future__ import annotations

import atexit

from confluent_kafka import Producer
from django.conf import settings

from messaging.clients import build_producer
from messaging.log_events import LOG_DELIVERY_TIMEOUT_MS, LogEmitter
from messaging.topics import router_log_topic

SERVICE_NAME = "router"
EXIT_FLUSH_SECONDS = 5.0

_producers: dict[tuple[str, float], Producer] = {}
_emitters: dict[tuple[str, str], LogEmitter] = {}
_emitter_producers: list[Producer] = []


def api_producer() -> Producer:
    """The producer for publishing during a request, bounded by ROUTER_PUBLISH_TIMEOUT_SECONDS."""
    timeout: float = settings.ROUTER_PUBLISH_TIMEOUT_SECONDS
    key = (settings.KAFKA_BOOTSTRAP_SERVERS, timeout)
    if key not in _producers:
        # librdkafka gives a record up after the same time the request waits for it: a record that
        # missed the request's deadline is then not delivered later behind the relay's back (which
        # would publish it a second time).
        _producers[key] = build_producer(**{"delivery.timeout.ms": max(int(timeout * 1000), 100)})
    return _producers[key]


def router_log() -> LogEmitter:
    """The emitter for `logs.router`."""
    key = (settings.KAFKA_BOOTSTRAP_SERVERS, router_log_topic())
    if key not in _emitters:
        producer = build_producer(**{"delivery.timeout.ms": LOG_DELIVERY_TIMEOUT_MS})
        _emitter_producers.append(producer)
        _emitters[key] = LogEmitter(service=SERVICE_NAME, topic=key[1], producer=producer)
    return _emitters[key]


def clients_reset() -> None:
    """Drop this process's clients and whatever they still queue (for tests that used a dead broker)."""
    for producer in [*_producers.values(), *_emitter_producers]:
        producer.purge()
    _producers.clear()
    _emitters.clear()
    _emitter_producers.clear()


@atexit.register
def _flush_log_events() -> None:
    """Queued log events leave before the process exits."""
    for emitter in _emitters.values():
        emitter.flush(EXIT_FLUSH_SECONDS)
