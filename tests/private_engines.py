"""Engines of a test's own on free ports, for tests that stop them or need another configuration."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from engines import elasticsearch as es_engine
from engines import manager
from engines.layout import Layout, load_layout


@contextmanager
def started_private_elasticsearch(max_content_length: str | None = None) -> Iterator[Layout]:
    """An Elasticsearch node of the caller's own on free ports, stopped and removed with its data at
    the end, also when it did not start in time: its launcher then gives up waiting but leaves the
    node starting, which would run on, unowned, for the rest of the machine's day."""
    base = load_layout()
    chosen: list[Layout] = []

    def choose() -> Layout:
        runtime = base.es_runtime_dir.parent / f"es-private-{uuid.uuid4().hex[:8]}"
        chosen.append(base.with_own_elasticsearch(runtime, "384m", max_content_length=max_content_length))
        return chosen[-1]

    try:
        yield manager.start_private(es_engine, choose)
    finally:
        for layout in chosen:
            es_engine.stop(layout)
            shutil.rmtree(layout.es_runtime_dir, ignore_errors=True)
