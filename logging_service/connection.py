"""The process-wide elasticsearch-dsl connection, configured from settings on first use."""

from __future__ import annotations

from django.conf import settings
from elasticsearch import Elasticsearch
from elasticsearch_dsl import connections


def elasticsearch() -> Elasticsearch:
    try:
        client: Elasticsearch = connections.get_connection("default")
    except KeyError:
        client = connections.create_connection(
            alias="default", hosts=[settings.ELASTICSEARCH_URL], request_timeout=30, retry_on_timeout=True
        )
    return client
