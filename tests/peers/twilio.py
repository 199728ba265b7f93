"""The local Twilio server (tests/peers/fake_twilio.py) as a test starts and reads it: its own process,
the sends it received and the status callbacks it posted, from its JSON-lines record."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

from engines.process import free_port
from tests.processes import ManagedProcess, process_env, wait_for

ACCOUNT, TOKEN = "AC" + "0123456789abcdef" * 2, "test-auth-token"


class FakeTwilioServer:
    def __init__(
        self, folder: Path, *, fail_first: int = 0, receipts_first: bool = False, answer_delay: float = 0.0
    ) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.out = folder / "twilio-calls.jsonl"
        self.out.touch()
        argv = [sys.executable, "-m", "tests.peers.fake_twilio", "--port", str(port), "--account", ACCOUNT]
        argv += ["--token", TOKEN, "--out", str(self.out), "--fail-first", str(fail_first)]
        argv += ["--receipts-first"] if receipts_first else []
        argv += ["--answer-delay", str(answer_delay)]
        self.process = ManagedProcess(f"fake-twilio-{port}", argv, process_env())
        wait_for(self._answers, timeout=30, what="the fake Twilio server")

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(urllib.request.Request(self.url + "/", data=b"", method="POST"), timeout=2)
        except urllib.error.HTTPError:
            return True  # 404: it answers
        except OSError:
            return False
        return True

    def _lines(self) -> list[dict]:
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]

    def calls(self, to: str) -> list[dict]:
        """The sends it received for `to` (form fields but the callback URL)."""
        forms = [line["form"] for line in self._lines() if "form" in line and line["form"].get("To") == to]
        return [{k: v for k, v in form.items() if k != "StatusCallback"} for form in forms]

    def callbacks(self) -> list[dict]:
        return [line for line in self._lines() if "callback" in line]
