"""The results table: every figure with its issue-8 target and its ratio to the raw baseline of the
same run (the machine is shared and noisy; a ratio to a limit measured minutes apart is what compares)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.provider_limits import provider_limits_lines


@dataclass(frozen=True)
class Row:
    figure: str
    value: float
    unit: str
    target: str  # issue 8's target, "" if it sets none
    met: bool | None  # None: no target
    baseline: str  # which baseline figure the ratio is taken against, "" for latencies
    ratio: float | None


def _at_least(value: float, target: float) -> tuple[str, bool]:
    return f">= {target:,.0f}", value >= target


def _at_most(value: float, target: float) -> tuple[str, bool]:
    return f"<= {target:,.0f}", value <= target


def rows(results: dict[str, Any]) -> list[Row]:
    base = results["baseline"]
    produce, consume, e2e = base["produce_per_second"], base["consume_insert_per_second"], base["end_to_end_per_second"]
    found: list[Row] = []

    def add(figure: str, value: float, unit: str, check: tuple[str, bool] | None = None, against: str = "") -> None:
        reference = {"produce": produce, "consume+insert": consume, "end to end": e2e}.get(against)
        ratio = round(value / reference, 3) if reference else None
        found.append(Row(figure, value, unit, check[0] if check else "", check[1] if check else None, against, ratio))

    add("baseline: produce (acks=all)", produce, "msg/s", against="produce")
    add("baseline: consume + SQLite insert", consume, "msg/s", against="consume+insert")
    add("baseline: end to end", e2e, "msg/s", against="end to end")
    api = results.get("api_single")
    if api:
        add("API single POST accepted", api["accepted_per_second"], "req/s",
            _at_least(api["accepted_per_second"], 2000), "produce")  # fmt: skip
        add("API single POST p50", api["latency_ms"]["p50"], "ms")
        add("API single POST p99", api["latency_ms"]["p99"], "ms")
    alone = results.get("api_batch")
    if alone:
        batch = alone["accepted_messages_per_second"]
        add("API batch accepted, workers stopped", batch, "msg/s", _at_least(batch, 10_000), "produce")
    e2e_run = results.get("end_to_end")
    if e2e_run:
        batch = e2e_run["batch_ingest_messages_per_second"]
        add("API batch accepted, workers delivering", batch, "msg/s", _at_least(batch, 5_000), "produce")
        delivered = e2e_run["delivered_per_second"]
        add("end to end delivered, overall", delivered, "msg/s", _at_least(delivered, 2000), "end to end")
        for channel, value in e2e_run["delivered_per_second_by_worker"].items():
            add(f"end to end delivered, {channel} worker", value, "msg/s", against="consume+insert")
        for p in ("p50", "p95", "p99"):
            add(f"end to end accept->sent {p} (burst)", e2e_run["accept_to_sent_ms"][p], "ms")
    fixed = results.get("fixed_rate")
    if fixed:
        offered = fixed["offered_per_second"]
        add(f"at {offered:g}/s offered: accepted", fixed["achieved_per_second"], "req/s")
        add(f"at {offered:g}/s offered: HTTP p50", fixed["latency_ms"]["p50"], "ms")
        p99 = fixed["latency_ms"]["p99"]
        add(f"at {offered:g}/s offered: HTTP p99", p99, "ms", _at_most(p99, 50))
        for p in ("p50", "p95"):
            add(f"at {offered:g}/s offered: accept->sent {p}", fixed["accept_to_sent_ms"][p], "ms")
        p99 = fixed["accept_to_sent_ms"]["p99"]
        add(f"at {offered:g}/s offered: accept->sent p99", p99, "ms", _at_most(p99, 150))
    slow = results.get("slow_provider")
    if slow:
        add(
            f"one worker, provider {slow['provider_latency_ms']} ms (ceiling {slow['ceiling_per_second']:,.0f})",
            slow["one_worker_per_second"],
            "msg/s",
            _at_least(slow["one_worker_per_second"], 500),
            "consume+insert",
        )
    if "indexing" in results:
        indexing = results["indexing"]["events_per_second"]
        add("log indexing into Elasticsearch", indexing, "events/s", _at_least(indexing, 15_000), "consume+insert")
    fresh = results.get("freshness")
    if fresh:
        add("POST -> GET says sent, idle, p50", fresh["idle_ms"]["p50"], "ms", _at_most(fresh["idle_ms"]["p50"], 1000))
        busy = fresh["busy_offered_per_second"]
        add(
            f"POST -> GET says sent, {busy:g}/s offered, p95",
            fresh["busy_ms"]["p95"],
            "ms",
            _at_most(fresh["busy_ms"]["p95"], 2000),
        )
    due = results.get("scheduled")
    if due:
        add(
            f"scheduled, {due['due_per_second']:,.0f} due/s: published after sendAt, p99",
            due["late_ms"]["p99"],
            "ms",
        )
        add("  latest after its sendAt", due["max_late_ms"], "ms", _at_most(due["max_late_ms"], 1000))
        add("  published before its sendAt", due["published_early"], "msgs", _at_most(due["published_early"], 0))
    overload = results.get("overload")
    if overload:
        offered = overload["offered_per_second"]
        share = overload["excess_answered_503_or_429"]
        add(f"at 3x capacity ({offered:,.0f}/s offered): accepted", overload["accepted_per_second"], "req/s")
        add("  excess answered 503/429", share * 100, "%", (">= 99", share >= 0.99))
        refused_p99 = overload["refused_latency_ms"].get("p99", 0.0)
        add("  503 p99", refused_p99, "ms", _at_most(refused_p99, 100))
        accepted_p99 = overload["accepted_latency_ms"].get("p99", 0.0)
        add("  accepted p99", accepted_p99, "ms", _at_most(accepted_p99, 1000))
    slow = results.get("slow_clients")
    if slow:
        add(
            f"beside {slow['slow_connections']} slow-header clients, share of throughput",
            slow["ratio"] * 100,
            "%",
            (">= 95", slow["ratio"] >= 0.95),
        )
    found += peer_rows(results)
    return found


def peer_rows(results: dict[str, Any]) -> list[Row]:
    """`--peer celery`: the same wrk load and the same drain on both, ratios to the peer (issues 12, 13)."""
    ours, peer = results.get("peer_shape"), results.get("peer_celery")
    if not ours or not peer:
        return []
    found = []
    for figure, key, unit, factor in (
        ("API under wrk -c32, accepted", "api_accepted_per_second", "req/s", 1.5),
        (f"drain, {ours['worker_processes']} worker processes, first to last send", "delivered_per_second", "msg/s", 3),
    ):
        value, theirs = ours[key], peer[key]
        target = factor * theirs
        found.append(
            Row(
                f"{figure}",
                value,
                unit,
                f">= {factor:g}x peer",
                value >= target,
                "celery peer",
                value / theirs if theirs else None,
            )
        )
        found.append(Row(f"  celery peer: {figure}", theirs, unit, "", None, "", None))
    return found


def render(results: dict[str, Any]) -> str:
    if "facts" not in results:  # `--only provider_limits`: the fault scenarios alone
        return "\n".join(provider_limits_lines(results))
    lines = []
    facts = results["facts"]
    lines.append(
        f"{facts['date']}  {facts['cores']} cores  load {facts['load_average_at_start']}  Python {facts['python']}  "
        f"Kafka {facts['kafka_version']}  Elasticsearch {facts['elasticsearch_version']}  engines: {facts['engines']}"
    )
    api = facts["settings"]
    lines.append(f"API: {api['api_command']}  gunicorn.conf.py: {api.get('gunicorn_conf', {})}")
    lines.append("")
    header = f"{'figure':<58} {'value':>12} {'unit':<9} {'target':<10} {'met':<4} {'ratio':>7}  of baseline"
    lines.append(header)
    lines.append("-" * len(header))
    for row in rows(results):
        met = "" if row.met is None else ("yes" if row.met else "NO")
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(
            f"{row.figure:<58} {row.value:>12,.1f} {row.unit:<9} {row.target:<10} {met:<4} {ratio:>7}  {row.baseline}"
        )
    lines += ["", *cpu_lines(results), *accept_cpu_lines(results), *provider_limits_lines(results)]
    return "\n".join(lines)


def accept_cpu_lines(results: dict[str, Any]) -> list[str]:
    """CPU per accepted POST while wrk ran (`--peer celery`, both systems), and per message while the
    api_batch phase's batches went in, by process."""
    lines = []
    for label, key, field, unit in (
        ("this system", "peer_shape", "accept_cpu_ms_per_request", "accepted POST (wrk)"),
        ("celery peer", "peer_celery", "accept_cpu_ms_per_request", "accepted POST (wrk)"),
        ("this system", "api_batch", "accept_cpu_ms_per_message", "message accepted in a batch"),
    ):
        per = results.get(key, {}).get(field)
        if not per:
            continue
        parts = ", ".join(
            f"{name} {ms:.3f}" for name, ms in sorted(per.items(), key=lambda item: -item[1]) if name != "total"
        )
        lines.append(f"  {label}: {per['total']:.3f} ms of its processes' CPU per {unit} ({parts})")
    return ["", "CPU while accepting (ms):", *lines] if lines else []


PHASES = (
    "api_single",
    "api_batch",
    "end_to_end",
    "fixed_rate",
    "slow_provider",
    "freshness",
    "scheduled",
    "overload",
    "slow_clients",
    "indexing",
    "peer_shape",
    "provider_limits",
)


def cpu_lines(results: dict[str, Any]) -> list[str]:
    """Per phase: where its CPU went, as seconds and as a share of the cores' capacity meanwhile."""
    lines = ["CPU seconds by process (share of all cores over the phase's wall time):"]
    for phase in PHASES:
        usage = results.get(phase, {}).get("cpu")
        if not usage:
            continue
        capacity = max(usage["wall_seconds"] * usage["cores"], 1e-9)
        spent = sorted(usage["by_process"].items(), key=lambda item: -item[1])
        parts = ", ".join(
            f"{name} {seconds:.1f} ({seconds / capacity:.0%})" for name, seconds in spent if seconds >= 0.05
        )
        busy = usage["machine_busy_seconds"] / capacity
        lines.append(f"  {phase}: {usage['wall_seconds']:.1f} s wall, machine busy {busy:.0%}: {parts}")
    return lines
