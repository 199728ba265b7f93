"""Failover between two real SMTP servers (aiosmtpd processes, tests/peers/smtp_sink.py): the email
worker runs with `EMAIL_URL="smtp://primary smtp://backup"` while emails flow; the primary is
SIGKILLed mid-blast, then restarted on the same port. Counted at the servers, per Message-ID.

- the backup takes over within 15 s of the kill; nothing is lost (every message at one server, its
  record `sent` naming that server); emails that arrive twice are at most the sends in flight;
- the primary restarted, traffic is back on it within 60 s, and stays there;
- the breakers' switches (Prometheus) are: primary closed → open once, → half-open and back to open
  while it is down, half-open → closed once; the backup's never opens (no flapping).
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections import Counter

import pytest
from prometheus_client.parser import text_string_to_metric_families

from delivery.models import DeliveryStatus
from delivery.registry import get_channel
from engines.process import free_port
from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS, make_envelope, publish_envelopes
from tests.faults.system import fault_system
from tests.faults.traffic import Accepted
from tests.faults.verdict import judge, publish_verdict, wait_settled
from tests.peers.smtp import SmtpSink
from tests.processes import wait_for

pytestmark = [pytest.mark.faults, pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)]

EMAIL = Channel.EMAIL
MAX_IN_FLIGHT = 8
# Emails published per second, for as long as the scenario runs.
RATE, TICK = 40, 0.25


class Blast:
    """Publishes emails at a steady rate on its own thread until stopped."""

    def __init__(self) -> None:
        self.accepted: list[Accepted] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="blast", daemon=True)

    def __enter__(self) -> Blast:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            envelopes = [make_envelope(EMAIL) for _ in range(int(RATE * TICK))]
            publish_envelopes(envelopes)
            now = time.time()
            self.accepted += [Accepted(str(e.id), e.trace_id, EMAIL, now) for e in envelopes]
            self._stop.wait(TICK)


def switches(metrics_url: str) -> Counter[tuple[str, str, str]]:
    """(provider, from, to) → transitions, from the worker's /metrics."""
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        text = response.read().decode()
    counts: Counter[tuple[str, str, str]] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name == "comms_provider_breaker_switches":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    labels = sample.labels
                    counts[(labels["provider"], labels["from"], labels["to"])] = int(sample.value)
    return counts


def test_primary_smtp_server_killed_mid_blast_then_restarted(tmp_path):
    primary = SmtpSink(tmp_path, delay_ms="20")
    backup = SmtpSink(tmp_path, delay_ms="20")
    first, second = f"smtp://127.0.0.1:{primary.port}", f"smtp://127.0.0.1:{backup.port}"
    metrics_port = free_port()
    notes: list[str] = []
    try:
        with fault_system("smtp-failover") as system:
            system.env.update(
                {
                    "EMAIL_URL": f"{first} {second}",
                    "EMAIL_MAX_IN_FLIGHT": str(MAX_IN_FLIGHT),
                    "EMAIL_BATCH_SIZE": "40",
                    "EMAIL_RETRY_DELAYS": "1s,2s,4s",
                    "EMAIL_BREAKER_FAILURES": "5",
                    "EMAIL_BREAKER_COOLDOWN": "2s",
                    "EMAIL_BREAKER_MAX_COOLDOWN": "16s",
                    "METRICS_PORT": str(metrics_port),
                }
            )
            worker = system.start_worker(EMAIL)
            system.wait_assigned(worker)
            with Blast() as blast:
                wait_for(lambda: sum(primary.arrivals().values()) >= 100, timeout=60, what="100 emails at the primary")
                assert sum(backup.arrivals().values()) == 0, "the backup got emails while the primary was up"

                primary.kill()
                killed_at = time.monotonic()
                at_kill = sum(primary.arrivals().values())
                wait_for(lambda: sum(backup.arrivals().values()) > 0, timeout=15, what="the backup taking over")
                notes.append(f"backup took over {time.monotonic() - killed_at:.1f}s after the kill")

                time.sleep(10)  # the primary stays down: probes fail, the cooldown doubles
                primary.restart()
                restarted_at = time.monotonic()
                wait_for(
                    lambda: sum(primary.arrivals().values()) > at_kill, timeout=60, what="traffic back on the primary"
                )
                notes.append(f"traffic back on the primary {time.monotonic() - restarted_at:.1f}s after its restart")
                # It stays there: the backup gets nothing more once the primary is back.
                time.sleep(1)
                at_backup = sum(backup.arrivals().values())
                time.sleep(5)
                assert sum(backup.arrivals().values()) == at_backup, "traffic went back to the backup"
            transitions = switches(f"http://127.0.0.1:{metrics_port}/metrics")
            accepted = blast.accepted
            final, _settled = wait_settled(accepted, final=(DeliveryStatus.SENT, DeliveryStatus.FAILED), timeout=120)
    finally:
        primary.stop()
        backup.stop()

    ids = [message.id for message in accepted]
    at_primary, at_backup_counts = primary.arrivals(), backup.arrivals()
    sends = Counter({message_id: at_primary[message_id] + at_backup_counts[message_id] for message_id in ids})
    verdict = judge("smtp-failover", accepted, final, sends=sends)
    notes.append(f"emails at the primary {sum(at_primary.values())}, at the backup {sum(at_backup_counts.values())}")
    notes.append(f"breaker switches {dict(transitions)}")
    verdict.notes += notes
    publish_verdict(verdict)

    assert verdict.lost == 0, verdict.line()
    assert set(final.values()) == {DeliveryStatus.SENT}, Counter(final.values())
    assert verdict.duplicated <= MAX_IN_FLIGHT, verdict.line()
    # Each record names the server that took it.
    spec = get_channel(EMAIL)
    rows = spec.record_model.objects.using(spec.database).filter(message_id__in=ids)
    provider_of = {str(message_id): provider for message_id, provider in rows.values_list("message_id", "provider")}
    # A message at both servers (a double) may name either.
    wrong = [
        i
        for i in ids
        if provider_of[i] not in ({first} if at_primary[i] else set()) | ({second} if at_backup_counts[i] else set())
    ]
    assert not wrong, f"{len(wrong)} records name another server than the one that got them"
    # No flapping: the primary opened once and closed once; the backup never opened.
    assert transitions[(first, "closed", "open")] == 1, verdict.line()
    assert transitions[(first, "half-open", "closed")] == 1, verdict.line()
    assert transitions[(first, "half-open", "open")] >= 1, verdict.line()  # probes while it was down
    assert transitions[(second, "closed", "open")] == 0, verdict.line()
