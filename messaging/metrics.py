"""Prometheus metrics, defined once for every process (prometheus-client). They sit at the ground
floor, beside the Kafka plumbing, because every layer counts something (the consume loop its lag, a
channel worker its deliveries, the API its requests) and none may import an app above it.

Each process exposes its own: the API at `/metrics` (gunicorn's workers share one view through the
client's multiprocess mode, set up by gunicorn.conf.py), every other process (`consume …`,
`relay_outbox`) on `METRICS_PORT` — or honcho's `PORT` under `bin/run` — when one is given. A scrape
config for all of them: docs/operations.md.
"""

from __future__ import annotations

import logging
import os

from prometheus_client import Counter, Gauge, Histogram, start_http_server

logger = logging.getLogger(__name__)

API_REQUESTS = Counter("comms_api_requests", "API requests answered, by method and status", ["method", "status"])
MESSAGES_ACCEPTED = Counter("comms_messages_accepted", "Messages accepted (answered 202), by channel", ["channel"])
DELIVERIES = Counter(
    "comms_deliveries",
    "Records handled by a channel worker, by outcome: sent, retry, dead_letter, throttled, suppressed, expired, "
    "skipped, unknown_held, unknown_resent",
    ["channel", "outcome"],
)
PROVIDER_CALL_SECONDS = Histogram(
    "comms_provider_call_seconds",
    "How long a provider took to answer a send",
    ["channel"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CONSUMER_LAG = Gauge(
    "comms_consumer_lag",
    "Records not yet consumed, per consumer group and partition",
    ["group", "topic", "partition"],
    multiprocess_mode="max",
)
CONSUMER_REBUILDS = Counter(
    "comms_consumer_rebuilds",
    "Consumers closed and rebuilt by the rejoin watchdog (no partitions or no group membership for too long)",
    ["group"],
)
DLQ_RECORDS = Gauge(
    "comms_dlq_records", "Records on a channel's dead-letter topic", ["channel"], multiprocess_mode="max"
)
# A channel with several providers (delivery.failover) has a circuit breaker per provider.
BREAKER_STATE = Gauge(
    "comms_provider_breaker_state",
    "A provider's circuit breaker: 0 closed, 1 open, 2 half-open (its probe call out)",
    ["channel", "provider"],
    multiprocess_mode="max",
)
BREAKER_SWITCHES = Counter(
    "comms_provider_breaker_switches",
    "A provider's circuit breaker changing state (closed, open, half-open), by from and to state",
    ["channel", "provider", "from", "to"],
)
INDEXED_EVENTS = Counter("comms_indexer_events", "Log events the indexer wrote, by result", ["result"])
OUTBOX = Gauge(
    "comms_outbox_entries",
    "Outbox entries by state: pending (for the relay), failed",
    ["state"],
    multiprocess_mode="max",
)


def serve_metrics() -> None:
    """Expose this process's metrics over HTTP on METRICS_PORT (or PORT); nothing without one."""
    port = os.environ.get("METRICS_PORT") or os.environ.get("PORT")
    if not port:
        return
    start_http_server(int(port), addr=os.environ.get("METRICS_ADDRESS", "127.0.0.1"))
    logger.info("metrics on http://%s:%s/metrics", os.environ.get("METRICS_ADDRESS", "127.0.0.1"), port)
