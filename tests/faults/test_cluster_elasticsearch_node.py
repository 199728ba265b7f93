"""An Elasticsearch node lost while logs flow, on a private two-node cluster (ENGINES_ES_NODES=2): the
log indices have one replica there (the template's auto_expand_replicas), so SIGKILLing the node that
is not the master loses no event (counted per trace id against what the services emitted to Kafka),
and the timeline API keeps answering throughout.

On demand only: `pytest -m cluster tests/faults/test_cluster_elasticsearch_node.py`.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import override_settings
from elasticsearch import Elasticsearch

from engines import elasticsearch as es_engine
from engines import manager
from engines.layout import Layout, load_layout
from engines.polling import wait_until
from messaging.channels import Channel
from tests.delivery.support import CHANNEL_DBS
from tests.engines.cluster import CLUSTER_ON_DEMAND
from tests.faults.system import fault_system
from tests.faults.traffic import Traffic
from tests.faults.verdict import publish_verdict, settle_and_judge

# Not in a default run (bin/test, CI): minutes each. A mark, not a fixture, so that no module-scoped
# cluster is started for a test that is then skipped; `pytest -m cluster` runs them.
pytestmark = [*CLUSTER_ON_DEMAND, pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)]


@pytest.fixture
def two_es_nodes() -> Iterator[Layout]:
    base = load_layout()
    runtime = base.es_runtime_dir.parent / f"es-cluster-{uuid.uuid4().hex[:8]}"
    layout = manager.start_private(es_engine, lambda: base.with_own_elasticsearch(runtime, "384m", nodes=2))
    try:
        with override_settings(ELASTICSEARCH_URL=layout.es_url):
            yield layout
    finally:
        es_engine.stop(layout)
        shutil.rmtree(runtime, ignore_errors=True)


def timelines(api_url: str, api_key: str, traffic: Traffic, stop: threading.Event, answers: Counter[str]) -> None:
    """GET the timeline of the latest accepted message, again and again, counting the answers."""
    while not stop.is_set():
        if traffic.accepted:
            request = urllib.request.Request(
                f"{api_url}/api/v1/messages/{traffic.accepted[-1].id}", headers={"Authorization": f"Api-Key {api_key}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    answers[str(response.status)] += 1
            except urllib.error.HTTPError as error:
                answers[str(error.code)] += 1
            except OSError:
                answers["no answer"] += 1
        time.sleep(0.2)


def replicated(client: Elasticsearch) -> dict[str, str]:
    """index → number_of_replicas of the log indices, once there are some and the cluster is green."""
    pattern = f"{settings.LOG_INDEX_PREFIX}-*"
    indices = client.options(ignore_status=404).indices.get_settings(index=pattern).body
    if not indices or client.cluster.health(index=pattern).body["status"] != "green":
        return {}
    return {index: body["settings"]["index"]["number_of_replicas"] for index, body in indices.items()}


def test_an_elasticsearch_node_lost_while_logs_flow_loses_no_event(api_key: str, two_es_nodes: Layout):
    layout = two_es_nodes
    _, second = layout.es_node_layouts
    answers: Counter[str] = Counter()
    stop = threading.Event()
    with fault_system("es-node", elasticsearch=layout.es_url) as system:
        system.start_everything()
        traffic = Traffic(system.api_url, api_key, list(Channel), 300, 30).start()
        reader = threading.Thread(target=timelines, args=(system.api_url, api_key, traffic, stop, answers))
        reader.start()
        client = Elasticsearch(layout.es_url, request_timeout=30)
        # The kill comes once the log indices exist and every replica is placed (health green).
        replicas = wait_until(lambda: replicated(client), timeout=120, what="log indices with their replicas")
        os.kill(es_engine.node_pid(second) or 0, signal.SIGKILL)
        killed = time.time()
        traffic.join()
        verdict, logs = settle_and_judge("es-node-kill", traffic.accepted, fault_end=killed)
        stop.set()
        reader.join()
        verdict.notes.append(
            f"replicas before the kill {sorted(set(replicas.values()))}; timeline answers {dict(answers)}"
        )
    publish_verdict(verdict)

    assert replicas and set(replicas.values()) == {"1"}, replicas
    assert verdict.lost == 0 and verdict.duplicated == 0, verdict.line()
    assert (logs.missing, logs.duplicated, logs.traces_off) == (0, 0, 0), verdict.line()
    assert set(answers) == {"200"}, answers
