"""The process-wide elasticsearch-dsl connection, configured from settings on first use, and the options
every Elasticsearch client of the project is built with (`client_options`)."""

from __future__ import annotations

import contextlib
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from elasticsearch import Elasticsearch
from elasticsearch_dsl import connections

from config.search_hosts import elasticsearch_hosts

ALIAS = "default"
REQUEST_TIMEOUT_SECONDS = 30.0
# Tries after the first: a refused connection, a timeout or a 429/502/503/504 marks the node dead
# for a while and the request goes to the next node, so with two nodes one retry already reaches the
# other; the rest ride out a moment when both are busy (a node is coming back).
MAX_RETRIES = 3
# The longest a node that failed stays passed over (elastic-transport's default: 30 s). A node that
# answered 503 for a moment (shards moving) would otherwise sit out 30 s while the only other node
# dies, and every try would go to the dead one: seen as a timeline 503 when a node was killed.
MAX_DEAD_NODE_BACKOFF_SECONDS = 5.0


def client_options(**overrides: Any) -> dict[str, Any]:
    """The keyword arguments of `Elasticsearch(...)` for ELASTICSEARCH_URL's nodes, `overrides` on top.

    Sniffing stays off: it would replace the configured URLs with the addresses the nodes publish,
    which a proxy, a container network or TLS names need not make reachable from here."""
    return {
        "hosts": elasticsearch_hosts(settings.ELASTICSEARCH_URL),
        "request_timeout": REQUEST_TIMEOUT_SECONDS,
        "retry_on_timeout": True,
        "max_retries": MAX_RETRIES,
        "max_dead_node_backoff": MAX_DEAD_NODE_BACKOFF_SECONDS,
        "sniff_on_start": False,
        "sniff_on_node_failure": False,
        "sniff_before_requests": False,
        **overrides,
    }


def elasticsearch() -> Elasticsearch:
    try:
        client: Elasticsearch = connections.get_connection(ALIAS)
    except KeyError:
        client = connections.create_connection(alias=ALIAS, **client_options())
    return client


def _forget_client(*, setting: str, **kwargs: Any) -> None:
    """A test's override of ELASTICSEARCH_URL must not leave the process on the overriding nodes (which
    it may stop) once it ends: the next use builds the client again."""
    if setting == "ELASTICSEARCH_URL":
        with contextlib.suppress(KeyError):  # no client built yet
            connections.remove_connection(ALIAS)


setting_changed.connect(_forget_client)
