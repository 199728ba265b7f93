"""Scenario 1: channel workers SIGKILLed mid-stream several times, restarted each time. Every message
ends `sent`, none missing. The simulated provider deduplicates nothing (like SMTP or Twilio), so with
ON_UNKNOWN_OUTCOME=resend a message whose send was in flight at a kill may go out twice: at most the
sends in flight at the kills do, and the summary line says how many. (tests/faults/test_smtp_worker_stops.py
shows `hold`, and the same against a real SMTP server.)"""

from __future__ import annotations

import random
import time

import pytest

from delivery.models import DeliveryStatus
from delivery.registry import get_channel
from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS
from tests.faults.scale import SCALE
from tests.faults.system import fault_system
from tests.faults.traffic import Traffic
from tests.faults.verdict import publish_verdict, settle_and_judge, unpublished_outbox

pytestmark = [pytest.mark.faults, pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)]


def in_flight(channel: Channel) -> set[str]:
    """Messages whose attempt a worker claimed and has not finished (the killed one's sends in flight)."""
    spec = get_channel(channel)
    rows = spec.record_model.objects.using(spec.database).filter(status=DeliveryStatus.SENDING)
    return {str(message_id) for message_id in rows.values_list("message_id", flat=True)}


def test_killed_workers_lose_nothing_and_resend_at_most_what_was_in_flight(api_key):
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
        claimed_at_kills: set[str] = set()
        for n in range(SCALE.worker_kills):
            time.sleep(max(0.0, started + slice_seconds * (n + rng.uniform(0.2, 0.9)) - time.monotonic()))
            channel = rng.choice(list(Channel))
            system.kill(system.workers[channel][-1])
            claimed = in_flight(channel)
            claimed_at_kills |= claimed
            killed.append(f"{channel.value}@{time.monotonic() - started:.1f}s with {len(claimed)} in flight")
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
    assert verdict.duplicated <= len(claimed_at_kills), verdict.line()
    assert not verdict.problems, verdict.line()
