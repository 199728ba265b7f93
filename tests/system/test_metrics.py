"""Every process's metrics, scraped by a real Prometheus (Debian's `prometheus`, which bin/test
installs as root): the API's `/metrics` (gunicorn's two workers together, behind METRICS_TOKEN: scraped
with `authorization` as docs/operations.md shows), a channel worker's and the relay's METRICS_PORT; then
Prometheus is asked what it holds."""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path

import orjson
import pytest

from engines.process import free_port, free_ports
from messaging.channels import Channel
from tests.debian import debian_command
from tests.delivery.support import CHANNEL_DBS
from tests.faults.system import FaultSystem
from tests.faults.traffic import Traffic
from tests.processes import ManagedProcess, process_env, wait_for
from tests.router.factories import ApiKeyFactory

pytestmark = [
    pytest.mark.usefixtures("prometheus_binary"),
    pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True),
]


METRICS_TOKEN = "scrape-" + "t0ken" * 8


def start_prometheus(
    tmp_path: Path, targets: dict[str, str], tokens: dict[str, str] | None = None
) -> tuple[ManagedProcess, str]:
    """Prometheus scraping each job's target every second; a job in `tokens` with that bearer token."""
    port = free_port()
    tokens = tokens or {}
    scrape = "\n".join(
        f"  - job_name: {job}\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{target}']"
        + (f"\n    authorization:\n      credentials: '{tokens[job]}'" if job in tokens else "")
        for job, target in targets.items()
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(f"global:\n  scrape_interval: 1s\nscrape_configs:\n{scrape}\n")
    argv = [
        debian_command("prometheus", package="prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    return ManagedProcess(f"prometheus-{port}", argv, process_env()), f"http://127.0.0.1:{port}"


def query(prometheus: str, expression: str) -> float | None:
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            result = orjson.loads(response.read())["data"]["result"]
    except OSError:
        return None
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_every_process(tmp_path):
    key = ApiKeyFactory().raw_key
    system = FaultSystem(name="metrics")
    worker_port, relay_port = free_ports(2)
    try:
        system.start_api(METRICS_TOKEN=METRICS_TOKEN)
        system.start_worker(Channel.SMS, METRICS_PORT=str(worker_port))
        system._manage_py("relay", "relay_outbox", METRICS_PORT=str(relay_port))
        system.wait_assigned(system.workers[Channel.SMS][-1])
        api_target = system.api_url.removeprefix("http://")
        prometheus, url = start_prometheus(
            tmp_path,
            {
                "api": api_target,
                "api_no_token": api_target,
                "sms": f"127.0.0.1:{worker_port}",
                "relay": f"127.0.0.1:{relay_port}",
            },
            tokens={"api": METRICS_TOKEN},
        )
        try:
            traffic = Traffic(system.api_url, key, [Channel.SMS], 30, 2).start().join()
            assert len(traffic.accepted) == 30, traffic.refused[:3]
            expected = {
                'sum(comms_messages_accepted_total{channel="sms"})': lambda value: value == 30,
                'sum(comms_deliveries_total{channel="sms",outcome="sent"})': lambda value: value >= 30,
                'sum(comms_api_requests_total{method="POST",status="202"})': lambda value: value >= 30,
                'count(comms_provider_call_seconds_bucket{channel="sms"})': lambda value: value > 0,
                'max(comms_consumer_lag{group=~".*sms_service"})': lambda value: value >= 0,
                'comms_outbox_entries{state="pending"}': lambda value: value == 0,
                'comms_dlq_records{channel="sms"}': lambda value: value >= 0,
                'count(up{job=~"api|sms|relay"} == 1)': lambda value: value == 3,
                'up{job="api_no_token"}': lambda value: value == 0,  # 401 without the token
            }

            def missing() -> list[str]:
                return [name for name, ok in expected.items() if (value := query(url, name)) is None or not ok(value)]

            # Each target is scraped once a second, from when Prometheus first gets to it.
            wait_for(lambda: not missing(), timeout=60, what="Prometheus to hold every process's figures")
        finally:
            prometheus.stop()
    finally:
        problems = system.close()
    assert not problems, problems
