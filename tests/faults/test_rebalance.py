"""Scenario 6: consumer group rebalance mid-stream — a second SMS worker joins, then the first one is
stopped (SIGTERM). Partitions move twice while messages flow: no message lost, none sent twice, and
the first worker exits cleanly."""

from __future__ import annotations

import time

import pytest

from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS
from tests.faults.scale import SCALE
from tests.faults.system import fault_system
from tests.faults.traffic import Traffic
from tests.faults.verdict import publish_verdict, settle_and_judge, unpublished_outbox

pytestmark = [pytest.mark.faults, pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)]

CHANNEL = Channel.SMS


def test_a_rebalance_mid_stream_loses_nothing_and_sends_nothing_twice(api_key):
    with fault_system("rebalance") as system:
        system.start_api()
        system.start_relay()
        system.start_indexer()
        first = system.start_worker(CHANNEL)
        system.wait_assigned(first)
        traffic = Traffic(system.api_url, api_key, [CHANNEL], SCALE.messages, SCALE.send_seconds).start()

        time.sleep(SCALE.send_seconds / 3)
        second = system.start_worker(CHANNEL)
        system.wait_assigned(second)
        time.sleep(max(0.0, SCALE.send_seconds / 3))
        stopping = time.monotonic()
        code = first.stop()
        stop_seconds = time.monotonic() - stopping
        handed_over = time.time()
        traffic.join()

        verdict, _ = settle_and_judge("consumer-rebalance", traffic.accepted, fault_end=handed_over)
        verdict.notes.append(f"first worker stopped in {stop_seconds:.1f}s with exit code {code}")
    publish_verdict(verdict)

    assert code == 0, first.output()[-3000:]
    assert not traffic.refused, traffic.refused[:5]
    assert unpublished_outbox(traffic.accepted) == 0
    assert verdict.lost == 0, verdict.line()
    assert verdict.duplicated == 0, verdict.line()
    assert not verdict.problems, verdict.line()
