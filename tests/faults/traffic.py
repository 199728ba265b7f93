"""Client traffic through the real HTTP API: messages paced over a duration, so faults land mid-stream."""

from __future__ import annotations

import itertools
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import orjson

from messaging.channels import Channel

RECIPIENTS = {Channel.EMAIL: "ada@example.com", Channel.SMS: "+14155552671", Channel.WHATSAPP: "+447911123456"}


@dataclass(frozen=True)
class Accepted:
    id: str
    trace_id: str
    channel: Channel
    accepted_at: float  # time.time() when the 202 arrived


def request_body(channel: Channel, n: int) -> dict[str, object]:
    body: dict[str, object] = {"channel": channel.value, "to": RECIPIENTS[channel], "body": f"fault test {n}"}
    if channel == Channel.EMAIL:
        body["subject"] = f"Fault test {n}"
    return body


@dataclass
class Traffic:
    """Sends `count` messages round-robin over `channels`, spread evenly over `seconds`."""

    api_url: str
    api_key: str
    channels: Sequence[Channel]
    count: int
    seconds: float
    concurrency: int = 6
    accepted: list[Accepted] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # any answer but 202: the API promise broken
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def start(self) -> Traffic:
        self._thread = threading.Thread(target=self._run, name="faults-traffic", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float = 600) -> Traffic:
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "traffic did not finish"
        return self

    @property
    def done(self) -> int:
        with self._lock:
            return len(self.accepted) + len(self.refused)

    def _run(self) -> None:
        started = time.monotonic()
        interval = self.seconds / max(self.count, 1)
        channels = itertools.cycle(self.channels)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="faults-client") as pool:
            for n in range(self.count):
                delay = started + n * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self._post, next(channels), n)

    def _post(self, channel: Channel, n: int) -> None:
        request = urllib.request.Request(
            self.api_url + "/api/v1/messages",
            data=orjson.dumps(request_body(channel, n)),
            headers={"Authorization": f"Api-Key {self.api_key}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        except OSError as error:
            status, payload = 0, str(error).encode()
        with self._lock:
            if status == 202:
                body = orjson.loads(payload)
                self.accepted.append(Accepted(body["id"], body["traceId"], channel, time.time()))
            else:
                self.refused.append(f"{status}: {payload[:200]!r}")
