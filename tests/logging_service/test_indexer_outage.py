"""Elasticsearch stopped while events keep arriving: after it is back, every event is indexed once.

Runs against a private Elasticsearch node on other ports, so stopping it disturbs nothing else.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from elasticsearch import Elasticsearch

from engines import elasticsearch as es_engine
from messaging.log_events import LogEmitter
from messaging.topics import router_log_topic
from messaging.tracing import TraceContext
from tests.processes import manage_py, wait_for


def indexed_ids(client: Elasticsearch, trace_id: str) -> list[str]:
    pattern = f"{settings.LOG_INDEX_PREFIX}-*"
    try:
        client.indices.refresh(index=pattern, allow_no_indices=True)
        hits = client.search(index=pattern, query={"term": {"trace.id": trace_id}}, size=1000)["hits"]["hits"]
    except Exception:  # the node is down: nothing visible
        return []
    return [hit["_id"] for hit in hits]


def emit(emitter: LogEmitter, trace_id: str, count: int) -> list[str]:
    ids = [
        str(emitter.emit("message.accepted", trace_id=trace_id, message=f"event {n}", message_id=str(uuid.uuid4())).id)
        for n in range(count)
    ]
    assert emitter.flush() == 0
    return ids


def test_events_arriving_while_elasticsearch_is_down_are_indexed_once_after_it_returns(private_elasticsearch):
    layout = private_elasticsearch
    client = Elasticsearch(layout.es_url, request_timeout=10)
    trace_id = TraceContext.new().trace_id
    emitter = LogEmitter(service="router", topic=router_log_topic())
    env = {
        "ELASTICSEARCH_URL": layout.es_url,
        "INDEXER_GROUP_ID": f"outage-{uuid.uuid4().hex}",
        "INDEXER_BATCH_WAIT_MS": "100",
        "INDEXER_MAX_BACKOFF_SECONDS": "2",
    }
    with manage_py("indexer-outage", "index_logs", **env) as indexer:
        before = emit(emitter, trace_id, 20)
        wait_for(lambda: len(indexed_ids(client, trace_id)) == 20, timeout=40, what="events before the outage")

        es_engine.stop(layout)
        during = emit(emitter, trace_id, 30)
        wait_for(lambda: "ElasticsearchUnavailable" in indexer.output(), timeout=30, what="the indexer to notice")
        es_engine.start(layout)
        after = emit(emitter, trace_id, 10)

        expected = sorted(before + during + after)
        wait_for(lambda: len(indexed_ids(client, trace_id)) >= 60, timeout=60, what="every event after the outage")
        assert sorted(indexed_ids(client, trace_id)) == expected  # each exactly once, none missing
        assert indexer.stop() == 0
