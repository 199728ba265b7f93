"""Starting a peer process on a port it must have (its first start, or a restart after a kill)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from tests.processes import ManagedProcess, process_env

START_TIMEOUT = 30.0


def start_on_port(name: str, argv: Sequence[str], answers: Callable[[], bool], what: str) -> ManagedProcess:
    """Start `argv` and wait until `answers()`. A process that exits first (most often: its port was
    taken for a moment, e.g. as another program's outgoing port while the peer was down) is started
    again until START_TIMEOUT; then the error names the peer and shows its last output."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        process = ManagedProcess(name, argv, process_env())
        while process.popen.poll() is None and time.monotonic() < deadline:
            if answers():
                return process
            time.sleep(0.1)
        exited = process.popen.poll() is not None
        process.stop()
        if not exited or time.monotonic() >= deadline:
            raise TimeoutError(f"{what} did not answer within {START_TIMEOUT:g}s:\n{process.output()[-2000:]}")
        time.sleep(0.2)
