"""Reading what the indexer wrote, for tests."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from logging_service.connection import elasticsearch


def docs_for_trace(trace_id: str, index: str | None = None) -> list[dict[str, Any]]:
    client = elasticsearch()
    pattern = index or f"{settings.LOG_INDEX_PREFIX}-*"
    client.indices.refresh(index=pattern, ignore_unavailable=True, allow_no_indices=True)
    response = client.search(
        index=pattern,
        query={"term": {"trace.id": trace_id}},
        size=1000,
        sort=[{"@timestamp": {"order": "asc", "unmapped_type": "date"}}],
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    return [{"_id": hit["_id"], "_index": hit["_index"], **hit["_source"]} for hit in response["hits"]["hits"]]


def error_docs(index: str | None = None) -> list[dict[str, Any]]:
    client = elasticsearch()
    name = index or f"{settings.LOG_INDEX_PREFIX}-errors"
    client.indices.refresh(index=name, ignore_unavailable=True)
    response = client.search(index=name, size=1000, ignore_unavailable=True, allow_no_indices=True)
    return [hit["_source"] for hit in response["hits"]["hits"]]
