"""Turn one `logs.*` Kafka record into one document to create: the event itself, or, when the
record is malformed, an error document for the errors index (the stream never stops on it).

Each action carries its two lines of the bulk body already serialised (orjson), so a bulk request is
these bytes joined: no per-event dict goes through the Elasticsearch client's stdlib-json serializer.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson
from django.conf import settings

from logging_service.documents import daily_index, errors_index
from messaging.lifecycle import Action
from messaging.record_position import RecordPosition

# The raw bytes kept in an error document; enough to diagnose, bounded so it always indexes.
ORIGINAL_LIMIT = 32_768
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def error_id(position: RecordPosition) -> str:
    """A malformed record's document id: its position, so a replay finds the same id."""
    return f"{position.topic}:{position.partition}:{position.offset}"


def kafka_field(position: RecordPosition) -> dict[str, Any]:
    return {"topic": position.topic, "partition": position.partition, "offset": position.offset}


@dataclass(frozen=True, slots=True)
class IndexAction:
    index: str
    doc_id: str
    position: RecordPosition
    # `{"create": …}\n{document}\n`, ready for the bulk body.
    lines: bytes
    # The record's value as it arrived: what an error document keeps if Elasticsearch refuses it.
    original: bytes | None


def _lines(index: str, doc_id: str, source: dict[str, Any]) -> bytes:
    return orjson.dumps({"create": {"_index": index, "_id": doc_id}}) + b"\n" + orjson.dumps(source) + b"\n"


@dataclass
class BatchContext:
    """What every record of one batch shares, looked up once per batch instead of once per event."""

    ingested: str
    index_prefix: str
    _daily: dict[date, str] = field(default_factory=dict, repr=False)

    @classmethod
    def now(cls) -> BatchContext:
        return cls(ingested=_now(), index_prefix=settings.LOG_INDEX_PREFIX)

    def daily_index(self, moment: datetime) -> str:
        day = moment.date()
        name = self._daily.get(day)
        if name is None:
            name = self._daily[day] = daily_index(moment, prefix=self.index_prefix)
        return name


class MalformedLogRecord(ValueError):
    pass


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _is_uuid(value: object) -> bool:
    # The form LogEvent writes, matched in a third of uuid.UUID's time; any other spelling uuid.UUID
    # accepts (upper case, braces, no dashes) still passes, the slow way.
    if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value):
        return True
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _parse(raw: bytes | None) -> tuple[dict[str, Any], datetime]:
    if not raw:
        raise MalformedLogRecord("empty record value")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise MalformedLogRecord(f"value is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise MalformedLogRecord("value is not a JSON object")
    event = document.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("action"), str):
        raise MalformedLogRecord("missing event.action")
    if not _is_uuid(event.get("id")):
        raise MalformedLogRecord("event.id is not a UUID")
    trace = document.get("trace")
    if not isinstance(trace, dict) or not isinstance(trace.get("id"), str):
        raise MalformedLogRecord("missing trace.id")
    try:
        moment = datetime.fromisoformat(str(document.get("@timestamp")).replace("Z", "+00:00"))
    except ValueError:
        raise MalformedLogRecord("@timestamp is not an ISO-8601 date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return document, moment.astimezone(UTC)


def error_action(raw: bytes | None, position: RecordPosition, reason: str) -> IndexAction:
    payload = raw or b""
    try:
        original = payload[:ORIGINAL_LIMIT].decode("utf-8")
    except UnicodeDecodeError:
        original = "base64:" + base64.b64encode(payload[: ORIGINAL_LIMIT * 3 // 4]).decode()
    source = {
        "@timestamp": _now(),
        "event": {"action": Action.LOG_REJECTED.value, "outcome": "failure", "original": original, "ingested": _now()},
        "log": {"level": "error"},
        "service": {"name": "logging_service"},
        "message": f"log record at {error_id(position)} could not be indexed",
        "error": {"type": "MalformedLogRecord", "message": reason},
        "kafka": kafka_field(position),
    }
    index = errors_index()
    return IndexAction(
        index=index,
        doc_id=error_id(position),
        position=position,
        lines=_lines(index, error_id(position), source),
        original=raw,
    )


def prepare(raw: bytes | None, position: RecordPosition, context: BatchContext) -> IndexAction:
    try:
        document, moment = _parse(raw)
    except MalformedLogRecord as error:
        return error_action(raw, position, str(error))
    document["event"]["ingested"] = context.ingested
    document["kafka"] = kafka_field(position)
    index = context.daily_index(moment)
    doc_id = str(document["event"]["id"])
    return IndexAction(
        index=index, doc_id=doc_id, position=position, lines=_lines(index, doc_id, document), original=raw
    )
