"""A message's timeline read back from Elasticsearch, and the status its events add up to (the
lifecycle's transitions, messaging.lifecycle, folded over them in order)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from logging_service.connection import elasticsearch
from logging_service.documents import index_pattern
from messaging.lifecycle import MessageStatus, action_rank, status_of
from messaging.log_events import LoggedEvent

MAX_EVENTS = 1000


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


def message_timeline(*, trace_id: str, message_id: str) -> Timeline:
    """Every indexed event of this message (its trace id and message id), oldest first."""
    response = elasticsearch().search(
        index=index_pattern(),
        query={"bool": {"filter": [{"term": {"trace.id": trace_id}}, {"term": {"labels.message_id": message_id}}]}},
        sort=[{"@timestamp": {"order": "asc", "unmapped_type": "date"}}],
        size=MAX_EVENTS,
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    return build_timeline([LoggedEvent.from_ecs(hit["_source"]) for hit in response["hits"]["hits"]])
