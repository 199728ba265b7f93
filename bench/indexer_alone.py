"""The log indexer alone, repeatably: N realistic log events on private `logs.*` topics, then the
indexer (in this process, as `index_logs` builds it) over them, once per run with a fresh consumer
group and index prefix. Prints events/s and the indexer's CPU seconds per 10k events: on a shared
machine CPU time is the figure that compares across runs, wall time mostly says how busy it was.

    python -m bench.indexer_alone --events 100000 --runs 3 [--profile pyinstrument|cprofile]

Uses the running Kafka and Elasticsearch (settings' defaults or the usual environment variables) under
a unique topic and index prefix, and deletes its topics, indices, templates and groups afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

RUN_ID = uuid.uuid4().hex[:8]
os.environ["KAFKA_TOPIC_PREFIX"] = f"ib{RUN_ID}."
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from logging_service.connection import elasticsearch  # noqa: E402
from logging_service.documents import install_template  # noqa: E402
from logging_service.indexer import LOGS_CONSUMER, IndexEvents  # noqa: E402
from messaging.channels import Channel  # noqa: E402
from messaging.clients import build_admin, build_producer  # noqa: E402
from messaging.consumption.assembly import consumer_build  # noqa: E402
from messaging.lifecycle import Action  # noqa: E402
from messaging.log_events import LogEmitter, Outcome  # noqa: E402
from messaging.shutdown import GracefulShutdown  # noqa: E402
from messaging.topic_admin import ensure_topics  # noqa: E402
from messaging.topics import delivery_log_topic, router_log_topic  # noqa: E402
from messaging.tracing import TraceContext  # noqa: E402

CHANNELS = list(Channel)
RECIPIENTS = {Channel.EMAIL: "someone@example.org", Channel.SMS: "+14155550123", Channel.WHATSAPP: "+447700900123"}


def produce(events: int) -> None:
    """A message's usual life, 4 events: accepted + published (router), received + sent (its channel)."""
    producer = build_producer(**{"linger.ms": 20})
    router = LogEmitter(service="router", topic=router_log_topic(), producer=producer)
    services = {
        channel: LogEmitter(service=f"{channel}_service", topic=delivery_log_topic(channel), producer=producer)
        for channel in CHANNELS
    }
    for n in range(events // 4):
        channel = CHANNELS[n % len(CHANNELS)]
        trace_id = TraceContext.new().trace_id
        message_id = str(uuid.uuid4())
        router.emit(
            Action.MESSAGE_ACCEPTED,
            trace_id=trace_id,
            message_id=message_id,
            channel=channel.value,
            recipient=RECIPIENTS[channel],
            outcome=Outcome.SUCCESS,
            message=f"{channel} message accepted",
        )
        router.emit(
            Action.MESSAGE_PUBLISHED,
            trace_id=trace_id,
            message_id=message_id,
            channel=channel.value,
            outcome=Outcome.SUCCESS,
            message=f"published to send.{channel}",
        )
        service = services[channel]
        for action, outcome in ((Action.DELIVERY_RECEIVED, Outcome.UNKNOWN), (Action.DELIVERY_SENT, Outcome.SUCCESS)):
            service.emit(
                action,
                trace_id=trace_id,
                message=f"{channel} message {action.split('.')[1]}",
                outcome=outcome,
                message_id=message_id,
                channel=channel.value,
                attempt=1,
                duration_ns=1_250_000,
            )
    if producer.flush(60):
        raise RuntimeError("log events not all acknowledged by Kafka")


@dataclass(frozen=True)
class RunResult:
    events: int
    seconds: float
    cpu_seconds: float
    es_cpu_seconds: float  # the whole node's: other users of a shared Elasticsearch add to it

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_10k(self) -> float:
        return self.cpu_seconds / self.events * 10_000 if self.events else 0.0

    @property
    def es_cpu_per_10k(self) -> float:
        return self.es_cpu_seconds / self.events * 10_000 if self.events else 0.0


def es_cpu_seconds() -> float:
    stats = elasticsearch().nodes.stats(metric="process")
    return sum(node["process"]["cpu"]["total_in_millis"] for node in stats["nodes"].values()) / 1000


def index_once(events: int, index_prefix: str, profile: str | None) -> RunResult:
    """Measured from the first stored batch to the last, so group join and start-up are left out."""
    with override_settings(LOG_INDEX_PREFIX=index_prefix):
        shutdown = GracefulShutdown()
        install_template()
        built = consumer_build(
            LOGS_CONSUMER, shutdown=shutdown, resources=ExitStack(), group_id=f"ib{RUN_ID}-{index_prefix}"
        )
        indexer, stats = built.runner, built.step(IndexEvents).stats
        marks: list[tuple[float, float, int]] = []
        es_marks: list[float] = []

        def watch() -> None:
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                done = stats.indexed + stats.already_present
                if done and not marks:
                    marks.append((time.perf_counter(), time.process_time(), done))
                    es_marks.append(es_cpu_seconds())
                if done >= events:
                    marks.append((time.perf_counter(), time.process_time(), done))
                    es_marks.append(es_cpu_seconds())
                    break
                time.sleep(0.005)
            shutdown.request()

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        profiler = _profiler(profile)
        indexer.run()
        if profiler:
            profiler.stop()
        watcher.join()
    if len(marks) < 2:
        raise RuntimeError(f"indexed {stats.indexed} of {events} events before the deadline")
    (t0, c0, n0), (t1, c1, n1) = marks[0], marks[-1]
    return RunResult(events=n1 - n0, seconds=t1 - t0, cpu_seconds=c1 - c0, es_cpu_seconds=es_marks[-1] - es_marks[0])


class _Profiler:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "pyinstrument":
            from pyinstrument import Profiler

            self._impl: Any = Profiler(interval=0.0005)
            self._impl.start()
        else:
            import cProfile

            self._impl = cProfile.Profile()
            self._impl.enable()

    def stop(self) -> None:
        if self.kind == "pyinstrument":
            self._impl.stop()
            print(self._impl.output_text(unicode=False, color=False, show_all=False), file=sys.stderr)
        else:
            import pstats

            self._impl.disable()
            pstats.Stats(self._impl, stream=sys.stderr).sort_stats("tottime").print_stats(30)


def _profiler(kind: str | None) -> _Profiler | None:
    return _Profiler(kind) if kind else None


def clean_up(index_prefixes: list[str]) -> None:
    admin = build_admin()
    topics = [name for name in admin.list_topics(timeout=10).topics if name.startswith(settings.KAFKA_TOPIC_PREFIX)]
    if topics:
        for future in admin.delete_topics(topics, operation_timeout=30).values():
            future.result()
    groups = [f"ib{RUN_ID}-{prefix}" for prefix in index_prefixes]
    if groups:
        for future in admin.delete_consumer_groups(groups, request_timeout=30).values():
            try:
                future.result()
            except Exception as error:  # a group that never joined is not worth failing over
                print(f"[indexer-bench] group not deleted: {error}", file=sys.stderr)
    client = elasticsearch()
    for prefix in index_prefixes:
        client.options(ignore_status=404).indices.delete(index=f"{prefix}-*", expand_wildcards="all")
        client.options(ignore_status=404).indices.delete_index_template(name=prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", choices=["pyinstrument", "cprofile"], default=None)
    args = parser.parse_args()
    say = lambda text: print(f"[indexer-bench] {text}", flush=True)  # noqa: E731
    events = args.events // 4 * 4
    prefixes: list[str] = []
    results: list[RunResult] = []
    try:
        ensure_topics(build_admin(), [router_log_topic(), *(delivery_log_topic(c) for c in CHANNELS)])
        started = time.perf_counter()
        produce(events)
        say(
            f"{events} events produced in {time.perf_counter() - started:.1f}s "
            f"(topic prefix {settings.KAFKA_TOPIC_PREFIX})"
        )
        for run in range(args.runs):
            prefixes.append(f"ib{RUN_ID}-r{run}-comms-logs")
            result = index_once(events, prefixes[-1], args.profile if run == 0 else None)
            results.append(result)
            say(
                f"run {run + 1}: {result.events} events in {result.seconds:.2f}s = {result.per_second:,.0f} events/s, "
                f"CPU {result.cpu_seconds:.2f}s = {result.cpu_per_10k:.3f} CPU-s per 10k events "
                f"(Elasticsearch node {result.es_cpu_per_10k:.3f})"
            )
    finally:
        clean_up(prefixes)
    if results:
        say(
            f"median of {len(results)}: {statistics.median(r.per_second for r in results):,.0f} events/s, "
            f"{statistics.median(r.cpu_per_10k for r in results):.3f} CPU-s per 10k events, Elasticsearch node "
            f"{statistics.median(r.es_cpu_per_10k for r in results):.3f} "
            f"(batch size {settings.INDEXER_BATCH_SIZE}, load average {os.getloadavg()[0]:.1f})"
        )


if __name__ == "__main__":
    main()
