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

from django.conf import settings

PROJECT_DIR = Path(settings.BASE_DIR)
LOG_DIR = PROJECT_DIR / "var" / "test-logs"
# Bound here: inside ManagedProcess the name `signal` is the method below, not the module.
SIGTERM = signal.SIGTERM


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
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signum)

    def stop(self, signum: int = SIGTERM, timeout: float = 30.0) -> int:
        """Send `signum`, wait for exit (SIGKILL after `timeout`); returns the exit code."""
        self.signal(signum)
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


def wait_for(condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.2, what: str = "") -> object:
    """Poll `condition` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
