"""Kafka and Elasticsearch for one benchmark run: engines of its own on free ports (the default, so a
benchmark never competes with or pollutes anyone's engines), or the running ones under unique prefixes.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from engines import elasticsearch, kafka
from engines.fetch import fetch_all
from engines.layout import Layout, load_layout, running_as_root


@dataclass(frozen=True)
class BenchEngines:
    kafka_bootstrap: str
    es_url: str
    kafka_version: str
    es_version: str
    topic_prefix: str  # every topic of this run starts with it
    index_prefix: str  # every log index of this run starts with it
    reindex_prefix: str  # the indexing phase's own indices: a pattern that must not overlap index_prefix-*
    isolated: bool
    pids: dict[str, int]  # engine name → process id, where known (for the CPU accounting)


def _pids(layout: Layout) -> dict[str, int]:
    found = {engine.NAME: engine.pid(layout) for engine in (kafka, elasticsearch)}
    return {name: pid for name, pid in found.items() if pid is not None}


def _say(text: str) -> None:
    print(f"[bench] {text}", flush=True)


@contextmanager
def bench_engines(home: Path, *, reuse: bool) -> Iterator[BenchEngines]:
    run_id = uuid.uuid4().hex[:8]
    layout = load_layout()
    if reuse:
        yield BenchEngines(
            kafka_bootstrap=settings.KAFKA_BOOTSTRAP_SERVERS,
            es_url=settings.ELASTICSEARCH_URL,
            kafka_version=layout.kafka_version,
            es_version=layout.es_version,
            topic_prefix=f"bench{run_id}.",
            index_prefix=f"bench{run_id}-comms-logs",
            reindex_prefix=f"bench{run_id}-reindex-comms-logs",
            isolated=False,
            pids=_pids(layout),
        )
        return
    if running_as_root():  # Elasticsearch's user must reach its directory: not under a private temp dir
        es_dir = layout.es_runtime_dir.parent / f"bench-{run_id}-{os.getpid()}"
    else:
        es_dir = home / "elasticsearch"
    own = layout.with_own_kafka(home / "engines").with_own_elasticsearch(es_dir)
    fetch_all(own)
    started = []
    try:
        for engine in (kafka, elasticsearch):
            _say(f"starting {engine.NAME} of its own ({engine.log_file(own)}) ...")
            engine.start(own)
            started.append(engine)
        yield BenchEngines(
            kafka_bootstrap=own.kafka_bootstrap,
            es_url=own.es_url,
            kafka_version=own.kafka_version,
            es_version=own.es_version,
            topic_prefix="",
            index_prefix="comms-logs",
            reindex_prefix="reindex-comms-logs",
            isolated=True,
            pids=_pids(own),
        )
    finally:
        for engine in reversed(started):
            engine.stop(own)
        shutil.rmtree(es_dir, ignore_errors=True)
