"""The real system for a benchmark: databases of its own, topics, an API key, and every process of
the Procfile started from the Procfile's own command lines — so the benchmark measures exactly what
`bin/run` runs, and a change to the Procfile (e.g. the API's worker model) shows up in the figures.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from bench.engines import BenchEngines

PROCFILE = Path(settings.BASE_DIR) / "Procfile"
DATABASE_ALIASES = ("router", "email", "sms", "whatsapp")
# The benchmark is one client sending as fast as it can: per-key throttling would measure the throttle.
BENCH_THROTTLE_RATE = "100000000/min"


def procfile_commands() -> dict[str, str]:
    commands: dict[str, str] = {}
    for line in PROCFILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            commands[name.strip()] = command.strip()
    return commands


class BenchSystem:
    """Processes by Procfile name; `env` is what every one of them gets."""

    def __init__(self, home: Path, engines: BenchEngines, api_port: int) -> None:
        self.home = home
        self.engines = engines
        self.api_port = api_port
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.logs = home / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("COMMS_", "KAFKA_", "ELASTICSEARCH_"))}
        self.env = {
            **inherited,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DJANGO_DEBUG": "false",  # DEBUG keeps every SQL query in memory: not what production runs
            "KAFKA_BOOTSTRAP_SERVERS": engines.kafka_bootstrap,
            "KAFKA_TOPIC_PREFIX": engines.topic_prefix,
            "ELASTICSEARCH_URL": engines.es_url,
            "LOG_INDEX_PREFIX": engines.index_prefix,
            "ROUTER_THROTTLE_RATE": BENCH_THROTTLE_RATE,
            "API_PORT": str(api_port),
            # The Procfile says `python`/`gunicorn`: make them this interpreter's, activated venv or not.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{inherited.get('PATH', '')}",
            **{f"{alias.upper()}_DATABASE_URL": f"sqlite:///{self.database(alias)}" for alias in DATABASE_ALIASES},
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def database(self, alias: str) -> Path:
        return self.home / f"{alias}.sqlite3"

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def prepare(self) -> str:
        """Migrate the databases, create the topics; returns a new API key."""
        self.manage("migrate_all")
        self.manage("create_topics")
        return self.manage("create_api_key", "bench").strip().splitlines()[-1]

    def start(self, name: str, *, command: str | None = None, **extra_env: str) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            ["bash", "-c", f"exec {command or procfile_commands()[name]}"],
            cwd=settings.BASE_DIR,
            env={**self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def stop(self, name: str, timeout: float = 30.0) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def pids(self) -> dict[str, int]:
        """Every running process of the system and both engines, by name."""
        return {**self.engines.pids, **{name: process.pid for name, process in self.processes.items()}}

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"process {name} exited with {process.returncode}:\n{tail}")

    def api_ready(self) -> bool:
        self.check_alive()
        try:
            with urllib.request.urlopen(self.api_url + "/readyz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False


@contextmanager
def running_system(system: BenchSystem) -> Iterator[BenchSystem]:
    try:
        yield system
    finally:
        system.stop_all()
