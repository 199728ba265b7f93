"""Scenario 3: Elasticsearch stopped while traffic flows, then restarted. Afterwards every log event
is in Elasticsearch exactly once: per trace id, the documents match the events the services emitted.

The indexer writes to a private Elasticsearch node, so stopping it disturbs no other test or engineer.
"""

from __future__ import annotations

import time

import pytest
from elasticsearch import Elasticsearch

from engines import elasticsearch as es_engine
from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS
from tests.faults.scale import SCALE
from tests.faults.system import fault_system
from tests.faults.traffic import Traffic
from tests.faults.verdict import judge, publish_verdict, wait_logs_indexed, wait_settled

pytestmark = [pytest.mark.faults, pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)]


def test_log_events_are_indexed_exactly_once_across_an_elasticsearch_outage(api_key, private_elasticsearch):
    layout = private_elasticsearch
    client = Elasticsearch(layout.es_url, request_timeout=30)
    with fault_system("es-outage", elasticsearch=layout.es_url) as system:
        system.start_everything(relay=False)
        indexer = system.indexer
        seconds = SCALE.send_seconds + SCALE.es_outage_seconds
        traffic = Traffic(system.api_url, api_key, list(Channel), SCALE.messages, seconds).start()

        time.sleep(SCALE.send_seconds / 3)
        es_engine.stop(layout)
        stopped = time.time()
        time.sleep(SCALE.es_outage_seconds)
        noticed = "ElasticsearchUnavailable" in indexer.output()
        es_engine.start(layout)
        restarted = time.time()
        verdict_notes = [f"Elasticsearch down {restarted - stopped:.0f}s"]
        traffic.join()

        final, _ = wait_settled(traffic.accepted, timeout=SCALE.settle_seconds)
        verdict = judge("elasticsearch-outage", traffic.accepted, final)
        trace_ids = {message.trace_id for message in traffic.accepted}
        logs = wait_logs_indexed(client, trace_ids, timeout=SCALE.settle_seconds)
        verdict.recover_seconds = time.time() - restarted
        # Here "lost" and "duplicated" count log events, the scenario's subject.
        verdict.lost += logs.missing
        verdict.duplicated += logs.duplicated
        verdict.notes += verdict_notes
        verdict.notes.append(f"log events {logs.events} over {len(trace_ids)} traces, traces off {logs.traces_off}")
    publish_verdict(verdict)

    assert noticed, "the indexer never saw Elasticsearch down: the outage missed the stream"
    assert not traffic.refused, traffic.refused[:5]
    assert logs.events >= 3 * len(traffic.accepted)  # accepted (published with it), received, sent at least
    assert logs.traces_off == 0, logs
    assert verdict.lost == 0, verdict.line()
    assert verdict.duplicated == 0, verdict.line()
