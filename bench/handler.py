"""A channel worker's chain of steps in process: SQL statements and CPU per delivered message, batch
by batch as `consume` runs it. No Kafka: records are stand-ins, outcome and log records are dropped.

    python -m bench.handler [--channel sms] [--messages 5000] [--batch 200]

Runs on fresh SQLite files in a temporary directory: touches neither var/db nor the engines.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from confluent_kafka import Message, Producer

from messaging.channels import Channel

if TYPE_CHECKING:  # imported late at run time: main() configures Django first
    from delivery.providers import Provider
    from messaging.consumption.guard import StepGuard
    from messaging.consumption.items import Item
    from messaging.consumption.steps import Step
    from messaging.envelope import MessageEnvelope


@dataclass
class StatementCount:
    verbs: Counter[str] = field(default_factory=Counter)

    def add_statement(self, sql: str) -> None:
        self.verbs[sql.lstrip().split(None, 1)[0].upper()] += 1

    @property
    def statements(self) -> int:
        return sum(self.verbs.values())


@contextmanager
def counting_statements() -> Iterator[StatementCount]:
    """Counts at the SQLite cursor (an executemany counts once: one statement, many rows)."""
    from django.db.backends.sqlite3.base import SQLiteCursorWrapper

    count = StatementCount()
    execute, executemany = SQLiteCursorWrapper.execute, SQLiteCursorWrapper.executemany

    def counted_execute(cursor: Any, query: str, params: Any = None) -> Any:
        count.add_statement(query)
        return execute(cursor, query, params)

    def counted_executemany(cursor: Any, query: str, param_list: Any) -> Any:
        count.add_statement(query)
        return executemany(cursor, query, param_list)

    SQLiteCursorWrapper.execute = counted_execute  # type: ignore[method-assign]
    SQLiteCursorWrapper.executemany = counted_executemany  # type: ignore[method-assign]
    try:
        yield count
    finally:
        SQLiteCursorWrapper.execute = execute  # type: ignore[method-assign]
        SQLiteCursorWrapper.executemany = executemany  # type: ignore[method-assign]


class _DroppingProducer:
    """Stands in for the log emitter's and the outcome producer: nothing leaves the process, every
    record is acknowledged at once."""

    def produce(self, topic: str, **kwargs: Any) -> None:
        callback = kwargs.get("on_delivery")
        if callback is not None:
            callback(None, None)

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        return 0

    def __len__(self) -> int:
        return 0


@dataclass(frozen=True)
class _Record:
    """The parts of a confluent_kafka.Message the steps read."""

    payload: bytes
    message_key: bytes
    at: int

    def value(self) -> bytes:
        return self.payload

    def key(self) -> bytes:
        return self.message_key

    def headers(self) -> list[tuple[str, bytes]]:
        return []

    def topic(self) -> str:
        return "bench.handler"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self.at


def items_for(envelopes: Sequence[MessageEnvelope], first_offset: int = 0) -> list[Item]:
    from messaging.consumption.items import Item

    return [
        Item.of(cast(Message, _Record(payload=e.to_json(), message_key=e.key, at=first_offset + n)))
        for n, e in enumerate(envelopes)
    ]


def in_process_chain(
    channel: Channel, *, pool_size: int = 32, provider: Provider | None = None
) -> tuple[list[Step], StepGuard]:
    """The channel's steps and guard as `consume` builds them, with its configured provider (or the
    caller's); nothing leaves the process (outcome and log records are dropped)."""
    from delivery.dead_letters import ChannelDeadLetters
    from delivery.events import DeliveryLog
    from delivery.providers import ProviderPool
    from delivery.registry import get_channel
    from delivery.retry_policy import RetryPolicy
    from delivery.runner import channel_steps
    from messaging.consumption.failures import DATABASE_OR_BROKER_DOWN
    from messaging.consumption.guard import GuardPolicy, StepGuard
    from messaging.log_events import LogEmitter
    from messaging.shutdown import GracefulShutdown

    spec = get_channel(channel)
    producer = cast(Producer, _DroppingProducer())
    log = DeliveryLog(channel=channel, emitter=LogEmitter(service=spec.service_name, topic="bench", producer=producer))
    shutdown = GracefulShutdown()
    steps = channel_steps(
        spec=spec,
        policy=RetryPolicy.for_channel(channel),
        provider=provider or spec.build_provider(),
        log=log,
        producer=producer,
        pool=ProviderPool(pool_size),
        shutdown=shutdown,
    )
    sink = ChannelDeadLetters(channel=channel, producer=producer, log=log)
    return steps, StepGuard(policy=GuardPolicy(), classifier=DATABASE_OR_BROKER_DOWN, sink=sink, shutdown=shutdown)


@dataclass(frozen=True)
class HandlerFigures:
    messages: int
    batch: int
    statements_per_message: float
    cpu_ms_per_message: float
    verbs: dict[str, float]

    def lines(self) -> list[str]:
        verbs = ", ".join(f"{verb} {n:.3f}" for verb, n in sorted(self.verbs.items()))
        return [
            f"messages sent:              {self.messages} in batches of {self.batch}",
            f"SQL statements per message: {self.statements_per_message:.3f} ({verbs})",
            f"process CPU per message:    {self.cpu_ms_per_message:.3f} ms",
        ]


def measure(channel: Channel, *, messages: int, batch: int, warm_up: int = 400) -> HandlerFigures:
    from bench.baseline import sample_envelope
    from delivery.models import DeliveryStatus
    from delivery.registry import get_channel

    steps, guard = in_process_chain(channel)
    offset = 0

    def run(count: int) -> None:
        nonlocal offset
        for start in range(0, count, batch):
            envelopes = [sample_envelope(channel) for _ in range(min(batch, count - start))]
            items = items_for(envelopes, offset)
            offset += len(items)
            guard.run(steps, items)

    run(warm_up)  # connections and imports come up here, outside the figures
    with counting_statements() as count:
        cpu = time.process_time()
        run(messages)
        cpu = time.process_time() - cpu
    spec = get_channel(channel)
    sent = spec.record_model.objects.using(spec.database).filter(status=DeliveryStatus.SENT).count() - warm_up
    assert sent == messages, f"{sent} of {messages} messages sent"
    return HandlerFigures(
        messages=messages,
        batch=batch,
        statements_per_message=count.statements / messages,
        cpu_ms_per_message=cpu * 1000 / messages,
        verbs={verb: n / messages for verb, n in count.verbs.items()},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channel", default=Channel.SMS.value, choices=[c.value for c in Channel])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-handler-") as directory:
        for name in ("ROUTER", "EMAIL", "SMS", "WHATSAPP"):
            os.environ[f"{name}_DATABASE_URL"] = f"sqlite:///{directory}/{name.lower()}.sqlite3"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
        import django
        from django.core.management import call_command

        django.setup()
        channel = Channel(args.channel)
        from delivery.registry import get_channel

        call_command("migrate", database=get_channel(channel).database, verbosity=0)
        figures = measure(channel, messages=args.messages, batch=args.batch)
        print("\n".join(figures.lines()))


if __name__ == "__main__":
    main()
