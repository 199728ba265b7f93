"""The least a durable accept can cost here: a bare WSGI app (no Django, no rules, no log event) that
commits one SQLite row (WAL, synchronous=FULL, as the router's database) and waits for Kafka's
`acks=all` acknowledgement of one record before answering 202. bench/servers.py serves it beside the
API, so the API's rate has a ceiling measured in the same run (issue 27; docs/performance.md).

Reads the bench system's environment: KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC_PREFIX and
ROUTER_DATABASE_URL (a `sqlite:///` path; the bare app keeps its own file beside it).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from confluent_kafka import Producer

_local = threading.local()
_database = os.environ.get("ROUTER_DATABASE_URL", "sqlite:///bare.sqlite3").removeprefix("sqlite:///") + ".bare"
_topic = os.environ.get("KAFKA_TOPIC_PREFIX", "") + "send.sms"
_producer: Producer | None = None
_guard = threading.Lock()


def _connection() -> sqlite3.Connection:
    connection: sqlite3.Connection | None = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = sqlite3.connect(_database, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("CREATE TABLE IF NOT EXISTS message (id TEXT PRIMARY KEY, body BLOB)")
    return connection


def _kafka() -> Producer:
    """One producer per process, created after gunicorn's fork, with a thread serving its reports."""
    global _producer
    if _producer is not None:  # no lock on the hot path once it exists
        return _producer
    with _guard:
        if _producer is None:
            producer = Producer(
                {
                    "bootstrap.servers": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                    "acks": "all",
                    "enable.idempotence": True,
                    "linger.ms": 1,
                    "compression.type": "lz4",
                }
            )
            threading.Thread(target=_serve_reports, args=(producer,), daemon=True).start()
            _producer = producer
    return _producer


def _serve_reports(producer: Producer) -> None:
    while True:
        producer.poll(0.1)


class _Acknowledgement:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: object = None

    def report(self, error: object, _record: object) -> None:  # on the report thread
        self.error = error
        self.done.set()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["REQUEST_METHOD"] != "POST":  # the bench's readiness probe
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
        return [b"{}"]
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    message = orjson.loads(body)
    message_id = str(uuid.uuid4())
    connection = _connection()
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT INTO message VALUES (?, ?)", (message_id, body))
    connection.execute("COMMIT")
    acknowledgement = _Acknowledgement()
    _kafka().produce(_topic, key=str(message.get("to", "")).encode(), value=body, on_delivery=acknowledgement.report)
    if not acknowledgement.done.wait(5) or acknowledgement.error is not None:
        start_response("503 Service Unavailable", [("Content-Type", "application/json"), ("Retry-After", "1")])
        return [b'{"detail":"not acknowledged"}']
    answer = orjson.dumps({"id": message_id, "status": "accepted"})
    start_response("202 Accepted", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
    return [answer]
