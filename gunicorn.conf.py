"""gunicorn's settings for the API, read from the working directory by every `gunicorn config.wsgi`
(Procfile, Dockerfile, compose); command-line flags still win.

Worker model for a small machine (2 cores, shared with Kafka, Elasticsearch and the workers): a request
waits for SQLite's single write lock (Kafka's ack is collected afterwards by the process's outbox
publisher thread, router.outbox_publisher). Sync workers hold a process per waiting request; with
threads, one process keeps many requests waiting at once, and their records share one producer and
its batches. Two processes still use both cores for the Python parts. Measured with `manage.py bench`
(README, Performance). Each worker creates its Kafka clients and the publisher thread on first use,
after the fork, and settles outstanding acks when it exits (router.kafka).
"""

import os
from pathlib import Path

import environ

environ.Env.read_env(Path(__file__).resolve().parent / ".env")  # as the settings do; the environment wins

workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))  # threads > 1 selects the gthread worker
