"""Liveness (`/healthz`: the process answers), readiness (`/readyz`: its dependencies answer) and the
Prometheus metrics of the API's processes (`/metrics`, messaging.metrics).

`/metrics` is on the API's public port, so with METRICS_TOKEN set it answers only
`Authorization: Bearer <token>` (Prometheus: `authorization` in the scrape_config), and production
settings (METRICS_TOKEN_REQUIRED) serve it to nobody, a 404, until a token is set."""

from __future__ import annotations

import hmac
import os

from django.conf import settings
from django.db import router as db_router
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from config.db_writes import write_transaction
from router.kafka import api_acks
from router.models import ReadinessProbe

KAFKA_CHECK_SECONDS = 2.0


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database_ok() -> bool:
    """The router database must accept writes (a full disk or a read-only file passes SELECT 1)."""
    try:
        # In turn with the API's other writers (config.db_writes): outside it, a probe under load
        # would rarely find SQLite's write lock free and could fail readiness for nothing.
        with write_transaction(db_router.db_for_write(ReadinessProbe)):
            ReadinessProbe.objects.update_or_create(pk=1, defaults={"checked_at": timezone.now()})
        return True
    except Exception:
        return False


def _kafka_ok() -> bool:
    """Asked through the producer requests use: it must reach a broker, and its delivery-report
    thread must run (without it no request would ever see its acknowledgement). The first probe also
    starts them before the first request needs them."""
    try:
        return api_acks().reachable(KAFKA_CHECK_SECONDS)
    except Exception:
        return False


def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_ok(), "kafka": _kafka_ok()}
    ready = all(checks.values())
    return JsonResponse({"status": "ready" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


def _metrics_refusal(request: HttpRequest) -> HttpResponse | None:
    """Why this request gets no metrics, as the answer to give; None when it may have them."""
    token: str = settings.METRICS_TOKEN
    if not token:
        return JsonResponse({"detail": "Not found."}, status=404) if settings.METRICS_TOKEN_REQUIRED else None
    authorization = request.headers.get("Authorization")
    if authorization is None:
        refused = JsonResponse({"detail": "Authentication credentials were not provided."}, status=401)
        refused["WWW-Authenticate"] = "Bearer"
        return refused
    scheme, _, credentials = authorization.partition(" ")
    # compare_digest: how long the comparison takes says nothing about the token.
    if scheme.lower() != "bearer" or not hmac.compare_digest(credentials.strip().encode(), token.encode()):
        return JsonResponse({"detail": "Invalid metrics token."}, status=403)
    return None


def metrics(request: HttpRequest) -> HttpResponse:
    """Every gunicorn worker's metrics together (the client's multiprocess mode, gunicorn.conf.py), or
    this process's alone when it runs without it (runserver, tests)."""
    refusal = _metrics_refusal(request)
    if refusal is not None:
        return refusal
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
