"""A channel worker's per-message database work, in process: SQL statements, committer hand-offs and
CPU per sent message through DeliveryHandler. No Kafka: records are stand-ins, log events are dropped.

    python -m bench.handler [--channel sms] [--messages 2000] [--in-flight 32]

Runs on fresh SQLite files in a temporary directory: touches neither var/db nor the engines. The
messages run on a thread pool as in `consume`, so the committer groups their writes as it does there.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from confluent_kafka import Message, Producer

from messaging.channels import Channel

if TYPE_CHECKING:  # imported late at run time: main() configures Django first
    from delivery.worker import DeliveryHandler
    from messaging.envelope import MessageEnvelope

COMMITTER_THREAD_PREFIX = "committer-"


@dataclass
class StatementCount:
    """SQL statements run on any thread (verb → count), those run by a committer, and hand-offs."""

    verbs: Counter[str] = field(default_factory=Counter)
    serial: int = 0
    hand_offs: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_statement(self, sql: str) -> None:
        on_committer = threading.current_thread().name.startswith(COMMITTER_THREAD_PREFIX)
        with self._lock:
            self.verbs[sql.lstrip().split(None, 1)[0].upper()] += 1
            self.serial += on_committer

    def add_hand_off(self) -> None:
        with self._lock:
            self.hand_offs += 1

    @property
    def statements(self) -> int:
        return sum(self.verbs.values())


@contextmanager
def counting_statements() -> Iterator[StatementCount]:
    """Counts at the SQLite cursor, below Django's per-thread connections, so the committer's
    statements (another thread, another connection) are counted too."""
    from django.db.backends.sqlite3.base import SQLiteCursorWrapper

    from config.db_writes import _Committer

    count = StatementCount()
    execute, executemany, submit = SQLiteCursorWrapper.execute, SQLiteCursorWrapper.executemany, _Committer.submit

    def counted_execute(cursor: Any, query: str, params: Any = None) -> Any:
        count.add_statement(query)
        return execute(cursor, query, params)

    def counted_executemany(cursor: Any, query: str, param_list: Any) -> Any:
        count.add_statement(query)
        return executemany(cursor, query, param_list)

    def counted_submit(committer: Any, write: Callable[[], Any]) -> Any:
        count.add_hand_off()
        return submit(committer, write)

    SQLiteCursorWrapper.execute = counted_execute  # type: ignore[method-assign]
    SQLiteCursorWrapper.executemany = counted_executemany  # type: ignore[method-assign]
    _Committer.submit = counted_submit  # type: ignore[method-assign,assignment]
    try:
        yield count
    finally:
        SQLiteCursorWrapper.execute = execute  # type: ignore[method-assign]
        SQLiteCursorWrapper.executemany = executemany  # type: ignore[method-assign]
        _Committer.submit = submit  # type: ignore[method-assign]


class _DroppingProducer:
    """Stands in for the log emitter's and the retry/DLQ producer: nothing leaves the process."""

    def produce(self, topic: str, **kwargs: Any) -> None:
        return None

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        return 0


@dataclass(frozen=True)
class _Record:
    """The parts of a confluent_kafka.Message the handler reads."""

    payload: bytes
    message_key: bytes

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
        return 0


def record_for(envelope: MessageEnvelope) -> Message:
    """A record of `envelope` as the consumer would hand it to the handler."""
    return cast(Message, _Record(payload=envelope.to_json(), message_key=envelope.key))


def in_process_handler(channel: Channel) -> DeliveryHandler:
    """The channel's DeliveryHandler as `consume` builds it, with its configured provider."""
    from delivery.events import DeliveryLog
    from delivery.registry import get_channel
    from delivery.retry_policy import RetryPolicy
    from delivery.worker import DeliveryHandler
    from messaging.log_events import LogEmitter

    spec = get_channel(channel)
    producer = cast(Producer, _DroppingProducer())
    emitter = LogEmitter(service=spec.service_name, topic="bench.handler.logs", producer=producer)
    return DeliveryHandler(
        spec=spec,
        provider=spec.build_provider(),
        policy=RetryPolicy.for_channel(channel),
        log=DeliveryLog(channel=channel, emitter=emitter),
        producer=producer,
    )


@dataclass(frozen=True)
class HandlerFigures:
    messages: int
    statements_per_message: float
    serial_statements_per_message: float
    hand_offs_per_message: float
    cpu_ms_per_message: float
    committer_cpu_ms_per_message: float
    verbs: dict[str, float]

    def lines(self) -> list[str]:
        verbs = ", ".join(f"{verb} {n:.2f}" for verb, n in sorted(self.verbs.items()))
        return [
            f"messages sent:                 {self.messages}",
            f"SQL statements per message:    {self.statements_per_message:.2f} ({verbs})",
            f"  of them on the committer:    {self.serial_statements_per_message:.2f}",
            f"committer hand-offs / message: {self.hand_offs_per_message:.2f}",
            f"process CPU per message:       {self.cpu_ms_per_message:.3f} ms",
            f"committer CPU per message:     {self.committer_cpu_ms_per_message:.3f} ms",
        ]


def _committer_cpu(alias: str) -> float:
    """CPU seconds of the committer thread of `alias` so far (0 before it exists)."""
    for thread in threading.enumerate():
        if thread.name == f"{COMMITTER_THREAD_PREFIX}{alias}" and thread.ident is not None:
            return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return 0.0


def measure(channel: Channel, *, messages: int, in_flight: int, warm_up: int = 200) -> HandlerFigures:
    from bench.baseline import sample_envelope
    from delivery.models import DeliveryStatus
    from delivery.registry import get_channel

    handler = in_process_handler(channel)
    alias = get_channel(channel).database
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        # Connections, the committer thread and imports come up here, outside the figures.
        list(pool.map(handler, [record_for(sample_envelope(channel)) for _ in range(warm_up)]))
        records = [record_for(sample_envelope(channel)) for _ in range(messages)]
        with counting_statements() as count:
            cpu, committer_cpu = time.process_time(), _committer_cpu(alias)
            list(pool.map(handler, records))
            cpu, committer_cpu = time.process_time() - cpu, _committer_cpu(alias) - committer_cpu
    spec = get_channel(channel)
    sent = spec.record_model.objects.using(alias).filter(status=DeliveryStatus.SENT).count() - warm_up
    assert sent == messages, f"{sent} of {messages} messages sent"
    return HandlerFigures(
        messages=messages,
        statements_per_message=count.statements / messages,
        serial_statements_per_message=count.serial / messages,
        hand_offs_per_message=count.hand_offs / messages,
        cpu_ms_per_message=cpu * 1000 / messages,
        committer_cpu_ms_per_message=committer_cpu * 1000 / messages,
        verbs={verb: n / messages for verb, n in count.verbs.items()},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channel", default=Channel.SMS.value, choices=[c.value for c in Channel])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=32)
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
        figures = measure(channel, messages=args.messages, in_flight=args.in_flight)
        print("\n".join(figures.lines()))


if __name__ == "__main__":
    main()
