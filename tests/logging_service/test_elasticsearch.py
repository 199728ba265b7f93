"""A document indexed through elasticsearch-dsl is found by search on the real Elasticsearch."""

import uuid

from django.conf import settings
from elasticsearch_dsl import Document, Keyword, Text

from logging_service.connection import elasticsearch


class Probe(Document):
    trace_id = Keyword()
    message = Text()


def test_document_indexed_with_elasticsearch_dsl_is_found_by_search():
    elasticsearch()
    index = f"{settings.LOG_INDEX_PREFIX}.probe"
    trace_id = uuid.uuid4().hex
    Probe.init(index=index)
    Probe(trace_id=trace_id, message="delivered to ada").save(index=index, refresh=True)

    hits = Probe.search(index=index).filter("term", trace_id=trace_id).execute()

    assert [hit.message for hit in hits] == ["delivered to ada"]
    assert Probe.search(index=index).filter("term", trace_id=uuid.uuid4().hex).count() == 0
