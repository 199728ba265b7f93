"""A record's two pre-serialised bulk lines: the event with what the indexer adds, or an error document."""

from __future__ import annotations

import uuid

import orjson
from django.conf import settings

from logging_service.records import BatchContext, prepare
from messaging.log_events import LogEvent, Outcome
from messaging.record_position import RecordPosition

POSITION = RecordPosition("t.logs.router", 2, 41)


def lines(raw: bytes | None) -> tuple[dict, dict]:
    action = prepare(raw, POSITION, BatchContext.now())
    meta, source, rest = action.lines.split(b"\n")
    assert rest == b""  # NDJSON: each line ends with a newline, the body is these lines joined
    return orjson.loads(meta), orjson.loads(source)


def test_an_event_is_created_under_its_id_in_its_daily_index_with_ingest_time_and_kafka_position():
    event = LogEvent(
        action="message.accepted", service="router", trace_id="a" * 32, message="ok", outcome=Outcome.SUCCESS
    )

    meta, source = lines(event.to_json())

    expected_index = f"{settings.LOG_INDEX_PREFIX}-{event.timestamp:%Y.%m.%d}"
    assert meta == {"create": {"_index": expected_index, "_id": str(event.id)}}
    assert source["event"]["ingested"]
    expected = event.to_ecs()  # the event unchanged, plus what the indexer adds
    expected["event"]["ingested"] = source["event"]["ingested"]
    expected["kafka"] = {"topic": "t.logs.router", "partition": 2, "offset": 41}
    assert source == expected


def test_a_malformed_record_becomes_an_error_document_under_its_position():
    action = prepare(b"not json", POSITION, BatchContext.now())
    meta, source = lines(b"not json")

    assert action.original == b"not json"
    assert meta == {"create": {"_index": f"{settings.LOG_INDEX_PREFIX}-errors", "_id": "t.logs.router:2:41"}}
    assert source["event"]["original"] == "not json"
    assert "not JSON" in source["error"]["message"]


def test_an_event_id_in_another_uuid_spelling_is_still_an_event():
    document = LogEvent(action="x", service="s", trace_id="b" * 32, message="m").to_ecs()
    document["event"]["id"] = "{" + document["event"]["id"].upper() + "}"

    meta, _ = lines(orjson.dumps(document))

    assert meta["create"]["_id"] == document["event"]["id"]


def test_an_event_id_that_is_not_a_uuid_is_malformed():
    document = LogEvent(action="x", service="s", trace_id="b" * 32, message="m").to_ecs()
    document["event"]["id"] = "42"

    meta, source = lines(orjson.dumps(document))

    assert meta["create"]["_index"].endswith("-errors")
    assert source["error"]["message"] == "event.id is not a UUID"


def test_events_of_different_days_in_one_batch_go_to_their_own_daily_index():
    context = BatchContext.now()
    first = LogEvent(action="x", service="s", trace_id="c" * 32, message="m").to_ecs()
    second = {**first, "@timestamp": "2026-01-02T23:59:59.999Z", "event": {**first["event"], "id": str(uuid.uuid4())}}

    indices = [prepare(orjson.dumps(doc), POSITION, context).index for doc in (first, second)]

    assert indices[1] == f"{settings.LOG_INDEX_PREFIX}-2026.01.02"
    assert indices[0] != indices[1]
