"""The log indexer: `logs.*` → Elasticsearch in bulk, a consumer definition (LOGS_CONSUMER) run by
messaging.consumption like every other.

    (runner) consume up to INDEXER_BATCH_SIZE events / INDEXER_BATCH_WAIT_MS → IndexEvents → commit

IndexEvents turns each record into its bulk lines (a malformed record into an error document), sends
them in bulk requests capped in events and bytes, and marks each item done once Elasticsearch has
it (created, or already there: `_id = event.id`, op_type create). Elasticsearch down, or busy (429,
5xx) → ElasticsearchUnavailable, which the runner's guard retries with backoff for as long as it
takes: nothing is skipped, and offsets move only past indexed events. A whole request refused as too
big or malformed (400/413) is split until the offending event is found; that one goes to the errors
index in its place.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from logging_service.bulk import bulk_create
from logging_service.connection import elasticsearch
from logging_service.documents import install_template
from logging_service.records import BatchContext, IndexAction, error_action, prepare
from messaging.consumption.definitions import ConsumerContext, ConsumerDefinition
from messaging.consumption.failures import FailureClassifier
from messaging.consumption.items import Item
from messaging.consumption.runner import BatchLimits
from messaging.consumption.settings import guard_policy
from messaging.consumption.steps import DeadLetterSink, Step
from messaging.metrics import INDEXED_EVENTS
from messaging.record_position import RecordPosition
from messaging.topics import log_topics_pattern

logger = logging.getLogger(__name__)

# A request Elasticsearch refuses as a whole for what it carries, not for its load.
REFUSED_REQUEST_STATUSES = frozenset({400, 413})


class ElasticsearchUnavailable(Exception):
    """Down, unreachable, or refusing for load: the same events will be accepted later."""


@dataclass
class IndexerStats:
    indexed: int = 0
    already_present: int = 0
    bulk_requests: int = 0


@dataclass(frozen=True)
class BulkLimits:
    max_events: int
    max_bytes: int


def _chunks(actions: Sequence[IndexAction], limits: BulkLimits) -> list[list[IndexAction]]:
    """Consecutive runs of at most max_events events and max_bytes bytes (a bigger event alone)."""
    chunks: list[list[IndexAction]] = []
    current: list[IndexAction] = []
    size = 0
    for action in actions:
        if current and (len(current) >= limits.max_events or size + len(action.lines) > limits.max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(action)
        size += len(action.lines)
    if current:
        chunks.append(current)
    return chunks


class IndexEvents(Step):
    name = "index"

    def __init__(self, *, client: Elasticsearch, limits: BulkLimits, stats: IndexerStats) -> None:
        self.client = client
        self.limits = limits
        self.stats = stats
        self._items: dict[RecordPosition, Item] = {}

    def run(self, items: list[Item]) -> None:
        context = BatchContext.now()
        self._items = {item.position: item for item in items}
        for item in items:
            if item.value is None:
                item.value = prepare(item.record.value(), item.position, context)
        for chunk in _chunks([item.value for item in items], self.limits):
            self._index(chunk)

    def _index(self, actions: list[IndexAction]) -> None:
        """Index `actions`, finishing each item once its event (or its error document) is in."""
        try:
            result = bulk_create(self.client, actions)
        except ApiError as error:
            if error.status_code not in REFUSED_REQUEST_STATUSES:
                raise ElasticsearchUnavailable(f"bulk request answered {error.status_code}") from error
            self._split(actions, error)
            return
        except (TransportError, ConnectionError) as error:
            raise ElasticsearchUnavailable(str(error)) from error
        self.stats.bulk_requests += 1
        self.stats.indexed += result.created
        self.stats.already_present += result.already_present
        INDEXED_EVENTS.labels(result="created").inc(result.created)
        INDEXED_EVENTS.labels(result="already_present").inc(result.already_present)
        unfinished = {action.position for action in result.throttled + result.rewritten}
        for action in actions:
            if action.position not in unfinished:
                self._items[action.position].finish()
        if result.rewritten:
            self._replace(result.rewritten)
        if result.throttled:
            # The guard backs off and runs the step again on the unfinished items only.
            raise ElasticsearchUnavailable(f"{len(result.throttled)} events refused for load (429/5xx)")

    def _split(self, actions: list[IndexAction], error: ApiError) -> None:
        if len(actions) > 1:
            half = len(actions) // 2
            logger.warning("bulk request of %d events refused (%s): splitting", len(actions), error.status_code)
            self._index(actions[:half])
            self._index(actions[half:])
            return
        (action,) = actions
        reason = f"Elasticsearch refused the event ({error.status_code}): {error.message}"[:2000]
        logger.error("event at %s refused alone: %s", action.position, reason)
        self._replace([error_action(action.original, action.position, reason)])

    def _replace(self, error_documents: list[IndexAction]) -> None:
        """Refused events are kept as error documents: a retry sends those, not the events."""
        for document in error_documents:
            self._items[document.position].value = document
        self._index(error_documents)


class ErrorDocuments(DeadLetterSink):
    """The indexer's dead letters: an error document per record, in the errors index."""

    def __init__(self, client: Elasticsearch) -> None:
        self.client = client

    def dead_letter(self, items: Sequence[tuple[Item, str, str]]) -> None:
        actions = [
            error_action(item.record.value(), item.position, f"{kind}: {reason}") for item, kind, reason in items
        ]
        try:
            result = bulk_create(self.client, actions)
        except (ApiError, TransportError, ConnectionError) as error:
            raise ElasticsearchUnavailable(str(error)) from error
        if result.throttled or result.rewritten:
            raise ElasticsearchUnavailable(f"{len(result.throttled + result.rewritten)} error documents not indexed")


def _install_template(context: ConsumerContext) -> None:
    try:
        install_template()
    except (ApiError, TransportError, ConnectionError) as error:
        raise ElasticsearchUnavailable(str(error)) from error


def _steps(context: ConsumerContext) -> list[Step]:
    limits = BulkLimits(max_events=settings.INDEXER_BATCH_SIZE, max_bytes=settings.INDEXER_MAX_BULK_BYTES)
    return [IndexEvents(client=elasticsearch(), limits=limits, stats=IndexerStats())]


# `consume logs` / `index_logs`: every `logs.*` topic, in INDEXER_GROUP_ID (no prefix: one indexer
# per cluster), limits from settings; the index template is installed first (waiting for Elasticsearch).
LOGS_CONSUMER = ConsumerDefinition(
    name="logs",
    description="index every logs.* topic into Elasticsearch",
    service="logging_service",
    group=lambda: settings.INDEXER_GROUP_ID,
    topics=lambda: [log_topics_pattern()],
    steps=_steps,
    dead_letters=lambda context: ErrorDocuments(elasticsearch()),
    batch=lambda context: BatchLimits(
        max_records=settings.INDEXER_BATCH_SIZE, max_wait_seconds=settings.INDEXER_BATCH_WAIT_MS / 1000
    ),
    classifier=FailureClassifier(infrastructure=(ElasticsearchUnavailable,)),
    guard=lambda: guard_policy(max_backoff_seconds=settings.INDEXER_MAX_BACKOFF_SECONDS),
    consumer_settings=lambda: {
        "max.poll.interval.ms": settings.INDEXER_MAX_POLL_INTERVAL_MS,
        "topic.metadata.refresh.interval.ms": settings.INDEXER_TOPIC_REFRESH_MS,
    },
    prepare=_install_template,
)
