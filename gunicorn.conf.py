"""gunicorn's settings for the API, read from the working directory by every `gunicorn config.wsgi`
(Procfile, Dockerfile, compose); command-line flags still win.

Worker model for a small machine (2 cores, shared with Kafka, Elasticsearch and the workers): a request
waits for its row's group commit and its record's acknowledgement (router.accept.durability). Sync workers
would hold a process per waiting request; with threads, one process keeps many requests waiting at
once, and their rows and records share transactions and the producer's batches. Two processes still
use both cores for the Python parts. Measured with `manage.py bench` (docs/performance.md). Each worker
creates its Kafka clients and threads on first use, after the fork, and flushes them when it exits
(router.kafka).
"""

import os
import shutil
from pathlib import Path

import environ

# Prometheus (messaging.metrics): the workers write their metrics to files in one directory, which
# `/metrics` reads together; emptied when the server starts, a dead worker's gauges dropped.
_metrics_dir = Path(
    os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", str(Path(__file__).resolve().parent / "var" / "metrics" / f"api-{os.getpid()}")
    )
)
# Imported once the directory is set (prometheus-client picks its storage at import), and here in the
# master: imported inside child_exit, a SIGCHLD handler, the import can be interrupted by the next
# signal halfway through (a partially initialised module).
from prometheus_client import multiprocess  # noqa: E402

environ.Env.read_env(Path(__file__).resolve().parent / ".env")  # as the settings do; the environment wins


def _count(name: str, default: int) -> int:
    """A positive whole number from the environment; anything else stops the server naming the setting."""
    raw = os.environ.get(name) or str(default)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {raw!r}")
    return int(raw)


# One setting for the worker processes wherever the API starts (Procfile under bin/run, the image,
# compose): WEB_CONCURRENCY, the name gunicorn and most hosting platforms already use. Command lines
# leave --workers out, since a flag would win over this file.
if "GUNICORN_WORKERS" in os.environ:
    raise ValueError("GUNICORN_WORKERS is no longer read: set WEB_CONCURRENCY (the API's worker processes)")
workers = _count("WEB_CONCURRENCY", 2)
threads = _count("GUNICORN_THREADS", 8)
# gthread with a bounded queue (overload answered 503 + Retry-After at once) and request heads read
# without holding a thread (slow clients): config/gunicorn_worker.py. API_QUEUE_LIMIT (default 4 x
# threads) and API_HEADER_TIMEOUT_SECONDS (10) tune it.
worker_class = "config.gunicorn_worker.GuardedThreadWorker"


def on_starting(server: object) -> None:
    _metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in _metrics_dir.glob("*.db"):
        stale.unlink()


def child_exit(server: object, worker: object) -> None:
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    shutil.rmtree(_metrics_dir, ignore_errors=True)
