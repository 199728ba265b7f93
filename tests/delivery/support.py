"""Helpers for the delivery tests: make and publish envelopes, run workers, read topics and records."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from confluent_kafka import Message
from django.utils import timezone

from delivery.models import CallOutcome, DeliveryRecord, DeliveryStatus
from delivery.registry import ChannelSpec, get_channel
from messaging.channels import Channel
from messaging.clients import build_admin, build_producer
from messaging.envelope import MessageEnvelope
from messaging.headers import build_headers
from messaging.publisher import OutgoingRecord, publish_all
from messaging.topic_admin import ensure_topics
from messaging.topic_reader import read_to_end
from messaging.topics import all_topics, send_topic
from messaging.tracing import TraceContext
from tests.processes import ManagedProcess, manage_py, wait_for

RECIPIENTS = {Channel.EMAIL: "ada@example.com", Channel.SMS: "+14155552671", Channel.WHATSAPP: "+447911123456"}
# `default` too: Django creates the other test databases after it (TEST DEPENDENCIES).
CHANNEL_DBS = ["default", "email", "sms", "whatsapp"]
FAST_RETRIES = "0.3s,0.6s,1s"


def make_envelope(channel: Channel, *, simulate: dict[str, Any] | None = None, **overrides: Any) -> MessageEnvelope:
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "trace_id": TraceContext.new().trace_id,
        "channel": channel,
        "to": RECIPIENTS[channel],
        "subject": "Hello" if channel == Channel.EMAIL else None,
        "body": "Hi there",
        "metadata": {"simulate": simulate} if simulate else {},
        "created_at": datetime.now(UTC),
    }
    return MessageEnvelope(**{**fields, **overrides})


def publish_envelopes(envelopes: Iterable[MessageEnvelope], topic: str | None = None) -> None:
    records = [
        OutgoingRecord(
            topic or send_topic(e.channel), e.key, e.to_json(), build_headers(TraceContext.continuing(e.trace_id))
        )
        for e in envelopes
    ]
    errors = publish_all(build_producer(), records)
    assert not any(errors), errors


def publish_raw(topic: str, key: bytes, value: bytes, trace: TraceContext | None = None) -> None:
    headers = build_headers(trace or TraceContext.new())
    (error,) = publish_all(build_producer(), [OutgoingRecord(topic, key, value, headers)])
    assert error is None, error


def own_run_topics(settings: Any, name: str) -> dict[str, str]:
    """Point this test (via the `settings` fixture) and the processes it starts (the returned
    environment) at topics of their own, inside the run's prefix so they are deleted with it: records
    other tests left on the run's topics with no worker running would stand in a new worker's way."""
    run_id = f"{settings.TEST_RUN_ID}.{name}{uuid.uuid4().hex[:6]}"
    settings.KAFKA_TOPIC_PREFIX = f"t{run_id}."
    ensure_topics(build_admin(), all_topics())
    return {"COMMS_TEST_RUN_ID": run_id}


@contextmanager
def worker(channel: Channel, *args: str, **env: str) -> Iterator[ManagedProcess]:
    """A real `manage.py consume <channel>` process with fast retries unless told otherwise."""
    prefix = channel.value.upper()
    env = {f"{prefix}_RETRY_DELAYS": FAST_RETRIES, **env}
    with manage_py(f"{channel}-worker", "consume", channel.value, *args, **env) as process:
        yield process


def spec(channel: Channel) -> ChannelSpec:
    return get_channel(channel)


def records(channel: Channel, ids: Iterable[uuid.UUID]) -> list[DeliveryRecord]:
    s = spec(channel)
    return list(s.record_model.objects.using(s.database).filter(message_id__in=list(ids)))


def wait_for_status(channel: Channel, ids: Iterable[uuid.UUID], status: str, timeout: float = 30.0) -> None:
    ids = list(ids)

    def reached() -> bool:
        return sum(1 for r in records(channel, ids) if r.status == status) == len(ids)

    wait_for(reached, timeout=timeout, what=f"{len(ids)} {channel} message(s) {status}")


def provider_calls(channel: Channel, ids: Iterable[uuid.UUID]) -> list[Any]:
    """Every call the channel's simulated provider received for these messages (its call log)."""
    s = spec(channel)
    keys = [str(i) for i in ids]
    return list(s.ledger_model.objects.using(s.database).filter(idempotency_key__in=keys).order_by("id"))


def sends(channel: Channel, ids: Iterable[uuid.UUID]) -> list[Any]:
    """The calls the simulated provider accepted: what a recipient would have received."""
    return [call for call in provider_calls(channel, ids) if call.outcome == CallOutcome.ACCEPTED]


def topic_records(topic: str, timeout: float = 10.0) -> list[Message]:
    """Every record on `topic` up to its current end."""
    return read_to_end(topic, timeout=timeout, reader="test-reader")


def records_with_key(topic: str, key: bytes) -> list[Message]:
    return [record for record in topic_records(topic) if record.key() == key]


def log_events(topic: str, message_id: uuid.UUID) -> list[dict[str, Any]]:
    """The ECS log events of one message, in the order they were published (one key → one partition)."""
    return [orjson.loads(record.value()) for record in records_with_key(topic, str(message_id).encode())]


def actions(events: list[dict[str, Any]]) -> list[str]:
    return [event["event"]["action"] for event in events]


def held(channel: Channel, *, held_for: timedelta) -> MessageEnvelope:
    """A message whose worker died mid-send under ON_UNKNOWN_OUTCOME=hold, held for `held_for`."""
    envelope = make_envelope(channel)
    s = spec(channel)
    s.record_model.objects.using(s.database).create(
        message_id=envelope.id,
        trace_id=envelope.trace_id,
        recipient=envelope.to,
        payload=orjson.loads(envelope.to_json()),
        status=DeliveryStatus.UNKNOWN,
        current_attempt=1,
        attempt_count=1,
    )
    s.record_model.objects.using(s.database).filter(message_id=envelope.id).update(updated_at=timezone.now() - held_for)
    return envelope
