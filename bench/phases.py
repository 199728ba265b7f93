"""The measured phases. Each one offers load through the API (from the load-generator process), waits
until the system is quiet again (every accepted message `sent`), and reads its figures from the load
generator and from the timestamps the services recorded.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from confluent_kafka import TopicPartition
from django.conf import settings
from elasticsearch import ApiError, Elasticsearch

from bench import cpu
from bench.ledger import Delivery, Ledger
from bench.loadgen import LoadResult, LoadSpec, spec_json
from bench.peer import WrkLoad, drained_per_second, run_wrk, slow_header_senders
from bench.sizes import BenchSize
from bench.stats import percentiles, rate
from bench.system import BenchSystem
from engines.polling import wait_until

CHANNELS = ["email", "sms", "whatsapp"]


@dataclass
class Bench:
    system: BenchSystem
    ledger: Ledger
    key: str
    size: BenchSize

    def load(self, **spec: Any) -> LoadResult:
        """Run the load generator in its own process and return what it measured."""
        load_spec = LoadSpec(url=self.system.api_url, key=self.key, **spec)
        result = subprocess.run(
            [sys.executable, "-m", "bench.loadgen", spec_json(load_spec)],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"load generator failed:\n{result.stderr[-3000:]}")
        return LoadResult(**orjson.loads(result.stdout))

    def wait_quiet(self, timeout: float = 600.0) -> None:
        """Until every accepted message is sent (the simulators never fail in a benchmark)."""

        def quiet() -> bool:
            self.system.check_alive()
            return self.ledger.sent() >= self.ledger.accepted()

        wait_until(quiet, timeout=timeout, what="every accepted message to be sent", interval=0.25)


def _accept_to_sent(deliveries: list[Delivery]) -> dict[str, float]:
    return percentiles([(d.sent_at - d.accepted_at) * 1000 for d in deliveries])


def _http(result: LoadResult) -> dict[str, Any]:
    return {"requests": result.requests, "statuses": result.statuses, "latency_ms": result.latency_ms}


def warm_up(bench: Bench) -> None:
    """Every worker assigned its partitions and every API worker answering before anything is timed."""
    bench.load(mode="closed", channels=CHANNELS, requests=30, concurrency=4)
    bench.wait_quiet(timeout=120)


def api_single(bench: Bench) -> dict[str, Any]:
    size = bench.size
    result = bench.load(mode="closed", channels=CHANNELS, requests=size.api_requests, concurrency=size.api_concurrency)
    bench.wait_quiet()
    return {
        "accepted_per_second": rate(result.accepted_messages, result.elapsed_seconds),
        "concurrency": size.api_concurrency,
        **_http(result),
    }


def _batches_load(bench: Bench) -> LoadResult:
    """end_to_end_messages over the three channels, in batches of batch_size, as fast as the API takes them."""
    size = bench.size
    return bench.load(
        mode="closed",
        channels=CHANNELS,
        requests=size.end_to_end_messages // size.batch_size,
        concurrency=size.batch_concurrency,
        batch_size=size.batch_size,
    )


def api_batch(bench: Bench) -> dict[str, Any]:
    """Batches of `batch_size` as fast as the API takes them, with the channel workers stopped (relay
    and indexer running): what the accept alone holds. end_to_end measures it while delivery runs."""
    size = bench.size
    workers = [name for name in CHANNELS if name in bench.system.processes]
    for name in workers:
        bench.system.stop(name)
    try:
        before = cpu.snapshot(bench.system.pids())
        result = _batches_load(bench)
        accepting = cpu.usage(before, cpu.snapshot(bench.system.pids()))
    finally:
        for name in workers:
            bench.system.start(name)
    bench.wait_quiet()
    return {
        "accepted_messages_per_second": rate(result.accepted_messages, result.elapsed_seconds),
        "batch_size": size.batch_size,
        "concurrency": size.batch_concurrency,
        **_http(result),
        # While the batches went in (the workers' restart and drain after it not counted).
        "accept_cpu_ms_per_message": cpu.ms_per_request(accepting, result.accepted_messages),
    }


def end_to_end(bench: Bench) -> dict[str, Any]:
    """N messages through the batch endpoint as fast as it takes them; delivery runs meanwhile."""
    since = datetime.now(UTC)
    result = _batches_load(bench)
    bench.wait_quiet()
    deliveries = bench.ledger.deliveries(accepted_from=since, accepted_until=datetime.now(UTC))
    first_accept = min(d.accepted_at for d in deliveries)
    per_channel: dict[str, float] = {}
    for channel in CHANNELS:
        sent = sorted(d.sent_at for d in deliveries if d.channel == channel)
        # One worker's rate while it had work: its first send to its last.
        per_channel[channel] = rate(len(sent), sent[-1] - sent[0]) if len(sent) > 1 else 0.0
    return {
        "messages": len(deliveries),
        "batch_ingest_messages_per_second": rate(result.accepted_messages, result.elapsed_seconds),
        "batch": _http(result),
        "delivered_per_second": rate(len(deliveries), max(d.sent_at for d in deliveries) - first_accept),
        "delivered_per_second_by_worker": per_channel,
        "accept_to_sent_ms": _accept_to_sent(deliveries),
    }


def fixed_rate(bench: Bench) -> dict[str, Any]:
    """Latency under moderate load: single POSTs on a fixed schedule, whatever the answers do."""
    size = bench.size
    since = datetime.now(UTC)
    result = bench.load(
        mode="rate", channels=CHANNELS, rate=size.fixed_rate, duration=size.fixed_rate_seconds, concurrency=256
    )
    bench.wait_quiet()
    deliveries = bench.ledger.deliveries(accepted_from=since, accepted_until=datetime.now(UTC))
    return {
        "offered_per_second": size.fixed_rate,
        "achieved_per_second": rate(result.accepted_messages, result.elapsed_seconds),
        **_http(result),
        "accept_to_sent_ms": _accept_to_sent(deliveries),
    }


def slow_provider(bench: Bench, *, max_in_flight: int) -> dict[str, Any]:
    """One SMS worker against a provider that takes 50 ms a send: what its concurrency buys."""
    size = bench.size
    latency = size.slow_provider_latency_ms
    bench.system.stop("sms")
    bench.system.start("sms", SMS_SIMULATOR_LATENCY_MS=str(latency))
    since = datetime.now(UTC)
    batch = min(size.batch_size, size.slow_provider_messages)
    bench.load(
        mode="closed",
        channels=["sms"],
        requests=size.slow_provider_messages // batch,
        concurrency=size.batch_concurrency,
        batch_size=batch,
    )
    bench.wait_quiet()
    sent = sorted(
        d.sent_at
        for d in bench.ledger.deliveries(accepted_from=since, accepted_until=datetime.now(UTC))
        if d.channel == "sms"
    )
    return {
        "provider_latency_ms": latency,
        "max_in_flight": max_in_flight,
        "messages": len(sent),
        "one_worker_per_second": rate(len(sent), sent[-1] - sent[0]) if len(sent) > 1 else 0.0,
        "ceiling_per_second": rate(max_in_flight, latency / 1000),
    }


def _log_events_in_kafka(bench: Bench) -> int:
    from messaging.clients import build_consumer

    prefix = bench.system.engines.topic_prefix + "logs."
    probe = build_consumer("bench-probe", **{"bootstrap.servers": bench.system.engines.kafka_bootstrap})
    try:
        total = 0
        for name, metadata in probe.list_topics(timeout=10).topics.items():
            if name.startswith(prefix):
                for partition in metadata.partitions:
                    low, high = probe.get_watermark_offsets(TopicPartition(name, partition), timeout=10)
                    total += high - low
        return total
    finally:
        probe.close()


def indexing(bench: Bench) -> dict[str, Any]:
    """Every log event of the run indexed again, by a second indexer with a group and indices of its
    own: the indexer's rate when it has a backlog, not the rate the other phases happened to log at."""
    engines = bench.system.engines
    events = _log_events_in_kafka(bench)
    index_prefix = engines.reindex_prefix
    pattern = f"{index_prefix}-*"
    client = Elasticsearch(engines.es_url, request_timeout=30, max_retries=0)
    started = time.perf_counter()
    command = "python manage.py index_logs"
    group = f"{engines.topic_prefix}bench-reindex"  # as unique as the run's topics on shared engines
    bench.system.start("reindexer", command=command, INDEXER_GROUP_ID=group, LOG_INDEX_PREFIX=index_prefix)
    progress: list[tuple[float, int]] = [(started, 0)]

    def indexed() -> bool:
        bench.system.check_alive()
        try:
            client.indices.refresh(index=pattern, ignore_unavailable=True, allow_no_indices=True)
            count = int(client.count(index=pattern, ignore_unavailable=True, allow_no_indices=True)["count"])
        except ApiError:  # a daily index just created, its shard not started yet: ask again
            return False
        if count:
            progress.append((time.perf_counter(), count))
            if progress[0][1] == 0 and count < events:
                progress[:1] = []  # timing starts at the first indexed batch, not at Django's start-up
        return count >= events

    try:
        wait_until(indexed, timeout=600, what=f"{events} log events to be indexed", interval=0.25)
    finally:
        bench.system.stop("reindexer")
    (first_at, first_count), (last_at, last_count) = progress[0], progress[-1]
    return {"events": events, "events_per_second": rate(last_count - first_count, last_at - first_at)}


