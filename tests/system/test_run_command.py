"""The README's run command, as a newcomer uses it: start it, paste the curl it prints, watch the
message reach `sent`, press Ctrl-C — then everything, engines included, is gone; a second run
starts cleanly on the same data.

The system gets engines, ports, databases and an API key file of its own, so it never touches the
engines the rest of the test session uses.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from django.conf import settings

from engines.layout import load_layout, running_as_root
from engines.process import free_ports, is_alive, port_open, read_pid
from tests.processes import wait_for

pytestmark = pytest.mark.system


@dataclass(frozen=True)
class Isolated:
    env: dict[str, str]
    api: str
    kafka_port: int
    es_port: int
    es_pid_file: Path
    log: Path


@pytest.fixture(scope="module")
def isolated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Isolated]:
    home = tmp_path_factory.mktemp("system")
    if running_as_root():  # Elasticsearch's user must reach its directory: not under /tmp/pytest-of-root
        es_dir = load_layout().es_runtime_dir.parent / f"system-{home.name}-{os.getpid()}"
    else:
        es_dir = home / "elasticsearch"
    names = ("kafka", "controller", "es", "transport", "api")
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMS_", "KAFKA_", "ELASTICSEARCH_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "ENGINES_KAFKA_PORT": str(ports["kafka"]),
            "ENGINES_KAFKA_CONTROLLER_PORT": str(ports["controller"]),
            "ENGINES_ES_PORT": str(ports["es"]),
            "ENGINES_ES_TRANSPORT_PORT": str(ports["transport"]),
            "ENGINES_VAR_DIR": str(home / "engines"),
            "ENGINES_ES_DIR": str(es_dir),
            "ENGINES_KAFKA_HEAP": "384m",
            "ENGINES_ES_HEAP": "384m",
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{ports['kafka']}",
            "ELASTICSEARCH_URL": f"http://127.0.0.1:{ports['es']}",
            "API_PORT": str(ports["api"]),
            "DEV_API_KEY_FILE": str(home / "dev-api-key"),
            **{
                f"{alias}_DATABASE_URL": f"sqlite:///{home / alias.lower()}.sqlite3"
                for alias in ("ROUTER", "EMAIL", "SMS", "WHATSAPP")
            },
        }
    )
    yield Isolated(
        env=env,
        api=f"http://127.0.0.1:{ports['api']}",
        kafka_port=ports["kafka"],
        es_port=ports["es"],
        es_pid_file=es_dir / "elasticsearch.pid",
        log=home / "run.log",
    )
    subprocess.run(["rm", "-rf", str(es_dir)], check=False)


class RunningSystem:
    def __init__(self, isolated: Isolated) -> None:
        self.isolated = isolated
        self._log = isolated.log.open("ab")
        self.process = subprocess.Popen(
            [str(Path(settings.BASE_DIR) / "bin" / "run")],
            cwd=settings.BASE_DIR,
            env=isolated.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal would give it
        )

    def output(self) -> str:
        return self.isolated.log.read_text(errors="replace")

    def ctrl_c(self, timeout: float = 90.0) -> None:
        """What a terminal does on Ctrl-C: SIGINT to the whole foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
            self._log.close()


def printed_curl(output: str) -> str:
    match = re.search(r"Send a message.*?\n((?:\s+.*\\\n)+\s+.*)\n", output)
    assert match, output[-3000:]
    return " ".join(line.strip().rstrip("\\") for line in match.group(1).splitlines())


def printed_key(output: str) -> str:
    return re.findall(r"Development API key .*:\n\s+(\S+)", output)[-1]


def api_get(isolated: Isolated, path: str, key: str) -> dict:
    request = urllib.request.Request(isolated.api + path, headers={"Authorization": f"Api-Key {key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return orjson.loads(response.read())


def api_up(isolated: Isolated) -> bool:
    try:
        with urllib.request.urlopen(isolated.api + "/readyz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def assert_everything_gone(system: RunningSystem) -> None:
    with pytest.raises(ProcessLookupError):
        os.killpg(system.process.pid, 0)  # no process of the group is left
    isolated = system.isolated
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (port_open(isolated.kafka_port) or port_open(isolated.es_port)):
        time.sleep(0.5)
    assert not port_open(isolated.kafka_port), "Kafka still listening"
    assert not port_open(isolated.es_port), "Elasticsearch still listening"
    assert not is_alive(read_pid(isolated.es_pid_file))


def test_the_printed_curl_sends_a_message_that_reaches_sent_and_ctrl_c_stops_everything(isolated):
    system = RunningSystem(isolated)
    try:
        wait_for(lambda: "Send a message" in system.output(), timeout=240, interval=1, what="the welcome banner")
        wait_for(lambda: api_up(isolated), timeout=60, interval=0.5, what="the API")
        key = printed_key(system.output())

        answer = subprocess.run(["bash", "-c", printed_curl(system.output())], capture_output=True, text=True)
        assert " 202 " in answer.stdout.splitlines()[0], answer.stdout
        message_id = orjson.loads(answer.stdout.split("\n\n", 1)[1])["id"]

        def sent() -> dict | None:
            try:
                body = api_get(isolated, f"/api/v1/messages/{message_id}", key)
            except urllib.error.HTTPError as error:
                if error.code == 503:  # the first log index is still being created: ask again
                    return None
                raise
            indexed = {event["action"] for event in body["events"]}
            return body if body["status"] == "sent" and "delivery.sent" in indexed else None

        body = wait_for(sent, timeout=60, interval=0.5, what="the message to be sent")
        actions = [event["action"] for event in body["events"]]
        assert {"message.accepted", "delivery.received", "delivery.sent"} <= set(actions), actions
    finally:
        system.ctrl_c()
    assert_everything_gone(system)

    # A second run starts cleanly on the same data: same key, the message is still there.
    second = RunningSystem(isolated)
    try:
        wait_for(lambda: api_up(isolated), timeout=240, interval=1, what="the API on the second run")
        assert "kept from an earlier run" in second.output()
        assert printed_key(second.output()) == key
        assert api_get(isolated, f"/api/v1/messages/{message_id}", key)["id"] == message_id
    finally:
        second.ctrl_c()
    assert_everything_gone(second)
