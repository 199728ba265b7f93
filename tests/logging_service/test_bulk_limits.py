"""Bulk requests against an Elasticsearch that refuses large bodies (http.max_content_length 64kb, a
private node): a request refused as a whole (413) is split until the offending event is alone; that
event goes to the errors index and every other one is indexed once. The byte cap keeps requests under
the limit in the first place."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.conf import settings
from elasticsearch import Elasticsearch

from engines.layout import Layout
from messaging.clients import build_admin
from messaging.log_events import LogEmitter
from messaging.topic_admin import ensure_topics
from messaging.tracing import TraceContext
from tests.private_engines import started_private_elasticsearch
from tests.processes import manage_py, wait_for


def count(client: Elasticsearch, index: str, **query: object) -> int:
    client.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
    return int(client.count(index=index, query=query or None, ignore_unavailable=True, allow_no_indices=True)["count"])


@pytest.fixture(scope="module")
def small_elasticsearch() -> Iterator[Layout]:
    """One private node for both cases (each has its own topic and indices): starting a node costs
    30-60 s on a busy machine."""
    with started_private_elasticsearch("64kb") as layout:
        yield layout


@pytest.mark.parametrize("bulk_bytes", [str(10 * 1024 * 1024), str(32 * 1024)], ids=["split-on-413", "byte-cap"])
def test_a_refused_request_is_split_and_the_event_too_large_alone_goes_to_the_errors_index(
    small_elasticsearch, bulk_bytes
):
    # Topics and indices of this test alone, so the indexer reads only these events.
    prefix = f"{settings.KAFKA_TOPIC_PREFIX}big{uuid.uuid4().hex[:6]}."
    log_topic = f"{prefix}logs.router"
    index_prefix = f"{settings.LOG_INDEX_PREFIX}-big{uuid.uuid4().hex[:6]}"
    ensure_topics(build_admin(), [log_topic], partitions=1)
    emitter = LogEmitter(service="router", topic=log_topic)
    trace_id = TraceContext.new().trace_id

    def emit(count: int, text: str = "an ordinary event") -> None:
        for _ in range(count):
            emitter.emit("message.accepted", trace_id=trace_id, message=text, message_id=str(uuid.uuid4()))

    emit(150)  # ~100 kB of events: more than one request may carry
    emit(1, "x" * 100_000)  # more than any request may carry
    emit(50)
    assert emitter.flush() == 0

    client = Elasticsearch(small_elasticsearch.es_url, request_timeout=30)
    env = {
        # base settings: the test settings would force this run's prefixes back on the indexer
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "KAFKA_TOPIC_PREFIX": prefix,
        "LOG_INDEX_PREFIX": index_prefix,
        "ELASTICSEARCH_URL": small_elasticsearch.es_url,
        "INDEXER_GROUP_ID": f"big-{uuid.uuid4().hex}",
        "INDEXER_BATCH_WAIT_MS": "200",
        "INDEXER_MAX_BULK_BYTES": bulk_bytes,
    }
    with manage_py("indexer-bulk-limits", "index_logs", **env) as indexer:
        wait_for(
            lambda: (
                count(client, f"{index_prefix}-2*", term={"trace.id": trace_id}) == 200
                and count(client, f"{index_prefix}-errors") == 1
            ),
            timeout=90,
            what="200 events indexed and 1 error document",
        )
        assert indexer.stop() == 0
    output = indexer.output()
    (error,) = client.search(index=f"{index_prefix}-errors")["hits"]["hits"]
    assert "413" in error["_source"]["error"]["message"]
    assert error["_id"] == f"{log_topic}:0:150"  # the record's position: a replay finds the same id
    if bulk_bytes == str(32 * 1024):
        assert "splitting" not in output  # the cap kept every request under the limit
    else:
        assert "splitting" in output