def peer_shape(bench: Bench, *, seconds: float) -> dict[str, Any]:
    """The Celery peer's shape (bench.peer), on this system: the API alone under `wrk -t2 -c32` with the
    channel workers stopped (relay and indexer running), then the workers drain what queued."""
    workers = [name for name in CHANNELS if name in bench.system.processes]
    for name in workers:
        bench.system.stop(name)
    since = datetime.now(UTC)
    before = cpu.snapshot(bench.system.pids())
    wrk = run_wrk(bench.system.api_url + "/api/v1/messages", WrkLoad(seconds), auth=f"Api-Key {bench.key}")
    accepting = cpu.usage(before, cpu.snapshot(bench.system.pids()))
    until = datetime.now(UTC)
    for name in workers:
        bench.system.start(name)
    bench.wait_quiet()
    deliveries = bench.ledger.deliveries(accepted_from=since, accepted_until=until)
    return {
        "api_accepted_per_second": wrk.requests_per_second,
        "api_non_2xx": wrk.non_2xx,
        "queued": len(deliveries),
        "worker_processes": len(workers),
        "delivered_per_second": drained_per_second([d.sent_at for d in deliveries]),
        # While wrk ran (the drain after it not counted): what each accepted POST cost each process.
        "accept_cpu_ms_per_request": cpu.ms_per_request(accepting, len(deliveries)),
    }


