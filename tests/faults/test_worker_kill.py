"""Scenario 1: channel workers SIGKILLed mid-stream several times, restarted each time. Every message
ends `sent`, none missing, and the provider's idempotency key (the message id) keeps double sends at 0."""

from __future__ import annotations

import random
import time

import pytest

from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS
from tests.faults.scale import SCALE
from tests.faults.system import fault_system
from tests.faults.traffic import Traffic
from tests.faults.verdict import publish_verdict, settle_and_judge, unpublished_outbox

pytestmark = [pytest.mark.faults, pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)]


def test_killed_workers_lose_nothing_and_send_nothing_twice(api_key):
    rng = random.Random()
    with fault_system("sigkill") as system:
        for channel in Channel:
            # Slower sends keep several messages in flight, so that the kills hit some of them.
            system.env[f"{channel.value.upper()}_SIMULATOR_LATENCY_MS"] = "150"
        system.start_everything()
        traffic = Traffic(system.api_url, api_key, list(Channel), SCALE.messages, SCALE.send_seconds).start()
        # Kill moments spread over the stream, at random within each slice.
        slice_seconds = SCALE.send_seconds / SCALE.worker_kills
        started = time.monotonic()
        killed: list[str] = []
        for n in range(SCALE.worker_kills):
            time.sleep(max(0.0, started + slice_seconds * (n + rng.uniform(0.2, 0.9)) - time.monotonic()))
            channel = rng.choice(list(Channel))
            system.kill(system.workers[channel][-1])
            killed.append(f"{channel.value}@{time.monotonic() - started:.1f}s")
            system.start_worker(channel)
        last_restart = time.time()
        traffic.join()

        verdict, logs = settle_and_judge("worker-sigkill", traffic.accepted, fault_end=last_restart)
        verdict.notes.append(f"kills: {', '.join(killed)}")
        redone = logs.with_action("delivery.received", count=2)
        # A kill between writing `sent` and flushing the `delivery.sent` event loses that event; the
        # redelivery's skip event then reports the status (check_logs compares every timeline).
        no_sent_event = len(traffic.accepted) - logs.with_action("delivery.sent")
        verdict.notes.append(f"{redone} redelivered after a kill, {no_sent_event} without a delivery.sent event")
    publish_verdict(verdict)

    assert not traffic.refused, traffic.refused[:5]
    assert len(traffic.accepted) == SCALE.messages
    assert unpublished_outbox(traffic.accepted) == 0
    assert verdict.lost == 0, verdict.line()
    assert verdict.duplicated == 0, verdict.line()
    assert not verdict.problems, verdict.line()
