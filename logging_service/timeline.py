"""A message's timeline read back from Elasticsearch, and the status its events add up to (the
lifecycle's transitions, messaging.lifecycle, folded over them in order)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elastic_transport import ObjectApiResponse
from elasticsearch import ApiError, ConnectionError

from logging_service.connection import elasticsearch
from logging_service.documents import index_pattern
from messaging.lifecycle import MessageStatus, action_rank, status_of
from messaging.log_events import LoggedEvent

MAX_EVENTS = 1000
# A cluster that lost a node answers searches 503 for a few seconds, until its master has made the
# surviving copies primaries (docs/reliability.md, "An Elasticsearch node lost while logs flow"); the
# client's own retries come back within milliseconds, so a timeline asks again, after a pause, for
# this long before the API answers 503 with Retry-After.
SEARCH_PATIENCE_SECONDS = 8.0
SEARCH_PAUSE_SECONDS = 0.5


@dataclass(frozen=True)
class Timeline:
    status: MessageStatus
    attempts: int
    events: tuple[LoggedEvent, ...]


def _sort_key(event: LoggedEvent) -> tuple[datetime, int]:
    return event.timestamp, action_rank(event.action)


def build_timeline(events: Sequence[LoggedEvent]) -> Timeline:
    """The events oldest first (same-timestamp ones in lifecycle order), and the status they add up to:
    the router's events may be stamped after the channel's first ones, and never set it back."""
    ordered = tuple(sorted(events, key=_sort_key))
    attempts = max((e.attempt for e in ordered if e.attempt and e.action.startswith("delivery.")), default=0)
    status = status_of((event.action, event.reported_status) for event in ordered)
    return Timeline(status=status, attempts=attempts, events=ordered)


def _search(query: dict[str, Any]) -> ObjectApiResponse[Any]:
    """The search, asked again after a pause while SEARCH_PATIENCE_SECONDS last when Elasticsearch
    answers 503, or, with several nodes, when none could be reached (the client's tries can all land on
    a node just killed while the other sits out a backoff; logging_service.connection); then its error.
    With one node, an unreachable one answers at once: there is nothing to wait for."""
    deadline = time.monotonic() + SEARCH_PATIENCE_SECONDS
    while True:
        client = elasticsearch()
        try:
            return client.search(
                index=index_pattern(),
                query=query,
                sort=[{"@timestamp": {"order": "asc", "unmapped_type": "date"}}],
                size=MAX_EVENTS,
                ignore_unavailable=True,
                allow_no_indices=True,
            )
        except ApiError as error:
            if error.meta.status != 503 or time.monotonic() + SEARCH_PAUSE_SECONDS > deadline:
                raise
        except ConnectionError:
            if len(client.transport.node_pool) < 2 or time.monotonic() + SEARCH_PAUSE_SECONDS > deadline:
                raise
        time.sleep(SEARCH_PAUSE_SECONDS)


def message_timeline(*, trace_id: str, message_id: str) -> Timeline:
    """Every indexed event of this message (its trace id and message id), oldest first. Raises the
    client's TransportError or ApiError when Elasticsearch cannot answer (the API's 503)."""
    response = _search(
        {"bool": {"filter": [{"term": {"trace.id": trace_id}}, {"term": {"labels.message_id": message_id}}]}}
    )
    return build_timeline([LoggedEvent.from_ecs(hit["_source"]) for hit in response["hits"]["hits"]])
