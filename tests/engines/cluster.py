"""A private Kafka cluster for the tests that need several brokers: stopping or killing its brokers
disturbs nobody (the shared engines stay a single broker)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engines import kafka, manager
from engines.layout import Layout, load_layout

# The cluster tests start several brokers (minutes on a busy 2-core machine): on demand only, so CI
# stays short. `pytest -m cluster` runs them.
CLUSTER_ON_DEMAND = [
    pytest.mark.cluster,
    pytest.mark.skipif("'cluster' not in config.getoption('markexpr')", reason="on demand: pytest -m cluster"),
]


@contextmanager
def private_kafka_cluster(var_dir: Path, brokers: int = 3, heap: str = "256m") -> Iterator[Layout]:
    """`brokers` KRaft nodes on free ports with storage under `var_dir`, stopped at the end."""
    base = load_layout()
    layout = manager.start_private(kafka, lambda: base.with_own_kafka(var_dir, heap, brokers=brokers))
    try:
        yield layout
    finally:
        kafka.stop(layout)
