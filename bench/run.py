"""One benchmark run, start to finish: engines → raw baseline → the real system → every phase → report.

The baseline runs first, on the same engines, before any process of the system exists, so it has the
machine to itself as far as this run is concerned; every other figure is quoted as a ratio to it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test.utils import override_settings

from bench import cpu, phases
from bench.baseline import run_baseline
from bench.engines import BenchEngines, bench_engines
from bench.facts import machine_facts
from bench.ledger import Ledger
from bench.peer import WrkLoad, require_tools, run_celery_peer
from bench.provider_limits import run_provider_limits
from bench.sizes import SIZES, BenchSize
from bench.system import DATABASE_ALIASES, BenchSystem, running_system
from engines.polling import wait_until
from engines.process import free_port

SYSTEM_PROCESSES = ("api", "relay", "email", "sms", "whatsapp", "indexer")


def _say(text: str) -> None:
    print(f"[bench] {text}", flush=True)


def bench_size(name: str, messages: int | None) -> BenchSize:
    size = SIZES[name]
    if messages:
        size = replace(size, end_to_end_messages=messages, baseline_messages=messages)
    return size


def _clean_up_shared(engines: BenchEngines) -> None:
    """On reused engines, remove this run's topics, indices and templates (prefixed by its run id)."""
    from elasticsearch import Elasticsearch

    from messaging.clients import build_admin

    admin = build_admin(**{"bootstrap.servers": engines.kafka_bootstrap})
    ours = [name for name in admin.list_topics(timeout=10).topics if name.startswith(engines.topic_prefix)]
    if ours:
        for future in admin.delete_topics(ours, operation_timeout=30).values():
            future.exception()
    client = Elasticsearch(engines.es_url, request_timeout=30)
    for template in (engines.index_prefix, engines.reindex_prefix):
        client.indices.delete(index=f"{template}*", ignore_unavailable=True)
        client.options(ignore_status=404).indices.delete_index_template(name=template)


def _measured(system: BenchSystem, phase: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run one phase and add the CPU seconds each process spent meanwhile (its "cpu" entry)."""
    before = cpu.snapshot(system.pids())
    result = phase(*args, **kwargs)
    result["cpu"] = cpu.usage(before, cpu.snapshot(system.pids()))
    return result


def run_bench(
    size: BenchSize, *, reuse_engines: bool, peer: str | None = None, only: frozenset[str] | None = None
) -> dict[str, Any]:
    """`only`: the phases to run (names as in the JSON), for a quick look at one figure; all by default.
    `provider_limits` (the fault scenarios against real SMTP servers, several minutes) runs only when
    named, before and apart from the other phases."""
    results: dict[str, Any] = {}
    if only is not None and "provider_limits" in only:
        _say("provider limits: throttling, crash and failover scenarios against real SMTP servers (full scale)")
        results["provider_limits"] = run_provider_limits()
        only = only - {"provider_limits"}
        if not only:
            return results
    with tempfile.TemporaryDirectory(prefix="comms-bench-") as folder:
        home = Path(folder)
        if peer:
            require_tools()  # before minutes of the project's phases, not after
        with bench_engines(home, reuse=reuse_engines) as engines:
            try:
                results |= _run_on(engines, home, size, peer=peer, only=only)
            finally:
                if not engines.isolated:
                    _clean_up_shared(engines)
            if peer == "celery":
                # The system's processes are stopped by now: the peer has the machine as they had it.
                _say(f"Celery peer: its API under wrk for {size.peer_seconds:g}s, then its worker drains")
                workers = results["peer_shape"]["worker_processes"]
                results["peer_celery"] = run_celery_peer(home, WrkLoad(size.peer_seconds), worker_processes=workers)
            return results


def _run_on(
    engines: BenchEngines, home: Path, size: BenchSize, *, peer: str | None, only: frozenset[str] | None
) -> dict[str, Any]:
    def wanted(phase: str) -> bool:
        return only is None or phase in only

    results: dict[str, Any] = {"size": asdict(size), "facts": machine_facts(engines)}
    with override_settings(KAFKA_BOOTSTRAP_SERVERS=engines.kafka_bootstrap, KAFKA_TOPIC_PREFIX=engines.topic_prefix):
        _say(f"baseline: raw confluent-kafka + SQLite, {size.baseline_messages:,} messages")
        results["baseline"] = asdict(run_baseline(size.baseline_messages))

    system = BenchSystem(home, engines, api_port=free_port())
    _say(f"preparing the system in {home}")
    key = system.prepare()
    with running_system(system):
        for name in SYSTEM_PROCESSES:
            system.start(name)
        wait_until(system.api_ready, timeout=120, what="the API")
        ledger = Ledger({alias: system.database(alias) for alias in DATABASE_ALIASES})
        bench = phases.Bench(system=system, ledger=ledger, key=key, size=size)
        phases.warm_up(bench)
        if wanted("api_single"):
            _say(f"API ingest: {size.api_requests:,} single POSTs from {size.api_concurrency} clients")
            results["api_single"] = _measured(system, phases.api_single, bench)
        if wanted("api_batch"):
            _say(f"API batch: {size.end_to_end_messages:,} messages in batches of {size.batch_size:,}, workers stopped")
            results["api_batch"] = _measured(system, phases.api_batch, bench)
        if wanted("end_to_end"):
            _say(f"end to end: {size.end_to_end_messages:,} messages over 3 channels, simulators at 0 ms")
            results["end_to_end"] = _measured(system, phases.end_to_end, bench)
        if wanted("fixed_rate"):
            _say(f"fixed rate: {size.fixed_rate:g} POSTs/s for {size.fixed_rate_seconds:g}s")
            results["fixed_rate"] = _measured(system, phases.fixed_rate, bench)
        if wanted("slow_provider"):
            _say(f"slow provider: {size.slow_provider_messages:,} SMS at {size.slow_provider_latency_ms} ms a send")
            in_flight = settings.DELIVERY_MAX_IN_FLIGHT["sms"]
            results["slow_provider"] = _measured(system, phases.slow_provider, bench, max_in_flight=in_flight)
        if wanted("freshness"):
            _say("freshness: POST, then GET until it says sent; idle, then beside 500 POSTs/s")
            results["freshness"] = _measured(system, phases.freshness, bench)
        if wanted("scheduled"):
            _say(f"scheduled: 1,000 messages due per second for {size.load_seconds:g}s, accepted beforehand")
            results["scheduled"] = _measured(system, phases.scheduled, bench)
        if wanted("overload") and "api_single" in results:
            capacity = results["api_single"]["accepted_per_second"]
            _say(f"overload: single POSTs offered at 3 x {capacity:,.0f}/s for {size.load_seconds:g}s")
            results["overload"] = _measured(system, phases.overload, bench, capacity=capacity)
        if wanted("slow_clients") and shutil.which("wrk"):
            _say("slow clients: wrk alone, then beside 64 connections sending their headers a byte a second")
            results["slow_clients"] = _measured(system, phases.slow_clients, bench)
        elif wanted("slow_clients"):
            _say("slow clients: skipped (needs wrk: apt-get install wrk)")
        if wanted("indexing"):
            _say("log indexing: every log event of the run, again, into indices of its own")
            results["indexing"] = _measured(system, phases.indexing, bench)
        if peer:  # the peer is compared with this phase, whatever `only` says
            _say(f"the peer's shape: the API under wrk for {size.peer_seconds:g}s (workers stopped), then a drain")
            results["peer_shape"] = _measured(system, phases.peer_shape, bench, seconds=size.peer_seconds)
    return results
