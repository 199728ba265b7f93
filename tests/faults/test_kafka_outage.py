"""Scenario 2: the Kafka broker stopped mid-stream, then restarted. The API keeps answering 202 (the
outbox holds what it could not publish) and every message accepted before, during and after is sent.

Runs the whole system on a private broker, so stopping it disturbs no other test or engineer.
"""

from __future__ import annotations

import time

import pytest

from engines import kafka as kafka_engine
from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS
from tests.faults.scale import SCALE
from tests.faults.system import fault_system
from tests.faults.traffic import Traffic
from tests.faults.verdict import publish_verdict, settle_and_judge, unpublished_outbox

pytestmark = [pytest.mark.faults, pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)]


def test_a_broker_outage_loses_no_accepted_message(api_key, private_kafka):
    layout = private_kafka
    with fault_system("kafka-outage", kafka=layout.kafka_bootstrap) as system:
        # The API never waits for Kafka; during the outage its producer gives each record up after
        # this long and leaves the entry to the relay.
        system.start_everything(ROUTER_PUBLISH_TIMEOUT_SECONDS="0.5")
        seconds = SCALE.send_seconds + SCALE.kafka_outage_seconds
        traffic = Traffic(system.api_url, api_key, list(Channel), SCALE.messages, seconds).start()

        time.sleep(SCALE.send_seconds / 3)
        before = traffic.done
        kafka_engine.stop(layout)
        stopped = time.time()
        time.sleep(SCALE.kafka_outage_seconds)
        kafka_engine.start(layout)
        restarted = time.time()
        during = traffic.done - before
        traffic.join()

        verdict, _ = settle_and_judge("kafka-outage", traffic.accepted, fault_end=restarted)
        verdict.notes.append(f"Kafka down {restarted - stopped:.0f}s: {before} answered before, {during} during it")
    publish_verdict(verdict)

    assert not traffic.refused, traffic.refused[:5]
    assert during > 0, "no request was answered during the outage"
    assert len(traffic.accepted) == SCALE.messages
    assert unpublished_outbox(traffic.accepted) == 0
    assert verdict.lost == 0, verdict.line()
    assert verdict.duplicated == 0, verdict.line()
    assert not verdict.problems, verdict.line()
