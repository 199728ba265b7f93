"""What one bulk response makes of each item, against a fake client (the real one is in test_indexer)."""

from __future__ import annotations

from typing import Any

import orjson

from logging_service.bulk import RESPONSE_FILTER, bulk_create
from logging_service.records import BatchContext, IndexAction, prepare
from messaging.log_events import LogEvent
from messaging.record_position import RecordPosition


class FakeClient:
    def __init__(self, response: dict[str, Any]) -> None:
        self.response = response
        self.requests: list[tuple[bytes, str]] = []

    def bulk(self, *, operations: bytes, filter_path: str) -> dict[str, Any]:
        self.requests.append((operations, filter_path))
        return self.response


def actions(count: int) -> list[IndexAction]:
    context = BatchContext.now()
    events = [LogEvent(action="x", service="s", trace_id="d" * 32, message=f"m{n}").to_json() for n in range(count)]
    return [prepare(raw, RecordPosition("t.logs.router", 0, n), context) for n, raw in enumerate(events)]


def test_the_body_is_the_actions_lines_and_only_statuses_and_errors_are_asked_for():
    batch = actions(3)
    client = FakeClient({"errors": False, "items": [{"create": {"status": 201}}] * 3})

    result = bulk_create(client, batch)  # type: ignore[arg-type]

    body, filter_path = client.requests[0]
    assert body == b"".join(action.lines for action in batch)
    assert filter_path == RESPONSE_FILTER
    assert (result.created, result.already_present, result.throttled, result.rewritten) == (3, 0, [], [])


def test_conflicts_count_as_done_throttled_items_are_retried_and_refused_ones_become_error_documents():
    batch = actions(4)
    refused = {"type": "document_parsing_exception", "reason": "failed to parse field [labels.attempt]"}
    items = [{"status": 201}, {"status": 409, "error": {"type": "version_conflict"}}, {"status": 429}]
    items.append({"status": 400, "error": refused})
    client = FakeClient({"errors": True, "items": [{"create": item} for item in items]})

    result = bulk_create(client, batch)  # type: ignore[arg-type]

    assert (result.created, result.already_present) == (1, 1)
    assert result.throttled == [batch[2]]  # the same action, unchanged
    (error_document,) = result.rewritten
    assert error_document.index.endswith("-errors") and error_document.doc_id == "t.logs.router:0:3"
    source = orjson.loads(error_document.lines.split(b"\n")[1])
    assert source["event"]["original"] == batch[3].original.decode()  # the record as it arrived
    assert "document_parsing_exception" in source["error"]["message"]
