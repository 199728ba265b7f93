"""One bulk `create` request and what became of every item in it.

`create` with `_id = event.id` makes indexing idempotent: a replayed event answers 409, which
counts as done. Items ES is too busy for (429) or failed on (5xx) are retried after a backoff; an
item ES refuses for its content (400, e.g. a mapping conflict) is rewritten as an error document,
so it is kept in the errors index instead of blocking the stream.

The body is the actions' pre-serialised NDJSON lines, and `filter_path` has Elasticsearch answer only
each item's status (and error, if any): the items stay in request order, so they still pair up with
the actions, and neither side builds or parses the rest of a 2,000-item response.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from logging_service.documents import errors_index
from logging_service.records import IndexAction, error_action

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# Every item has a status, so none is filtered out of `items` and the order still matches the request.
RESPONSE_FILTER = "errors,items.*.status,items.*.error"


@dataclass
class BulkResult:
    created: int = 0
    already_present: int = 0
    # Refused for load (429, 5xx): the same actions, to send again after a backoff.
    throttled: list[IndexAction] = field(default_factory=list)
    # Refused for their content: error documents to index in their place.
    rewritten: list[IndexAction] = field(default_factory=list)


def _reason(item: dict[str, Any]) -> str:
    error = item.get("error") or {}
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}"[:2000]
    return str(error)[:2000]


def bulk_create(client: Elasticsearch, actions: Sequence[IndexAction]) -> BulkResult:
    """Send one bulk request; transport errors (ES down) propagate to the caller, who backs off."""
    body = b"".join(action.lines for action in actions)
    # The client forwards bytes as they are (NdjsonSerializer); its signature only names the dict form.
    response = client.bulk(operations=body, filter_path=RESPONSE_FILTER)  # type: ignore[arg-type]
    result = BulkResult()
    if not response.get("errors", True):
        result.created = len(actions)  # every item 200/201: nothing to look at one by one
        return result
    for action, wrapped in zip(actions, response["items"], strict=True):
        item = wrapped["create"]
        status = item.get("status", 0)
        if status in (200, 201):
            result.created += 1
        elif status == 409:
            result.already_present += 1
        elif status in RETRYABLE_STATUSES:
            result.throttled.append(action)
        elif action.index == errors_index():
            # An error document itself refused: there is nothing sturdier to fall back to.
            logger.error("error document %s refused by Elasticsearch: %s", action.doc_id, _reason(item))
        else:
            result.rewritten.append(error_action(action.original, action.position, _reason(item)))
    return result
