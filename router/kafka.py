"""The router process's Kafka clients: one producer and one log emitter per process.

Built lazily on first use, so gunicorn workers each create their own after the fork (librdkafka
threads do not survive a fork). Keyed by the bootstrap servers so a settings override (tests point
the API at an unreachable broker) gets its own clients; the factories read the servers from settings.
"""

from __future__ import annotations

import atexit
import functools

from confluent_kafka import Producer
from django.conf import settings

from messaging.clients import build_producer
from messaging.log_events import LogEmitter
from messaging.topics import router_log_topic

SERVICE_NAME = "router"


@functools.cache
def _api_producer(bootstrap_servers: str, timeout_seconds: float) -> Producer:
    # librdkafka gives a record up after the same time the request waits for it: a record that
    # missed the request's deadline is then not delivered later behind the relay's back (which
    # would publish it a second time).
    return build_producer(**{"delivery.timeout.ms": max(int(timeout_seconds * 1000), 100)})


def api_producer() -> Producer:
    """The producer for publishing during a request, bounded by ROUTER_PUBLISH_TIMEOUT_SECONDS."""
    return _api_producer(settings.KAFKA_BOOTSTRAP_SERVERS, settings.ROUTER_PUBLISH_TIMEOUT_SECONDS)


@functools.cache
def _emitter(bootstrap_servers: str, topic: str) -> LogEmitter:
    emitter = LogEmitter(service=SERVICE_NAME, topic=topic)
    atexit.register(emitter.flush, 5.0)  # queued log events leave before the worker exits
    return emitter


def router_log() -> LogEmitter:
    """The emitter for `logs.router`."""
    return _emitter(settings.KAFKA_BOOTSTRAP_SERVERS, router_log_topic())
