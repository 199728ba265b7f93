"""The system under fault: API (gunicorn), outbox relay, channel workers and log indexer as real
processes, pointed at the shared engines or at a scenario's private Kafka / Elasticsearch."""

from __future__ import annotations

import signal
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from engines.process import free_port
from messaging.channels import Channel
from tests.processes import ManagedProcess, process_env, wait_for

# Fast enough that a scenario's retries finish within its deadline; 4 attempts → retry levels 1..3.
FAST_RETRIES = "0.5s,1s,2s"
# A SIGKILLed worker's partitions go to another member after this (the broker's minimum is 6 s).
SESSION_TIMEOUT_MS = "6000"


class FaultSystem:
    """Starts and stops the system's processes; every process is stopped by `close()`."""

    def __init__(self, *, name: str, kafka: str | None = None, elasticsearch: str | None = None) -> None:
        self.name = name
        self.env: dict[str, str] = {
            "KAFKA_SESSION_TIMEOUT_MS": SESSION_TIMEOUT_MS,
            "ROUTER_THROTTLE_RATE": "1000000/min",
            "ROUTER_RELAY_GRACE_SECONDS": "2",
            "ROUTER_RELAY_INTERVAL_SECONDS": "0.5",
            "INDEXER_GROUP_ID": f"faults-{name}-{uuid.uuid4().hex[:8]}",
            "INDEXER_BATCH_WAIT_MS": "200",
            "INDEXER_MAX_BACKOFF_SECONDS": "2",
            "LOG_LEVEL": "INFO",
        }
        for channel in Channel:
            self.env[f"{channel.value.upper()}_RETRY_DELAYS"] = FAST_RETRIES
            self.env[f"{channel.value.upper()}_SIMULATOR_LATENCY_MS"] = "20"
            self.env[f"{channel.value.upper()}_MAX_IN_FLIGHT"] = "8"
        if kafka:
            self.env["KAFKA_BOOTSTRAP_SERVERS"] = kafka
        if elasticsearch:
            self.env["ELASTICSEARCH_URL"] = elasticsearch
        self.api_url = ""
        self.processes: list[ManagedProcess] = []
        self.workers: dict[Channel, list[ManagedProcess]] = {channel: [] for channel in Channel}
        self.indexer: ManagedProcess | None = None

    def _spawn(self, label: str, argv: list[str], **env: str) -> ManagedProcess:
        process = ManagedProcess(f"faults-{self.name}-{label}", argv, process_env(**{**self.env, **env}))
        self.processes.append(process)
        return process

    def _manage_py(self, label: str, *args: str, **env: str) -> ManagedProcess:
        return self._spawn(label, [sys.executable, "manage.py", *args], **env)

    # --- processes ------------------------------------------------------------------------------
    def start_api(self, **env: str) -> ManagedProcess:
        port = free_port()
        self.api_url = f"http://127.0.0.1:{port}"
        # Threads, as in production (gunicorn.conf.py): requests share a process's outbox publisher.
        argv = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"]
        argv += ["--workers", "2", "--threads", "4", "--graceful-timeout", "10"]
        process = self._spawn("api", argv, **env)
        wait_for(self._api_up, timeout=60, interval=0.3, what=f"the API on {self.api_url}")
        return process

    def _api_up(self) -> bool:
        try:
            with urllib.request.urlopen(self.api_url + "/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def start_relay(self) -> ManagedProcess:
        return self._manage_py("relay", "relay_outbox")

    def start_indexer(self) -> ManagedProcess:
        self.indexer = self._manage_py("indexer", "index_logs")
        return self.indexer

    def start_worker(self, channel: Channel, **env: str) -> ManagedProcess:
        process = self._manage_py(f"{channel.value}-worker", "consume", channel.value, **env)
        self.workers[channel].append(process)
        return process

    def start_workers(self, channels: Iterable[Channel] = tuple(Channel)) -> None:
        for channel in channels:
            self.start_worker(channel)

    def start_everything(self, *, relay: bool = True, **api_env: str) -> None:
        """API, relay (unless told not to), indexer and one worker per channel; returns once every
        worker has its partitions, so traffic sent afterwards is worked on at once."""
        self.start_api(**api_env)
        if relay:
            self.start_relay()
        self.start_indexer()
        self.start_workers()
        for channel in Channel:
            self.wait_assigned(self.workers[channel][-1])

    def wait_assigned(self, process: ManagedProcess, timeout: float = 60.0) -> None:
        """Until the consumer got partitions (its log says so): before that it does no work."""
        wait_for(lambda: "assigned ['" in process.output(), timeout=timeout, what=f"{process.name} assignment")

    def kill(self, process: ManagedProcess) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed or committed."""
        process.stop(signal.SIGKILL, timeout=10)

    def close(self) -> list[str]:
        """Stop every process that still runs (SIGTERM); returns complaints about unclean exits."""
        problems = []
        for process in reversed(self.processes):
            if process.popen.poll() is None:
                started = time.monotonic()
                code = process.stop(timeout=30)
                if code != 0:
                    problems.append(f"{process.name} exited {code} after SIGTERM ({time.monotonic() - started:.0f}s)")
            elif not process._log.closed:
                process._log.close()
        return problems


@contextmanager
def fault_system(name: str, **endpoints: str) -> Iterator[FaultSystem]:
    """A FaultSystem whose processes are all stopped at the end; an unclean SIGTERM exit (a hang on
    shutdown, a crash) fails the scenario."""
    system = FaultSystem(name=name, **endpoints)
    try:
        yield system
    finally:
        problems = system.close()
    assert not problems, problems
