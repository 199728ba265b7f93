"""How much each phase of the benchmark sends: the full size, and a smoke size that only proves every
phase still runs (its figures mean little: too short to reach a steady state)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchSize:
    name: str
    baseline_messages: int
    api_requests: int  # single POSTs, closed loop
    api_concurrency: int  # keep-alive clients
    end_to_end_messages: int  # sent through the batch endpoint, spread over the three channels
    batch_size: int
    batch_concurrency: int
    fixed_rate: float  # offered single POSTs per second
    fixed_rate_seconds: float
    slow_provider_messages: int  # SMS only, provider latency `slow_provider_latency_ms`
    peer_seconds: float  # `--peer celery`: wrk's duration against each API (peer_shape and the peer)
    freshness_samples: int  # messages timed from POST to GET saying `sent`, idle and busy
    load_seconds: float  # overload, slow clients and the busy part of freshness last this long
    slow_provider_latency_ms: int = 50


SIZES = {
    "default": BenchSize(
        name="default",
        baseline_messages=20_000,
        api_requests=6_000,
        api_concurrency=64,
        end_to_end_messages=20_000,
        batch_size=1000,
        batch_concurrency=2,
        fixed_rate=500,
        fixed_rate_seconds=20,
        slow_provider_messages=5_000,
        peer_seconds=20,
        freshness_samples=20,
        load_seconds=10,
    ),
    "smoke": BenchSize(
        name="smoke",
        baseline_messages=1_000,
        api_requests=200,
        api_concurrency=16,
        end_to_end_messages=300,
        batch_size=100,
        batch_concurrency=2,
        fixed_rate=100,
        fixed_rate_seconds=2,
        slow_provider_messages=200,
        peer_seconds=3,
        freshness_samples=3,
        load_seconds=2,
    ),
}
