"""The local Twilio server (tests/peers/fake_twilio.py) as a test starts and reads it: its own process,
the sends it received, accepted or refused for the rate, and the status callbacks it posted, from its
JSON-lines record. It can be SIGKILLed (`kill()`) and started again on the same port (`restart()`),
its record kept."""

from __future__ import annotations

import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path

from engines.process import free_port
from tests.peers import written_lines
from tests.peers.restart import start_on_port
from tests.processes import ManagedProcess

ACCOUNT, TOKEN = "AC" + "0123456789abcdef" * 2, "test-auth-token"


class FakeTwilioServer:
    """With `rate_limit` ("1/s", "100/s": segments), sends above it get HTTP 429, Twilio's error 20429
    and a Retry-After, and are counted (`refusals()`), never accepted."""

    def __init__(
        self,
        folder: Path,
        *,
        fail_first: int = 0,
        receipts_first: bool = False,
        answer_delay: float = 0.0,
        rate_limit: str | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out = folder / f"twilio-{self.port}-calls.jsonl"
        self.out.touch()
        argv = [sys.executable, "-m", "tests.peers.fake_twilio", "--port", str(self.port), "--account", ACCOUNT]
        argv += ["--token", TOKEN, "--out", str(self.out), "--fail-first", str(fail_first)]
        argv += ["--receipts-first"] if receipts_first else []
        argv += ["--answer-delay", str(answer_delay)]
        argv += ["--rate-limit", rate_limit] if rate_limit else []
        self._argv = argv
        self.process: ManagedProcess = start_on_port(self._name, argv, self._answers, "the fake Twilio server")

    @property
    def _name(self) -> str:
        return f"fake-twilio-{self.port}"

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(urllib.request.Request(self.url + "/", data=b"", method="POST"), timeout=2)
        except urllib.error.HTTPError:
            return True  # 404: it answers
        except OSError:
            return False
        return True

    def _lines(self) -> list[dict]:
        return written_lines(self.out)

    def calls(self, to: str) -> list[dict]:
        """The sends it received for `to` (form fields but the callback URL), whatever it answered."""
        forms = [line["form"] for line in self._lines() if "form" in line and line["form"].get("To") == to]
        return [{k: v for k, v in form.items() if k != "StatusCallback"} for form in forms]

    def accepted(self) -> list[dict]:
        """The sends it took (201): sid, to, body, segments."""
        return [line["accepted"] for line in self._lines() if "accepted" in line]

    def refusals(self) -> list[dict]:
        """The sends it refused for the rate (429, 20429): to, body, segments."""
        return [line["throttled"] for line in self._lines() if "throttled" in line]

    def callbacks(self) -> list[dict]:
        return [line for line in self._lines() if "callback" in line]

    def kill(self) -> None:
        """SIGKILL the server, as a crash would: requests in progress get no answer."""
        self.process.stop(signal.SIGKILL)

    def restart(self) -> None:
        """Start the server again on the same port with the same options (a running one is stopped
        first); its rate bucket starts full, its record goes on. Returns once it answers."""
        if self.process.popen.poll() is None:
            self.process.stop()
        self.process = start_on_port(self._name, self._argv, self._answers, "the fake Twilio server")

    def stop(self) -> None:
        self.process.stop()
