"""Run the system's real processes (`manage.py consume`, `relay_outbox`, gunicorn, …) from tests.

They share this run's topic/index prefix (COMMS_TEST_RUN_ID is inherited) and open the test
databases pytest-django created (COMMS_USE_TEST_DATABASES=1).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from django.conf import settings

from engines.polling import wait_until

T = TypeVar("T")

PROJECT_DIR = Path(settings.BASE_DIR)
LOG_DIR = PROJECT_DIR / "var" / "test-logs"


def process_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "COMMS_USE_TEST_DATABASES": "1"}
    env["COMMS_TEST_RUN_ID"] = settings.TEST_RUN_ID
    env.update(extra)
    return env


class ManagedProcess:
    """A child process whose output goes to var/test-logs/<name>.log, shown when a test fails."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str]) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOG_DIR / f"{name}-{int(time.time() * 1000)}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            list(argv), cwd=PROJECT_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def send_signal(self, signum: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send `signum`, wait for exit (SIGKILL after `timeout`); returns the exit code."""
        self.send_signal(signum)
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            code = self.popen.wait()
        self._log.close()
        return code


@contextmanager
def manage_py(name: str, *args: str, **env: str) -> Iterator[ManagedProcess]:
    """Run `python manage.py <args>` for the duration of the block; SIGTERM at the end."""
    process = ManagedProcess(name, [sys.executable, "manage.py", *args], process_env(**env))
    try:
        yield process
    finally:
        if process.popen.poll() is None:
            process.stop()
        else:
            process._log.close()


def group_caught_up(group_id: str, topics: Sequence[str]) -> bool:
    """True when `group_id` has committed offsets at the end of every partition of `topics`."""
    from confluent_kafka import TopicPartition

    from messaging.clients import build_consumer

    probe = build_consumer(group_id)  # never subscribes, so it does not join the group
    try:
        metadata = probe.list_topics(timeout=10).topics
        partitions = [TopicPartition(name, p) for name in topics for p in metadata[name].partitions]
        for committed in probe.committed(partitions, timeout=10):
            _, high = probe.get_watermark_offsets(TopicPartition(committed.topic, committed.partition), timeout=10)
            if high > 0 and committed.offset < high:
                return False
        return True
    finally:
        probe.close()


def wait_for(condition: Callable[[], T], timeout: float = 30.0, interval: float = 0.2, what: str = "") -> T:
    """Poll `condition` until it returns something truthy; fail with `what` after `timeout` seconds."""
    return wait_until(condition, timeout=timeout, interval=interval, what=what or str(condition))
