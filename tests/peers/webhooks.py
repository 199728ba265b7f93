"""The webhook receiver (tests/peers/webhook_receiver.py) as a test starts and reads it."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.peers import written_lines
from tests.processes import ManagedProcess, process_env, wait_for


class WebhookReceiver:
    """A real receiver process (tests/peers/webhook_receiver.py) that verifies each signature with the
    Standard Webhooks library and records every request it got. `fail_first` requests are answered
    `fail_status` (with `retry_after` as `Retry-After`); ALWAYS fails every one."""

    ALWAYS = 1_000_000_000

    def __init__(
        self,
        folder: Path,
        port: int,
        secret: str,
        *,
        fail_first: int = 0,
        fail_status: int = 500,
        retry_after: str | None = None,
    ) -> None:
        self.port = port
        self.out = folder / f"hooks-{self.port}.jsonl"
        self.out.touch()
        argv = [sys.executable, "-m", "tests.peers.webhook_receiver", "--port", str(self.port)]
        argv += ["--secret", secret, "--out", str(self.out), "--fail-first", str(fail_first)]
        argv += ["--fail-status", str(fail_status), *(["--retry-after", retry_after] if retry_after else [])]
        self.process = ManagedProcess(f"webhook-receiver-{self.port}", argv, process_env())
        wait_for(lambda: "listening" in self.process.output(), timeout=30, what="the webhook receiver")

    def requests(self) -> list[dict]:
        return written_lines(self.out)
