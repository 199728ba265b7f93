"""The load generator: an asyncio HTTP client in a process of its own, so the API is measured by
someone other than itself (`python -m bench.loadgen '<spec json>'` prints a result JSON).

Two modes:
- closed: `concurrency` keep-alive clients each send their next request as soon as the last one
  answered — the API's maximum rate (accepted/s).
- rate: requests start on a fixed schedule (`rate` per second) whatever the answers do, and latency is
  counted from the scheduled start, so a stalled server cannot hide its queue (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
import orjson

from bench.stats import percentiles

CHANNEL_BODIES: dict[str, dict[str, str]] = {
    "email": {"channel": "email", "to": "ada@example.com", "subject": "Benchmark", "body": "Hello " + "x" * 120},
    "sms": {"channel": "sms", "to": "+14155552671", "body": "Hello " + "x" * 120},
    "whatsapp": {"channel": "whatsapp", "to": "+447911123456", "body": "Hello " + "x" * 120},
}


@dataclass(frozen=True)
class LoadSpec:
    url: str  # the API base, e.g. http://127.0.0.1:8000
    key: str
    mode: str  # "closed" | "rate"
    channels: list[str]
    concurrency: int = 32
    requests: int = 1000  # closed mode
    rate: float = 0.0  # rate mode: requests per second
    duration: float = 0.0  # rate mode: seconds
    batch_size: int = 0  # 0: single POST /messages; n: POST /messages/batch with n items


@dataclass
class LoadResult:
    requests: int = 0
    accepted_messages: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    elapsed_seconds: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    latency_ms_by_status: dict[str, dict[str, float]] = field(default_factory=dict)
    started_at: float = 0.0  # wall clock (time.time())
    finished_at: float = 0.0


class _Run:
    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.latencies: list[float] = []
        self.by_status: dict[str, list[float]] = {}
        self.statuses: Counter[str] = Counter()
        self.accepted = 0
        self.sent = 0
        headers = {"Authorization": f"Api-Key {spec.key}", "Content-Type": "application/json"}
        self.headers = headers
        if spec.batch_size:
            self.path = "/api/v1/messages/batch"
            self.bodies = [
                orjson.dumps(
                    {
                        "messages": [
                            CHANNEL_BODIES[spec.channels[i % len(spec.channels)]] for i in range(spec.batch_size)
                        ]
                    }
                )
            ]
        else:
            self.path = "/api/v1/messages"
            self.bodies = [orjson.dumps(CHANNEL_BODIES[channel]) for channel in spec.channels]

    async def one(self, session: aiohttp.ClientSession, n: int, began: float) -> None:
        body = self.bodies[n % len(self.bodies)]
        try:
            async with session.post(self.spec.url + self.path, data=body, headers=self.headers) as response:
                payload = await response.read()
                status = str(response.status)
                if response.status == 202:
                    self.accepted += orjson.loads(payload)["accepted"] if self.spec.batch_size else 1
        except (aiohttp.ClientError, TimeoutError) as error:  # counted, never fatal: an overloaded API is a result
            status = type(error).__name__
        latency = (time.perf_counter() - began) * 1000
        self.statuses[status] += 1
        self.latencies.append(latency)
        self.by_status.setdefault(status, []).append(latency)

    async def closed(self, session: aiohttp.ClientSession) -> None:
        async def client() -> None:
            while self.sent < self.spec.requests:
                n = self.sent
                self.sent += 1
                await self.one(session, n, time.perf_counter())

        await asyncio.gather(*(client() for _ in range(self.spec.concurrency)))

    async def scheduled(self, session: aiohttp.ClientSession) -> None:
        total = int(self.spec.rate * self.spec.duration)
        start = time.perf_counter()
        tasks: list[asyncio.Task[None]] = []
        for n in range(total):
            due = start + n / self.spec.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(session, n, due)))
        await asyncio.gather(*tasks)


async def run_load(spec: LoadSpec) -> LoadResult:
    run = _Run(spec)
    # Keep-alive connections, at most `concurrency` of them: each is one client of the API.
    connector = aiohttp.TCPConnector(limit=spec.concurrency, force_close=False)
    # Generous: in rate mode a request may queue for a connection behind an overloaded API first.
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started_wall, started = time.time(), time.perf_counter()
        await (run.closed(session) if spec.mode == "closed" else run.scheduled(session))
        elapsed = time.perf_counter() - started
    return LoadResult(
        requests=len(run.latencies),
        accepted_messages=run.accepted,
        statuses=dict(run.statuses),
        elapsed_seconds=elapsed,
        latency_ms=percentiles(run.latencies),
        latency_ms_by_status={status: percentiles(values) for status, values in run.by_status.items()},
        started_at=started_wall,
        finished_at=started_wall + elapsed,
    )


def main(argv: list[str]) -> int:
    spec = LoadSpec(**orjson.loads(argv[1]))
    result = run_load_sync(spec)
    sys.stdout.write(orjson.dumps(asdict(result)).decode() + "\n")
    return 0


def run_load_sync(spec: LoadSpec) -> LoadResult:
    return asyncio.run(run_load(spec))


def spec_json(spec: LoadSpec) -> str:
    data: dict[str, Any] = asdict(spec)
    return orjson.dumps(data).decode()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
