"""`manage.py bench --peer celery`: the Celery + Redis sender a Django team would build instead
(bench/peer_celery/), measured in the same run, on the same machine, in the same shape as the
project's `peer_shape` phase:

1. API alone: gunicorn `-w 2`, `wrk -t2 -c32` for N seconds with bench/peer_celery/post.lua (three
   channels in turn) → accepted requests/s; its workers stopped, so the messages queue up.
2. Drain: the worker (`celery -c <processes>`, as many processes as the project runs workers) until
   every queued message has its row → delivered/s from the first send to the last.

Celery and Redis's client go into a venv of their own under var/bench/ (nothing at run time needs
them); `redis-server` and `wrk` come from Debian's packages (`apt-get install redis-server wrk`).
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings

from bench import cpu
from engines.polling import wait_until
from engines.process import free_port

PEER_DIR = Path(settings.BASE_DIR) / "bench" / "peer_celery"
POST_LUA = PEER_DIR / "post.lua"
# The peer's own pins: the project's Django, DRF, gunicorn and phonenumbers, plus Celery and redis-py.
PEER_REQUIREMENTS = (
    "Django==5.2.19",
    "djangorestframework==3.18.3",
    "gunicorn==23.0.0",
    "phonenumbers==9.0.43",
    "celery==5.7.0",
    "redis==8.1.0",
)


@dataclass(frozen=True)
class WrkLoad:
    seconds: float
    connections: int = 32
    threads: int = 2


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    non_2xx: int

    @classmethod
    def parse(cls, output: str) -> WrkResult:
        rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
        if rate is None:
            raise RuntimeError(f"wrk printed no rate:\n{output}")
        non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
        return cls(float(rate.group(1)), int(non_2xx.group(1)) if non_2xx else 0)


def require_tools() -> None:
    missing = [tool for tool in ("wrk", "redis-server", "redis-cli") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(
            f"--peer celery needs {', '.join(missing)}: apt-get install -y --no-install-recommends wrk redis-server"
        )


def run_wrk(url: str, load: WrkLoad, *, auth: str = "") -> WrkResult:
    """wrk with post.lua against `url`; `auth` is an Authorization header value (the project's key)."""
    result = subprocess.run(
        ["wrk", f"-t{load.threads}", f"-c{load.connections}", f"-d{load.seconds:g}s", "-s", str(POST_LUA), url],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "AUTH": auth},
        check=True,
    )
    return WrkResult.parse(result.stdout)


def peer_python(var_dir: Path) -> Path:
    """The peer's venv, created (or updated) when its pins change."""
    venv = var_dir / "bench" / "peer-celery-venv"
    python = venv / "bin" / "python"
    stamp = venv / ".requirements"
    wanted = "\n".join(PEER_REQUIREMENTS)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PEER_REQUIREMENTS],
            check=True,
        )
        stamp.write_text(wanted)
    return python


@dataclass(frozen=True)
class RedisServer:
    port: int
    pid: int


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A throw-away redis-server on a free port."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _redis(port, "PING") == "PONG", timeout=20, what="redis-server")
        yield RedisServer(port=port, pid=process.pid)
    finally:
        process.terminate()
        process.wait(timeout=20)


def _redis(port: int, *command: str) -> str:
    result = subprocess.run(["redis-cli", "-p", str(port), *command], capture_output=True, text=True, check=False)
    return result.stdout.strip()


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"), timeout=2)
    except urllib.error.HTTPError:
        return True  # 400: it is up
    except OSError:
        return False
    return True


def _sent_times(database: Path) -> tuple[int, float, float]:
    with sqlite3.connect(database, timeout=30) as connection:
        query = "SELECT count(*), min(sent_at), max(sent_at) FROM peer_app_delivery"
        count, first, last = connection.execute(query).fetchone()
    if not count:
        return 0, 0.0, 0.0
    return count, datetime.fromisoformat(first).timestamp(), datetime.fromisoformat(last).timestamp()


def run_celery_peer(home: Path, load: WrkLoad, *, worker_processes: int) -> dict[str, Any]:
    """Both phases of the peer; figures as the project's peer_shape phase reports its own."""
    require_tools()
    python = peer_python(Path(settings.BASE_DIR) / "var")
    database = home / "peer_celery.sqlite3"
    with redis_server() as redis:
        redis_port = redis.port
        env = {"PEER_DB": str(database), "PEER_BROKER": f"redis://127.0.0.1:{redis_port}/0", "PATH": "/usr/bin:/bin"}
        create = "import peer; from django.db import connection; from peer_app.models import Delivery\n"
        create += "with connection.schema_editor() as editor: editor.create_model(Delivery)"
        subprocess.run([str(python), "-c", create], cwd=PEER_DIR, env=env, check=True)

        port = free_port()
        url = f"http://127.0.0.1:{port}/api/v1/messages"
        gunicorn = ["-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning"]
        api = subprocess.Popen([str(python), *gunicorn, "peer:application"], cwd=PEER_DIR, env=env)
        try:
            wait_until(lambda: _answers(url), timeout=60, what="the peer's API")
            before = cpu.snapshot({"api": api.pid, "redis": redis.pid})
            wrk = run_wrk(url, load)
            accepting = cpu.usage(before, cpu.snapshot({"api": api.pid, "redis": redis.pid}))
        finally:
            api.send_signal(signal.SIGTERM)
            api.wait(timeout=30)
        queued = int(_redis(redis_port, "LLEN", "celery") or 0)

        worker = subprocess.Popen(
            [str(python), "-m", "celery", "-A", "peer", "worker", "-c", str(worker_processes), "--loglevel=warning"],
            cwd=PEER_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: _sent_times(database)[0] >= queued, timeout=900, interval=0.5, what="the peer's drain")
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
    sent, first, last = _sent_times(database)
    return {
        "api_accepted_per_second": wrk.requests_per_second,
        "api_non_2xx": wrk.non_2xx,
        "queued": queued,
        "delivered": sent,
        "worker_processes": worker_processes,
        "delivered_per_second": sent / (last - first) if last > first else 0.0,
        "accept_cpu_ms_per_request": cpu.ms_per_request(accepting, queued),
    }


def drained_per_second(sent_times: list[float]) -> float:
    """First send to last send: the steady-state rate of a drain."""
    return (len(sent_times) - 1) / (max(sent_times) - min(sent_times)) if len(sent_times) > 1 else 0.0


@contextmanager
def slow_header_senders(port: int, count: int) -> Iterator[None]:
    """`count` connections that send a request head one byte a second (slowloris), for as long as the
    block runs; a connection the server drops is opened again."""
    head = b"POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    stop = threading.Event()

    def drip() -> None:
        connection: socket.socket | None = None
        sent = 0
        while not stop.is_set():
            try:
                if connection is None:
                    connection, sent = socket.create_connection(("127.0.0.1", port), timeout=5), 0
                connection.send(head[sent % len(head) : sent % len(head) + 1])
                sent += 1
            except OSError:
                connection = None
            stop.wait(1.0)
        if connection is not None:
            connection.close()

    threads = [threading.Thread(target=drip, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)  # every slow connection open and started before the measurement
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
