"""The API's HTTP server against granian, a Rust WSGI server (issue 27; docs/performance.md, "the HTTP
server"): each server in turn under `wrk -t2 -c32` with bench/peer_celery/post.lua, on a hello-world
app (the server's own ceiling), on a bare durable accept (bench/bare_accept_wsgi.py: one SQLite row, one
Kafka acknowledgement, the API's ceiling) and on the API as the Procfile serves it, with the CPU the server's
processes spent per request — a figure that a shared, loaded machine distorts less than the rate.

    python -m bench.servers [--seconds 15] [--rounds 2] [--apps hello,bare,api] [--servers gunicorn[,granian]]

Needs `wrk`, and granian for `--servers` with granian (not a project requirement: the API stays on
gunicorn, see the section; `pip install granian` into the venv).
Shares the running Kafka under a fresh topic prefix; databases of its own in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.system import BenchSystem

# gunicorn's line is the Procfile's (gunicorn.conf.py: WEB_CONCURRENCY workers, 8 threads, the guarded
# worker); granian's the nearest shape, its default backpressure (512 connections a worker) above wrk's 32.
SERVERS = {
    "gunicorn": "gunicorn {target} --bind 127.0.0.1:{port} --log-level warning",
    "granian": "granian --interface wsgi --workers 2 --blocking-threads 8 --host 127.0.0.1 --port {port} "
    "--log-level warning {target}",
}
APPS = {
    "hello": "bench.hello_wsgi:application",
    "bare": "bench.bare_accept_wsgi:application",
    "api": "config.wsgi:application",
}
WARM_UP_SECONDS = 2.0


@dataclass(frozen=True)
class Served:
    url: str  # where single POSTs go
    auth: str  # the Authorization header's value
    pid: int  # the server's main process


@contextmanager
def bench_system(prefix: str) -> Iterator[tuple[BenchSystem, str]]:
    """Django set up, the running engines under a fresh topic prefix, a BenchSystem in a temporary
    folder, and its API key."""
    # Django first: bench's modules read the settings as they are imported.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django

    django.setup()
    from bench.engines import bench_engines
    from bench.system import BenchSystem
    from engines.process import free_port

    with tempfile.TemporaryDirectory(prefix=prefix) as folder, bench_engines(Path(folder), reuse=True) as engines:
        system = BenchSystem(Path(folder), engines, free_port())
        yield system, system.prepare()


@contextmanager
def served(system: BenchSystem, key: str, server: str, app: str) -> Iterator[Served]:
    """`app` under `server`, ready and warmed up; stopped afterwards."""
    from bench.peer import WrkLoad, run_wrk
    from engines.polling import wait_until

    system.start("api", command=SERVERS[server].format(target=APPS[app], port=system.api_port))
    try:
        wait_until(system.api_ready, timeout=240, what=f"{server} serving {app}")
        target = Served(url=system.api_url + "/api/v1/messages", auth=f"Api-Key {key}", pid=system.processes["api"].pid)
        run_wrk(target.url, WrkLoad(WARM_UP_SECONDS), auth=target.auth)
        yield target
    finally:
        system.stop("api")


def measure(system: BenchSystem, key: str, server: str, app: str, seconds: float) -> dict[str, Any]:
    """One server on one app: started, warmed up, measured, stopped."""
    from bench.cpu import snapshot
    from bench.peer import WrkLoad, run_wrk

    with served(system, key, server, app) as target:
        load_average = os.getloadavg()[0]
        before = snapshot({"server": target.pid}).by_process["server"][1]
        result = run_wrk(target.url, WrkLoad(seconds), auth=target.auth)
        spent = snapshot({"server": target.pid}).by_process["server"][1] - before
    requests = result.requests_per_second * seconds
    return {
        "server": server,
        "app": app,
        "requests_per_second": round(result.requests_per_second, 1),
        "non_2xx": result.non_2xx,
        "cpu_ms_per_request": round(1000 * spent / max(requests, 1), 3),
        "load_average_1m": round(load_average, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--apps", default="hello,bare,api")
    parser.add_argument("--servers", default="gunicorn", help="gunicorn,granian compares both (granian by hand)")
    options = parser.parse_args()
    with bench_system("bench-servers-") as (system, key):
        for app in options.apps.split(","):
            for _ in range(options.rounds):  # alternated: the machine's load changes under both alike
                for server in options.servers.split(","):
                    print(json.dumps(measure(system, key, server, app, options.seconds)), flush=True)


if __name__ == "__main__":
    main()
