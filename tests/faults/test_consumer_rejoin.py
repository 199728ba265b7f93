"""Consumers that always rejoin (issue 24): a real email worker on a private broker that hangs
(SIGSTOP) past the session timeout, so the group's coordinator drops the worker; once the broker runs
again the worker consumes new records within a bound, by itself or through the rejoin watchdog. And
SIGTERM ends a worker whose broker hangs within 30 s: librdkafka's close waits for a coordinator that
never answers, the runner gives it CLOSE_SECONDS.

FAULTS_REJOIN_TIMEOUT (default 10 s; the broker hangs for 3 session timeouts plus this) is the workers'
CONSUMER_REJOIN_TIMEOUT; 0 runs them without the watchdog, to look for the stuck state it is there for.
"""

from __future__ import annotations

import functools
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from delivery.models import DeliveryStatus
from engines import kafka as kafka_engine
from engines.layout import Layout
from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS, make_envelope, publish_envelopes, wait_for_status, worker
from tests.processes import ManagedProcess, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)]

SESSION_TIMEOUT_MS = 6000  # the broker's minimum: the coordinator drops a silent member soonest
REJOIN_TIMEOUT = os.environ.get("FAULTS_REJOIN_TIMEOUT", "10")
# From SIGCONT to a new record sent: the coordinator's rebalance, the watchdog's timeout and its look
# every 5 s, a rebuilt client's join, with room for a loaded machine.
RESUME_BOUND_SECONDS = 20 + 2 * float(REJOIN_TIMEOUT or 0) + 30


@pytest.fixture(autouse=True)
def patient_broker_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """A private broker on a loaded machine may take longer than the engine's 90 s to answer."""
    monkeypatch.setattr(kafka_engine, "start", functools.partial(kafka_engine.start, timeout=300))


@contextmanager
def email_worker(layout: Layout) -> Iterator[ManagedProcess]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": layout.kafka_bootstrap,
        "KAFKA_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
        "CONSUMER_REJOIN_TIMEOUT": REJOIN_TIMEOUT,
        "LOG_LEVEL": "INFO",
    }
    with worker(Channel.EMAIL, **env) as process:
        wait_for(lambda: "assigned ['" in process.output(), timeout=60, what="the worker's partitions")
        yield process


@contextmanager
def broker_hung(layout: Layout) -> Iterator[None]:
    """SIGSTOP the private broker for the block; SIGCONT whatever happens."""
    pid = kafka_engine.pid(layout)
    assert pid, "the private broker runs"
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def send_one_and_wait(timeout: float) -> float:
    envelope = make_envelope(Channel.EMAIL)
    started = time.monotonic()
    publish_envelopes([envelope])
    wait_for_status(Channel.EMAIL, [envelope.id], DeliveryStatus.SENT, timeout=timeout)
    return time.monotonic() - started


def test_a_worker_consumes_again_after_its_broker_hung_past_the_session_timeout(private_kafka):
    with email_worker(private_kafka) as process:
        send_one_and_wait(timeout=60)
        with broker_hung(private_kafka):
            # Long enough that the coordinator, once it runs again, finds the member's session expired
            # (its clock kept going), and that the worker's requests time out meanwhile.
            time.sleep(3 * SESSION_TIMEOUT_MS / 1000 + float(REJOIN_TIMEOUT or 0))
        resumed_in = send_one_and_wait(timeout=RESUME_BOUND_SECONDS)
        log = process.output()
        rebuilt = "building a new one" in log
        assert process.stop() == 0, log[-3000:]
    print(f"\nrejoin: a new record sent {resumed_in:.0f}s after SIGCONT; watchdog rebuilt the consumer: {rebuilt}")


def test_sigterm_ends_a_worker_whose_broker_hangs_within_30s(private_kafka):
    with email_worker(private_kafka) as process:
        send_one_and_wait(timeout=60)
        with broker_hung(private_kafka):
            time.sleep(2)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            try:
                process.popen.wait(timeout=45)
            finally:
                took = time.monotonic() - started
        log = process.output()
        assert process.popen.returncode == 0, log[-3000:]
        assert took < 30, f"SIGTERM took {took:.0f}s\n{log[-3000:]}"
    print(f"\nSIGTERM with the broker hung: exited in {took:.1f}s")
