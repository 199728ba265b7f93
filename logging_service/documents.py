"""The ECS log event as an elasticsearch-dsl Document, and the index template that maps it.

Daily indices `<prefix>-YYYY.MM.DD` and the errors index `<prefix>-errors` share one composable
template (`<prefix>-*`), so Kibana's data view on `<prefix>-*` sees both with the same fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from elasticsearch_dsl import (
    Date,
    Document,
    Integer,
    Keyword,
    Long,
    MetaField,
    Object,
    Text,
)

from logging_service.connection import elasticsearch

# Longer keyword values stay in _source but are not indexed: one huge value cannot reject a document.
KEYWORD_LIMIT = 1024


def _keyword() -> Keyword:
    return Keyword(ignore_above=KEYWORD_LIMIT)


def _text_and_keyword() -> Text:
    return Text(fields={"keyword": Keyword(ignore_above=KEYWORD_LIMIT)})


class LogEventDocument(Document):
    event = Object(
        properties={
            "id": _keyword(),
            "action": _keyword(),
            "outcome": _keyword(),
            "duration": Long(),
            "ingested": Date(),
            # The raw bytes of a record that could not be indexed (errors index only); never searched.
            "original": Keyword(index=False, doc_values=False),
        }
    )
    log = Object(properties={"level": _keyword()})
    service = Object(properties={"name": _keyword()})
    trace = Object(properties={"id": _keyword()})
    message = _text_and_keyword()
    labels = Object(
        dynamic=True,
        # delivery_status: the record's status a receipt or a skipped duplicate reports; provider: which
        # of a channel's providers took a sent message.
        properties={
            "message_id": _keyword(),
            "channel": _keyword(),
            "attempt": Integer(),
            "delivery_status": _keyword(),
            "provider": _keyword(),
        },
    )
    error = Object(properties={"type": _keyword(), "message": _text_and_keyword()})
    kafka = Object(properties={"topic": _keyword(), "partition": Integer(), "offset": Long()})

    class Meta:
        dynamic = MetaField(True)
        # Labels a service adds later are keywords, not analysed text.
        dynamic_templates = MetaField(
            [
                {
                    "strings_as_keywords": {
                        "match_mapping_type": "string",
                        "mapping": {"type": "keyword", "ignore_above": KEYWORD_LIMIT},
                    }
                }
            ]
        )


# "@timestamp" is not a Python identifier, so it joins the mapping by name.
LogEventDocument._doc_type.mapping.field("@timestamp", Date())


def index_pattern() -> str:
    return f"{settings.LOG_INDEX_PREFIX}-*"


def daily_index(moment: datetime, *, prefix: str | None = None) -> str:
    return f"{prefix or settings.LOG_INDEX_PREFIX}-{moment:%Y.%m.%d}"


def errors_index() -> str:
    return f"{settings.LOG_INDEX_PREFIX}-errors"


def template_name() -> str:
    return settings.LOG_INDEX_PREFIX


def template_body() -> dict[str, Any]:
    """The composable index template: explicit mappings, one shard, and one replica as soon as the
    cluster has a second data node (`auto_expand_replicas` 0-1): a lost node then loses no event, and a
    single node stays green (a replica it could never place would keep it yellow)."""
    mapping = LogEventDocument._doc_type.mapping.to_dict()
    return {
        "index_patterns": [index_pattern()],
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1", "refresh_interval": "1s"},
            "mappings": mapping,
        },
        "_meta": {"description": "Communication Aggregator log events (ECS)"},
    }


def install_template() -> None:
    """Create or update the template; idempotent, called by the indexer on start."""
    elasticsearch().indices.put_index_template(name=template_name(), **template_body())
