"""The machine and settings a run measured, printed beside its figures (they mean little without)."""

from __future__ import annotations

import os
import platform
import runpy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings

from bench.engines import BenchEngines
from bench.system import BENCH_THROTTLE_RATE, procfile_commands


def _gunicorn_conf() -> dict[str, Any]:
    """What gunicorn.conf.py (read by every `gunicorn config.wsgi`) sets; the command line may override."""
    path = Path(settings.BASE_DIR) / "gunicorn.conf.py"
    if not path.exists():
        return {}
    values = runpy.run_path(str(path))
    return {name: values[name] for name in ("workers", "threads", "worker_class") if name in values}


def machine_facts(engines: BenchEngines) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        # Other work on the machine during the run: the figures are only comparable as ratios.
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "kafka_version": engines.kafka_version,
        "elasticsearch_version": engines.es_version,
        "engines": "isolated (own ports)" if engines.isolated else "reused (unique topic/index prefix)",
        "settings": {
            "api_command": procfile_commands()["api"],
            "gunicorn_conf": _gunicorn_conf(),
            "kafka_topic_partitions": settings.KAFKA_TOPIC_PARTITIONS,
            "max_in_flight": dict(settings.DELIVERY_MAX_IN_FLIGHT),
            "indexer_batch_size": settings.INDEXER_BATCH_SIZE,
            "indexer_batch_wait_ms": settings.INDEXER_BATCH_WAIT_MS,
            "router_publish_timeout_seconds": settings.ROUTER_PUBLISH_TIMEOUT_SECONDS,
            "router_throttle_rate": BENCH_THROTTLE_RATE,
            "database": "SQLite (WAL; synchronous=FULL for the router, NORMAL for the channels), one file per service",
        },
    }