def overload(bench: Bench, *, capacity: float, factor: float = 3.0) -> dict[str, Any]:
    """Single POSTs offered at `factor` times the capacity measured before: the excess should be answered
    503 with Retry-After at once (config/gunicorn_worker.py), and what is accepted not wait long."""
    offered = capacity * factor
    seconds = bench.size.load_seconds
    result = bench.load(mode="rate", channels=CHANNELS, rate=offered, duration=seconds, concurrency=512)
    bench.wait_quiet()
    refused = result.statuses.get("503", 0) + result.statuses.get("429", 0)
    excess = max(result.requests - result.statuses.get("202", 0), 0)
    return {
        "offered_per_second": offered,
        "accepted_per_second": rate(result.accepted_messages, result.elapsed_seconds),
        "statuses": result.statuses,
        "excess_answered_503_or_429": refused / excess if excess else 1.0,
        "refused_latency_ms": result.latency_ms_by_status.get("503", {}),
        "accepted_latency_ms": result.latency_ms_by_status.get("202", {}),
    }


def slow_clients(bench: Bench, *, connections: int = 64) -> dict[str, Any]:
    """wrk's throughput alone, then beside `connections` clients that send their headers one byte a second."""
    seconds = bench.size.load_seconds
    url = bench.system.api_url + "/api/v1/messages"
    auth = f"Api-Key {bench.key}"
    alone = run_wrk(url, WrkLoad(seconds), auth=auth)
    with slow_header_senders(bench.system.api_port, connections):
        beside = run_wrk(url, WrkLoad(seconds), auth=auth)
    bench.wait_quiet()
    return {
        "alone_per_second": alone.requests_per_second,
        "beside_slow_clients_per_second": beside.requests_per_second,
        "slow_connections": connections,
        "ratio": beside.requests_per_second / alone.requests_per_second if alone.requests_per_second else 0.0,
    }


