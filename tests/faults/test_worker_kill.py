"""Scenario 1: channel workers SIGKILLed mid-stream several times, restarted each time. Every message
ends `sent`, none missing, and the provider's idempotency key (the message id) keeps double sends at 0."""

from __future__ import annotations

import random
import time

import pytest
from django.conf import settings
from elasticsearch import Elasticsearch

from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS
from tests.faults.scale import SCALE
from tests.faults.system import fault_system
from tests.faults.traffic import Traffic
from tests.faults.verdict import judge, publish_verdict, unpublished_outbox, wait_logs_indexed, wait_settled

pytestmark = [pytest.mark.faults, pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)]


def test_killed_workers_lose_nothing_and_send_nothing_twice(api_key):
    rng = random.Random()
    with fault_system("sigkill") as system:
        system.start_api()
        system.start_relay()
        system.start_indexer()
        system.start_workers()
        for channel in Channel:
            system.wait_assigned(system.workers[channel][-1])
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

        final, settled_at = wait_settled(traffic.accepted, timeout=SCALE.settle_seconds)
        verdict = judge("worker-sigkill", traffic.accepted, final)
        verdict.recover_seconds = None if settled_at is None else max(0.0, settled_at - last_restart)
        verdict.notes.append(f"kills: {', '.join(killed)}")
        logs = wait_logs_indexed(
            Elasticsearch(settings.ELASTICSEARCH_URL), {m.trace_id for m in traffic.accepted}, timeout=60
        )
        verdict.notes.append(f"log events {logs.events}, missing in ES {logs.missing}, twice {logs.duplicated}")
    publish_verdict(verdict)

    assert not traffic.refused, traffic.refused[:5]
    assert len(traffic.accepted) == SCALE.messages
    assert unpublished_outbox(traffic.accepted) == 0
    assert verdict.lost == 0, verdict.line()
    assert verdict.duplicated == 0, verdict.line()
    assert logs.missing == 0 and logs.duplicated == 0, logs
