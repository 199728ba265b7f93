"""CPU per API request, measured in-process: `python -m bench.api_cpu [--requests N] [--profile]`.

Calls the WSGI application directly (what gunicorn calls), so the figure is the API's own work
without HTTP parsing or a load generator competing for the cores. Runs on throw-away SQLite files
and a topic prefix of its own on the running Kafka (deleted afterwards); DEBUG off as in production.
Reports process CPU (every thread, librdkafka's included) and the request thread's CPU per request.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

WARM_UP_REQUESTS = 200
WARM_UP_MESSAGES = 5000  # a batch run warms up on this many messages, not 200 batches


def _configure(folder: Path) -> None:
    for variable in ("ROUTER", "EMAIL", "SMS", "WHATSAPP"):
        os.environ[f"{variable}_DATABASE_URL"] = f"sqlite:///{folder / variable.lower()}.sqlite3"
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DJANGO_DEBUG": "false",
            "KAFKA_TOPIC_PREFIX": f"cpu{uuid.uuid4().hex[:8]}.",
            # Never throttled, but the throttle still runs on every request, as in production.
            "ROUTER_THROTTLE_RATE": "1000000/min",
            "LOG_LEVEL": "WARNING",
        }
    )


def _environ(path: str, body: bytes, api_key: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Api-Key {api_key}",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def _post_loop(application: Callable[..., Any], path: str, bodies: list[bytes], api_key: str) -> None:
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        statuses.append(status)

    for body in bodies:
        result = application(_environ(path, body, api_key), start_response)
        b"".join(result)
        getattr(result, "close", lambda: None)()
        if not statuses[-1].startswith("202"):
            raise SystemExit(f"unexpected {statuses[-1]}: {b''.join(result)!r}")


def _batch(sms: dict[str, Any], options: argparse.Namespace) -> list[dict[str, Any]]:
    """The batch's items: one message repeated, or (`--distinct`) to as many valid numbers."""
    if not options.distinct:
        return [sms] * options.batch
    return [{**sms, "to": f"+1415555{index % 10_000:04d}"} for index in range(options.batch)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=0, help="POST batches of this many messages instead")
    parser.add_argument(
        "--distinct", action="store_true", help="each message of a batch to its own number (no cache helps)"
    )
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile of the loop")
    parser.add_argument("--cprofile", action="store_true", help="print cProfile's top functions instead")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="comms-api-cpu-") as folder:
        _configure(Path(folder))
        import django

        django.setup()
        import orjson
        from django.core.management import call_command
        from rest_framework_api_key.models import APIKey

        from config.wsgi import application
        from messaging.clients import build_admin
        from messaging.topic_admin import ensure_topics
        from messaging.topics import all_topics
        from router.models import Message, OutboxEntry

        call_command("migrate", database="default", verbosity=0)
        admin = build_admin()
        ensure_topics(admin, all_topics())
        _, api_key = APIKey.objects.create_key(name="api-cpu")
        sms = {"channel": "sms", "to": "+14155552671", "body": "Your code is 482913", "metadata": {"order": "1"}}
        warm_up = WARM_UP_REQUESTS
        if options.batch:
            path, body = "/api/v1/messages/batch", orjson.dumps({"messages": _batch(sms, options)})
            warm_up = max(1, WARM_UP_MESSAGES // options.batch)
        else:
            path, body = "/api/v1/messages", orjson.dumps(sms)
        try:
            _post_loop(application, path, [body] * warm_up, api_key)
            profiler: Any = None
            if options.profile:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0005)
                profiler.start()
            elif options.cprofile:
                import cProfile

                # CPU time, not wall time: on a shared machine a wall-clock profile is mostly preemption.
                profiler = cProfile.Profile(time.thread_time)
                profiler.enable()
            wall, cpu, thread = time.perf_counter(), time.process_time(), time.thread_time()
            _post_loop(application, path, [body] * options.requests, api_key)
            wall, cpu, thread = (
                time.perf_counter() - wall,
                time.process_time() - cpu,
                time.thread_time() - thread,
            )
            if options.profile:
                profiler.stop()
                print(profiler.output_text(unicode=True, color=False, show_all=False))
            elif options.cprofile:
                import pstats

                profiler.disable()
                pstats.Stats(profiler).sort_stats(os.environ.get("CPROFILE_SORT", "cumulative")).print_stats(90)
            n = options.requests
            print(
                f"{path}: {n} requests; CPU ms per request: process {cpu / n * 1000:.2f}, "
                f"request thread {thread / n * 1000:.2f}; wall ms per request {wall / n * 1000:.2f}"
            )
            expected = (warm_up + n) * max(options.batch, 1)
            accepted, outbox = Message.objects.count(), OutboxEntry.objects.count()
            print(f"accepted {accepted} of {expected} messages; {outbox} left to the outbox relay")
        finally:
            prefix = os.environ["KAFKA_TOPIC_PREFIX"]
            ours = [name for name in admin.list_topics(timeout=10).topics if name.startswith(prefix)]
            if ours:
                for future in admin.delete_topics(ours, operation_timeout=30).values():
                    future.exception()


if __name__ == "__main__":
    main()