def _until_sent(bench: Bench, samples: int) -> list[float]:
    """POST one message at a time and poll GET until it says `sent`: seconds from the POST's start."""
    headers = {"Authorization": f"Api-Key {bench.key}", "Content-Type": "application/json"}
    body = orjson.dumps({"channel": "sms", "to": "+14155552671", "body": "freshness"})
    seconds = []
    for _ in range(samples):
        request = urllib.request.Request(bench.system.api_url + "/api/v1/messages", data=body, headers=headers)
        while True:  # an overloaded API sheds with 503: the clock starts with the POST it accepts
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    message_id = orjson.loads(response.read())["id"]
                break
            except urllib.error.HTTPError as refused:
                if refused.code not in (429, 503):
                    raise
                time.sleep(0.05)
        detail = urllib.request.Request(f"{bench.system.api_url}/api/v1/messages/{message_id}", headers=headers)
        while time.perf_counter() - started < 60:
            try:
                with urllib.request.urlopen(detail, timeout=30) as response:
                    if orjson.loads(response.read())["status"] == "sent":
                        break
            except urllib.error.HTTPError:
                pass  # 503 while a new daily index is created
            time.sleep(0.02)
        seconds.append(time.perf_counter() - started)
    return seconds


def freshness(bench: Bench, *, busy_rate: float = 500.0) -> dict[str, Any]:
    """How soon GET /api/v1/messages/{id} says `sent` after the POST: on an idle system, and while
    `busy_rate` POSTs/s are offered beside."""
    samples = bench.size.freshness_samples
    idle = _until_sent(bench, samples)
    duration = bench.size.load_seconds + 5
    spec = {"mode": "rate", "channels": CHANNELS, "rate": busy_rate, "duration": duration, "concurrency": 256}
    load = threading.Thread(target=bench.load, kwargs=spec)
    load.start()
    time.sleep(2)
    busy = _until_sent(bench, samples)
    load.join()
    bench.wait_quiet()
    return {
        "idle_ms": percentiles([s * 1000 for s in idle]),
        "busy_ms": percentiles([s * 1000 for s in busy]),
        "busy_offered_per_second": busy_rate,
    }


def scheduled(bench: Bench, *, per_second: float = 1000.0) -> dict[str, Any]:
    """Messages scheduled `per_second` apart over `load_seconds` (accepted beforehand through the batch
    endpoint): how late after its sendAt the relay publishes each one."""
    count = int(per_second * bench.size.load_seconds)
    first = time.time() + 3 + count / 1000  # the batch endpoint takes well over 1,000 messages/s
    headers = {"Authorization": f"Api-Key {bench.key}", "Content-Type": "application/json"}
    for start in range(0, count, 500):
        items = [
            {
                "channel": CHANNELS[n % len(CHANNELS)],
                "to": {"email": "ada@example.com", "sms": "+14155552671", "whatsapp": "+447911123456"}[
                    CHANNELS[n % len(CHANNELS)]
                ],
                "subject": "scheduled",
                "body": f"scheduled {n}",
                "sendAt": datetime.fromtimestamp(first + n / per_second, UTC).isoformat().replace("+00:00", "Z"),
            }
            for n in range(start, min(count, start + 500))
        ]
        for item in items:
            if item["channel"] != "email":
                del item["subject"]
        request = urllib.request.Request(
            bench.system.api_url + "/api/v1/messages/batch", data=orjson.dumps({"messages": items}), headers=headers
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            accepted = orjson.loads(response.read())["accepted"]
        if accepted != len(items):
            raise RuntimeError(f"only {accepted} of {len(items)} scheduled messages accepted")
    if time.time() > first:
        raise RuntimeError("accepting the schedule took longer than its lead time")
    time.sleep(max(0.0, first + count / per_second - time.time()))
    bench.wait_quiet()
    late = bench.ledger.scheduled_lateness()
    return {
        "messages": count,
        "due_per_second": per_second,
        "published": len(late),
        "published_early": sum(1 for seconds in late if seconds < 0),
        "late_ms": percentiles([seconds * 1000 for seconds in late]),
        "max_late_ms": max(late) * 1000 if late else 0.0,
    }
